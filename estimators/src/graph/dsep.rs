//! d-separation, and the open path that explains a d-connection.
//!
//! The test is the linear-time reachability algorithm ("Bayes ball"; Koller &
//! Friedman, *Probabilistic Graphical Models*, Algorithm 3.1; Shachter 1998): a
//! breadth-first search over (node, direction of arrival) pairs, where a node passes
//! the ball on according to whether it is conditioned on and whether it is an
//! ancestor of something conditioned on. Enumerating paths instead would be
//! exponential; identification calls this test thousands of times.
//!
//! The same search, keeping the state it came from, yields an open path to show a
//! person why two variables are connected. Breadth-first order matters here: a
//! shortest active trail never visits a node twice (a revisit could always be cut
//! short), so the trail it returns is a simple path, as the definition of
//! d-connection requires.

use std::collections::VecDeque;
use std::fmt;

use super::CausalGraph;
use crate::error::{Error, Result};

/// The direction of one edge along a path, read from left to right.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathStep {
    /// `a -> b`: the edge points along the path.
    Forward,
    /// `a <- b`: the edge points back against the path.
    Backward,
}

/// A path between two nodes that is open (d-connecting) given some set.
///
/// `nodes` has one more element than `steps`; `steps[i]` is the edge between
/// `nodes[i]` and `nodes[i + 1]`. Displays as `treat <- U -> re78`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenPath {
    /// The nodes from the first endpoint to the second.
    pub nodes: Vec<String>,
    /// The direction of each edge along the path.
    pub steps: Vec<PathStep>,
}

impl fmt::Display for OpenPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, node) in self.nodes.iter().enumerate() {
            if i > 0 {
                match self.steps.get(i - 1) {
                    Some(PathStep::Forward) => f.write_str(" -> ")?,
                    _ => f.write_str(" <- ")?,
                }
            }
            f.write_str(node)?;
        }
        Ok(())
    }
}

impl OpenPath {
    /// The inner nodes (not the endpoints) where both edges point into the node.
    pub fn colliders(&self) -> Vec<&str> {
        (1..self.nodes.len().saturating_sub(1))
            .filter(|&i| {
                self.steps[i - 1] == PathStep::Forward && self.steps[i] == PathStep::Backward
            })
            .map(|i| self.nodes[i].as_str())
            .collect()
    }
}

/// Arrived at a node from one of its children (or started there): the ball moves
/// against the arrows.
const UP: usize = 0;
/// Arrived at a node from one of its parents: the ball moves along the arrows.
const DOWN: usize = 1;

impl CausalGraph {
    /// Whether every node of `x` is d-separated from every node of `y` given `given`.
    ///
    /// # Errors
    /// [`Error::UnknownVariable`] for a name that is not a node; [`Error::InvalidInput`]
    /// when the three sets are not disjoint.
    pub fn d_separated(&self, x: &[&str], y: &[&str], given: &[&str]) -> Result<bool> {
        let (x, y, given) = self.resolve_disjoint(x, y, given)?;
        Ok(self.d_separated_indices(&x, &y, &given))
    }

    /// An open path between `x` and `y` given `given`, or `None` when they are
    /// d-separated. Among open paths, one with the fewest edges.
    ///
    /// # Errors
    /// As [`CausalGraph::d_separated`].
    pub fn open_path(&self, x: &str, y: &str, given: &[&str]) -> Result<Option<OpenPath>> {
        let (x, y, given) = self.resolve_disjoint(&[x], &[y], given)?;
        Ok(self.open_path_indices(x[0], y[0], &given))
    }

    fn resolve_disjoint(
        &self,
        x: &[&str],
        y: &[&str],
        given: &[&str],
    ) -> Result<(Vec<usize>, Vec<usize>, Vec<usize>)> {
        let resolve = |names: &[&str]| -> Result<Vec<usize>> {
            names.iter().map(|n| self.require(n)).collect()
        };
        let (xi, yi, zi) = (resolve(x)?, resolve(y)?, resolve(given)?);
        let overlap = xi
            .iter()
            .find(|i| yi.contains(i) || zi.contains(i))
            .or_else(|| yi.iter().find(|i| zi.contains(i)));
        if let Some(&i) = overlap {
            return Err(Error::invalid_input(format!(
                "`{}` appears in more than one of the sets compared for d-separation",
                self.name(i)
            )));
        }
        Ok((xi, yi, zi))
    }

    /// d-separation by index; the sets are assumed disjoint.
    pub(crate) fn d_separated_indices(&self, x: &[usize], y: &[usize], given: &[usize]) -> bool {
        let (reached, _) = self.bayes_ball(x, given, None);
        !y.iter().any(|&i| reached[i])
    }

    /// The shortest open path from `x` to `y` given `given`, by index.
    pub(crate) fn open_path_indices(
        &self,
        x: usize,
        y: usize,
        given: &[usize],
    ) -> Option<OpenPath> {
        let (reached, came_from) = self.bayes_ball(&[x], given, Some(y));
        if !reached[y] {
            return None;
        }
        let mut state = (0..2)
            .map(|d| y * 2 + d)
            .find(|&s| came_from[s].is_some())?;
        let mut nodes = vec![y];
        let mut steps = Vec::new();
        while let Some(Some(previous)) = came_from.get(state).copied() {
            if previous == state {
                break;
            }
            steps.push(if state % 2 == DOWN {
                PathStep::Forward
            } else {
                PathStep::Backward
            });
            nodes.push(previous / 2);
            state = previous;
        }
        nodes.reverse();
        steps.reverse();
        Some(OpenPath {
            nodes: nodes
                .into_iter()
                .map(|i| self.name(i).to_string())
                .collect(),
            steps,
        })
    }

    /// Breadth-first reachability over (node, direction) states. Returns which nodes
    /// are reached by an active trail from `sources` (conditioned nodes never count as
    /// reached) and, per state, the state it was first reached from (a start state
    /// points to itself). Stops early once `target` is reached.
    fn bayes_ball(
        &self,
        sources: &[usize],
        given: &[usize],
        target: Option<usize>,
    ) -> (Vec<bool>, Vec<Option<usize>>) {
        let n = self.len();
        let mut conditioned = vec![false; n];
        for &g in given {
            conditioned[g] = true;
        }
        // A collider passes the ball exactly when it or a descendant is conditioned on.
        let opens_collider = self.ancestor_set(given);
        let mut reached = vec![false; n];
        let mut came_from: Vec<Option<usize>> = vec![None; 2 * n];
        let mut queue = VecDeque::new();
        for &s in sources {
            let state = s * 2 + UP;
            if came_from[state].is_none() {
                came_from[state] = Some(state);
                queue.push_back(state);
            }
        }
        while let Some(state) = queue.pop_front() {
            let (v, direction) = (state / 2, state % 2);
            if !conditioned[v] {
                reached[v] = true;
                if Some(v) == target {
                    break;
                }
            }
            let mut visit = |next: usize, next_direction: usize| {
                let next_state = next * 2 + next_direction;
                if came_from[next_state].is_none() {
                    came_from[next_state] = Some(state);
                    queue.push_back(next_state);
                }
            };
            if !conditioned[v] {
                // A non-collider that is not conditioned on lets the ball through
                // onward to children; arriving from a child it may also turn upward.
                for &c in self.children_of(v) {
                    visit(c, DOWN);
                }
                if direction == UP {
                    for &p in self.parents_of(v) {
                        visit(p, UP);
                    }
                }
            }
            if direction == DOWN && opens_collider[v] {
                for &p in self.parents_of(v) {
                    visit(p, UP);
                }
            }
        }
        (reached, came_from)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn graph(list: &str) -> CausalGraph {
        CausalGraph::parse_edge_list(list).unwrap()
    }

    #[test]
    fn textbook_cases() {
        let chain = graph("a -> b -> c");
        assert!(!chain.d_separated(&["a"], &["c"], &[]).unwrap());
        assert!(chain.d_separated(&["a"], &["c"], &["b"]).unwrap());

        let fork = graph("b -> a, b -> c");
        assert!(!fork.d_separated(&["a"], &["c"], &[]).unwrap());
        assert!(fork.d_separated(&["a"], &["c"], &["b"]).unwrap());

        let collider = graph("a -> b <- c, b -> d");
        assert!(collider.d_separated(&["a"], &["c"], &[]).unwrap());
        assert!(!collider.d_separated(&["a"], &["c"], &["b"]).unwrap());
        // Conditioning on a descendant of a collider opens it too.
        assert!(!collider.d_separated(&["a"], &["c"], &["d"]).unwrap());

        // M-bias: t <- a -> m <- b -> y; m is a collider.
        let m = graph("a -> t, a -> m, b -> m, b -> y");
        assert!(m.d_separated(&["t"], &["y"], &[]).unwrap());
        assert!(!m.d_separated(&["t"], &["y"], &["m"]).unwrap());
        assert!(m.d_separated(&["t"], &["y"], &["m", "a"]).unwrap());
    }

    #[test]
    fn open_path_is_explained_with_arrows() {
        let g = graph("U -> treat, U -> re78, treat -> re78");
        let cut = g.without_edges_out_of(&[g.require("treat").unwrap()]);
        let path = cut.open_path("treat", "re78", &[]).unwrap().unwrap();
        assert_eq!(path.to_string(), "treat <- U -> re78");
        assert!(path.colliders().is_empty());
        let m = graph("a -> t, a -> m, b -> m, b -> y");
        let path = m.open_path("t", "y", &["m"]).unwrap().unwrap();
        assert_eq!(path.to_string(), "t <- a -> m <- b -> y");
        assert_eq!(path.colliders(), ["m"]);
        assert_eq!(m.open_path("t", "y", &[]).unwrap(), None);
    }

    #[test]
    fn overlapping_or_unknown_sets_are_refused() {
        let g = graph("a -> b -> c");
        assert!(matches!(
            g.d_separated(&["a"], &["c"], &["a"]),
            Err(Error::InvalidInput { .. })
        ));
        assert!(matches!(
            g.d_separated(&["a"], &["cc"], &[]),
            Err(Error::UnknownVariable { .. })
        ));
    }

    /// A random DAG on `n` nodes `v0..`, isolated ones included: edges only from lower
    /// to higher index, each present with the drawn bit; nodes listed in `latent` are
    /// unobserved.
    pub(crate) fn random_dag(n: usize, bits: &[bool], latent: &[bool]) -> CausalGraph {
        let mut builder = super::super::GraphBuilder::default();
        for i in 0..n {
            let v = builder.node(&format!("v{i}"));
            builder.set_observed(v, !latent.get(i).copied().unwrap_or(false));
        }
        let mut k = 0;
        for i in 0..n {
            for j in (i + 1)..n {
                if bits.get(k).copied().unwrap_or(false) {
                    builder.edge(i, j);
                }
                k += 1;
            }
        }
        builder
            .build()
            .expect("edges go forward, so there is no cycle")
    }

    /// Whether a simple path (as node indices) is blocked by `given`, straight from
    /// the definition.
    fn blocked(g: &CausalGraph, path: &[usize], given: &[usize]) -> bool {
        let descendants_hit = |v: usize| {
            let d = g.descendant_set(&[v]);
            given.iter().any(|&z| d[z])
        };
        (1..path.len() - 1).any(|i| {
            let (a, v, b) = (path[i - 1], path[i], path[i + 1]);
            let collider = g.parents_of(v).contains(&a) && g.parents_of(v).contains(&b);
            if collider {
                !descendants_hit(v)
            } else {
                given.contains(&v)
            }
        })
    }

    fn all_simple_paths(g: &CausalGraph, x: usize, y: usize) -> Vec<Vec<usize>> {
        fn extend(g: &CausalGraph, path: &mut Vec<usize>, y: usize, out: &mut Vec<Vec<usize>>) {
            let Some(&v) = path.last() else { return };
            if v == y {
                out.push(path.clone());
                return;
            }
            let neighbours: Vec<usize> = g
                .children_of(v)
                .iter()
                .chain(g.parents_of(v))
                .copied()
                .collect();
            for w in neighbours {
                if !path.contains(&w) {
                    path.push(w);
                    extend(g, path, y, out);
                    path.pop();
                }
            }
        }
        let mut out = Vec::new();
        extend(g, &mut vec![x], y, &mut out);
        out
    }

    /// A random DAG (node count, edge bits), two distinct nodes and a conditioning
    /// mask.
    fn case() -> impl Strategy<Value = (usize, Vec<bool>, usize, usize, Vec<bool>)> {
        (2usize..=7)
            .prop_flat_map(|n| {
                (
                    Just(n),
                    proptest::collection::vec(proptest::bool::weighted(0.4), n * (n - 1) / 2),
                    0..n,
                    1..n,
                    proptest::collection::vec(proptest::bool::weighted(0.3), n),
                )
            })
            .prop_map(|(n, bits, x, offset, z)| (n, bits, x, (x + offset) % n, z))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn d_separation_is_symmetric((n, bits, x, y, z) in case()) {
            let g = random_dag(n, &bits, &[]);
            let given: Vec<usize> = (0..n).filter(|&i| z[i] && i != x && i != y).collect();
            prop_assert_eq!(
                g.d_separated_indices(&[x], &[y], &given),
                g.d_separated_indices(&[y], &[x], &given)
            );
        }

        #[test]
        fn d_separation_matches_the_path_definition((n, bits, x, y, z) in case()) {
            let g = random_dag(n, &bits, &[]);
            let given: Vec<usize> = (0..n).filter(|&i| z[i] && i != x && i != y).collect();
            let by_paths = all_simple_paths(&g, x, y).iter().all(|p| blocked(&g, p, &given));
            prop_assert_eq!(g.d_separated_indices(&[x], &[y], &given), by_paths);

            let open = g.open_path_indices(x, y, &given);
            prop_assert_eq!(open.is_none(), by_paths);
            if let Some(open) = open {
                let path: Vec<usize> = open.nodes.iter().map(|name| g.require(name).unwrap()).collect();
                let mut distinct = path.clone();
                distinct.sort_unstable();
                distinct.dedup();
                prop_assert_eq!(distinct.len(), path.len(), "not simple: {}", open);
                prop_assert_eq!(path.first(), Some(&x));
                prop_assert_eq!(path.last(), Some(&y));
                for (i, step) in open.steps.iter().enumerate() {
                    let (a, b) = (path[i], path[i + 1]);
                    let edge = match step {
                        PathStep::Forward => g.children_of(a).contains(&b),
                        PathStep::Backward => g.children_of(b).contains(&a),
                    };
                    prop_assert!(edge, "no such edge in {}", open);
                }
                prop_assert!(!blocked(&g, &path, &given), "blocked: {}", open);
            }
        }
    }
}
