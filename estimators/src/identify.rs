//! Identification: can the effect of a treatment on an outcome be computed from the
//! observed variables, given the causal graph, and how?
//!
//! Three graphical strategies are tried, each a criterion checked with d-separation:
//! backdoor adjustment, Pearl's frontdoor criterion and (unconditional) instrumental
//! variables. All three are reported, not only the first that works, so an analyst
//! can pick an estimator and a refuter can compare strategies. When none works the
//! error names the obstacle (the open backdoor path and the unobserved node on it),
//! because "not identifiable" alone tells a person nothing they can act on.
//!
//! Backdoor search rests on a theorem (van der Zander, Liśkiewicz & Textor 2019): if
//! any valid adjustment set of observed non-descendants of the treatment exists, the
//! set `Z0` of all observed ancestors of treatment and outcome that are not
//! descendants of the treatment is one, and every inclusion-minimal valid set lies
//! inside `Z0`. So one d-separation test decides existence, and the search for small
//! sets enumerates subsets of `Z0` only.

use crate::error::{Error, Result};
use crate::graph::{CausalGraph, OpenPath, PathStep};

/// Options for [`identify`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IdentifyOptions {
    /// Also list every inclusion-minimal backdoor set (default: only the smallest).
    pub all_minimal_sets: bool,
}

/// An identification strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// Adjust for a set of observed variables that blocks every backdoor path.
    Backdoor,
    /// Pearl's frontdoor formula through a set of observed mediators.
    Frontdoor,
    /// Instrumental variables.
    Instrumental,
}

/// What the graph says about estimating the effect of `treatment` on `outcome`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentifiedEstimand {
    /// The treatment (cause) variable.
    pub treatment: String,
    /// The outcome (effect) variable.
    pub outcome: String,
    /// No directed path leads from treatment to outcome: the graph itself says the
    /// effect is zero.
    pub no_causal_path: bool,
    /// A backdoor adjustment set of smallest size (ties broken by node order), if one
    /// exists among the observed variables; `Some(vec![])` when none is needed.
    pub backdoor: Option<Vec<String>>,
    /// Every inclusion-minimal backdoor set, when [`IdentifyOptions::all_minimal_sets`]
    /// asked for them.
    pub all_backdoor_sets: Vec<Vec<String>>,
    /// Why no backdoor set exists, naming an open backdoor path.
    pub backdoor_failure: Option<String>,
    /// A smallest set of observed mediators satisfying the frontdoor criterion.
    pub frontdoor: Option<Vec<String>>,
    /// Why no frontdoor set was found (absent when there is no causal path at all).
    pub frontdoor_failure: Option<String>,
    /// Observed variables that are valid (unconditional) instruments, in node order.
    pub instruments: Vec<String>,
    /// Limits the search ran into (a greedy set returned instead of a minimum one).
    pub notes: Vec<String>,
}

impl IdentifiedEstimand {
    /// The strategies that work, in order of preference: backdoor, frontdoor,
    /// instrumental variables.
    pub fn strategies(&self) -> Vec<Strategy> {
        let mut strategies = Vec::new();
        if self.backdoor.is_some() {
            strategies.push(Strategy::Backdoor);
        }
        if self.frontdoor.is_some() {
            strategies.push(Strategy::Frontdoor);
        }
        if !self.instruments.is_empty() {
            strategies.push(Strategy::Instrumental);
        }
        strategies
    }

    /// The assumptions, in plain English, that an estimate by `strategy` rests on;
    /// empty when that strategy is not available.
    pub fn assumptions(&self, strategy: Strategy) -> Vec<String> {
        let (t, y) = (&self.treatment, &self.outcome);
        let mut out = Vec::new();
        let available = self.strategies().contains(&strategy);
        if !available && !self.no_causal_path {
            return out;
        }
        out.push(format!(
            "the causal graph is complete: no unobserved common cause of {t} and {y} \
             (or of any two drawn variables) exists beyond those drawn in it"
        ));
        if self.no_causal_path {
            out.push(format!(
                "the graph has no directed path from {t} to {y}, so the effect of {t} on \
                 {y} is zero by assumption; data can only test that assumption"
            ));
            if !available {
                return out;
            }
        }
        match strategy {
            Strategy::Backdoor => {
                let set = self.backdoor.as_deref().unwrap_or_default();
                if set.is_empty() {
                    out.push(format!(
                        "every backdoor path from {t} to {y} is already blocked, so no \
                         adjustment is needed"
                    ));
                } else {
                    let set = set.join(", ");
                    out.push(format!(
                        "conditioning on {set} blocks every backdoor path from {t} to {y}"
                    ));
                    out.push(format!("none of {set} is affected by {t}"));
                    out.push(format!(
                        "every combination of {set} occurs at each level of {t} (overlap)"
                    ));
                }
            }
            Strategy::Frontdoor => {
                let set = self.frontdoor.as_deref().unwrap_or_default().join(", ");
                out.push(format!(
                    "{set} intercept(s) every directed path from {t} to {y}"
                ));
                out.push(format!(
                    "no unobserved common cause of {t} and {set}: no backdoor path from {t} \
                     to {set} is open"
                ));
                out.push(format!(
                    "every backdoor path from {set} to {y} is blocked by {t}"
                ));
                out.push(format!(
                    "every level of {t} occurs with every value of {set}"
                ));
            }
            Strategy::Instrumental => {
                for z in &self.instruments {
                    out.push(format!("{z} affects {y} only through {t}"));
                    out.push(format!("no unobserved common cause of {z} and {y}"));
                    out.push(format!("{z} is associated with {t} (relevance)"));
                }
                out.push(format!(
                    "the effect of {t} on {y} is the same for all units, or {t} responds to \
                     the instrument monotonically (then the estimate is the effect for units \
                     whose {t} the instrument moves)"
                ));
            }
        }
        out
    }
}

/// Largest `Z0` for which the smallest backdoor set is found by exhaustive search;
/// above it a greedy pass returns an inclusion-minimal set instead.
const MAX_EXHAUSTIVE: usize = 20;
/// Largest `Z0` for which all inclusion-minimal backdoor sets are enumerated.
const MAX_ALL_MINIMAL: usize = 18;
/// Largest candidate pool for an exhaustive frontdoor search; above it only sets of
/// up to [`FRONTDOOR_SIZE_CAP`] mediators are tried.
const MAX_FRONTDOOR_EXHAUSTIVE: usize = 16;
const FRONTDOOR_SIZE_CAP: usize = 3;

/// Identifies the effect of `treatment` on `outcome` in `graph`.
///
/// # Errors
/// [`Error::UnknownVariable`] (with the nearest node suggested) for a name not in the
/// graph; [`Error::InvalidInput`] when treatment and outcome are the same or either is
/// latent; [`Error::NotIdentified`] when no strategy works, naming what blocks each.
/// A graph without any directed path from treatment to outcome is not an error: the
/// result says so in [`IdentifiedEstimand::no_causal_path`].
///
/// ```
/// use causeway_estimators::graph::CausalGraph;
/// use causeway_estimators::identify::{identify, IdentifyOptions, Strategy};
///
/// let graph = CausalGraph::parse_edge_list("age -> treat, age -> re78, treat -> re78")?;
/// let estimand = identify(&graph, "treat", "re78", IdentifyOptions::default())?;
/// assert_eq!(estimand.backdoor, Some(vec!["age".to_string()]));
/// assert!(estimand.assumptions(Strategy::Backdoor)
///     .contains(&"conditioning on age blocks every backdoor path from treat to re78".into()));
///
/// let confounded = CausalGraph::parse_edge_list("treat <-> re78, treat -> re78")?;
/// let error = identify(&confounded, "treat", "re78", IdentifyOptions::default()).unwrap_err();
/// assert!(error.to_string().contains("treat <- U_treat_re78 -> re78 runs through unobserved"));
/// # Ok::<(), causeway_estimators::Error>(())
/// ```
pub fn identify(
    graph: &CausalGraph,
    treatment: &str,
    outcome: &str,
    options: IdentifyOptions,
) -> Result<IdentifiedEstimand> {
    let t = graph.require(treatment)?;
    let y = graph.require(outcome)?;
    if t == y {
        return Err(Error::invalid_input(format!(
            "treatment and outcome are both `{treatment}`; choose two different variables"
        )));
    }
    for (role, i) in [("treatment", t), ("outcome", y)] {
        if !graph.observed_at(i) {
            return Err(Error::invalid_input(format!(
                "the {role} `{}` is latent (unobserved) in the graph; it must be a measured variable",
                graph.name(i)
            )));
        }
    }

    let search = Search::new(graph, t, y);
    let no_causal_path = !search.descendants_of_t[y];
    let mut estimand = IdentifiedEstimand {
        treatment: treatment.to_string(),
        outcome: outcome.to_string(),
        no_causal_path,
        backdoor: None,
        all_backdoor_sets: Vec::new(),
        backdoor_failure: None,
        frontdoor: None,
        frontdoor_failure: None,
        instruments: Vec::new(),
        notes: Vec::new(),
    };

    match search.backdoor(options, &mut estimand.notes) {
        Ok((smallest, all)) => {
            estimand.backdoor = Some(search.names(&smallest));
            estimand.all_backdoor_sets = all.iter().map(|s| search.names(s)).collect();
        }
        Err(reason) => estimand.backdoor_failure = Some(reason),
    }
    if no_causal_path {
        return Ok(estimand);
    }
    match search.frontdoor(&mut estimand.notes) {
        Ok(set) => estimand.frontdoor = Some(search.names(&set)),
        Err(reason) => estimand.frontdoor_failure = Some(reason),
    }
    estimand.instruments = search.names(&search.instruments());

    if estimand.strategies().is_empty() {
        let reasons = [
            estimand.backdoor_failure.clone(),
            estimand.frontdoor_failure.clone(),
            Some(format!(
                "no observed variable is an instrument (associated with {treatment} and \
                 connected to {outcome} only through it)"
            )),
        ];
        return Err(Error::NotIdentified {
            treatment: treatment.to_string(),
            outcome: outcome.to_string(),
            reason: reasons.into_iter().flatten().collect::<Vec<_>>().join("; "),
        });
    }
    Ok(estimand)
}

/// The precomputed graphs and sets every criterion needs, by node index.
struct Search<'g> {
    graph: &'g CausalGraph,
    /// The graph without the treatment's outgoing edges: there, every path from the
    /// treatment is a backdoor path.
    backdoor_graph: CausalGraph,
    t: usize,
    y: usize,
    /// Descendants of the treatment, the treatment included.
    descendants_of_t: Vec<bool>,
}

impl<'g> Search<'g> {
    fn new(graph: &'g CausalGraph, t: usize, y: usize) -> Self {
        Search {
            graph,
            backdoor_graph: graph.without_edges_out_of(&[t]),
            t,
            y,
            descendants_of_t: graph.descendant_set(&[t]),
        }
    }

    fn names(&self, set: &[usize]) -> Vec<String> {
        set.iter()
            .map(|&i| self.graph.name(i).to_string())
            .collect()
    }

    fn join(&self, set: &[usize]) -> String {
        self.names(set).join(", ")
    }

    fn is_backdoor_set(&self, set: &[usize]) -> bool {
        self.backdoor_graph
            .d_separated_indices(&[self.t], &[self.y], set)
    }

    /// The smallest backdoor set and, when asked, all inclusion-minimal ones; or the
    /// reason none exists.
    fn backdoor(
        &self,
        options: IdentifyOptions,
        notes: &mut Vec<String>,
    ) -> std::result::Result<(Vec<usize>, Vec<Vec<usize>>), String> {
        let ancestors = self.graph.ancestor_set(&[self.t, self.y]);
        let z0: Vec<usize> = (0..self.graph.len())
            .filter(|&i| {
                i != self.y
                    && self.graph.observed_at(i)
                    && ancestors[i]
                    && !self.descendants_of_t[i]
            })
            .collect();
        if !self.is_backdoor_set(&z0) {
            return Err(self.explain_backdoor_failure(&z0));
        }

        let smallest = if z0.len() <= MAX_EXHAUSTIVE {
            let mut found = None;
            for_each_subset(z0.len(), z0.len(), |chosen| {
                let set: Vec<usize> = chosen.iter().map(|&k| z0[k]).collect();
                if self.is_backdoor_set(&set) {
                    found = Some(set);
                    return false;
                }
                true
            });
            found.unwrap_or_else(|| z0.clone())
        } else {
            notes.push(format!(
                "{} candidate adjustment variables are too many for an exhaustive search; \
                 the backdoor set is minimal (no variable can be dropped) but perhaps not \
                 the smallest",
                z0.len()
            ));
            self.greedy_minimal(&z0)
        };

        let mut all = Vec::new();
        if options.all_minimal_sets {
            if z0.len() <= MAX_ALL_MINIMAL {
                for_each_subset(z0.len(), z0.len(), |chosen| {
                    let set: Vec<usize> = chosen.iter().map(|&k| z0[k]).collect();
                    let contains_smaller = all
                        .iter()
                        .any(|kept: &Vec<usize>| kept.iter().all(|v| set.contains(v)));
                    if !contains_smaller && self.is_backdoor_set(&set) {
                        all.push(set);
                    }
                    true
                });
            } else {
                notes.push(format!(
                    "{} candidate adjustment variables are too many to list every minimal \
                     backdoor set; only one is listed",
                    z0.len()
                ));
                all.push(smallest.clone());
            }
        }
        Ok((smallest, all))
    }

    /// Drops variables from a valid set, in reverse node order, while it stays valid.
    fn greedy_minimal(&self, z0: &[usize]) -> Vec<usize> {
        let mut set = z0.to_vec();
        for k in (0..set.len()).rev() {
            let mut without = set.clone();
            without.remove(k);
            if self.is_backdoor_set(&without) {
                set = without;
            }
        }
        set
    }

    fn explain_backdoor_failure(&self, z0: &[usize]) -> String {
        let (t, y) = (self.graph.name(self.t), self.graph.name(self.y));
        let Some(path) = self.backdoor_graph.open_path_indices(self.t, self.y, z0) else {
            return format!(
                "no set of observed variables blocks the backdoor paths from {t} to {y}"
            );
        };
        if path.nodes.len() == 2 {
            return format!(
                "{y} is a direct cause of {t}, so the backdoor path {path} cannot be blocked"
            );
        }
        let colliders = path.colliders();
        let inner = &path.nodes[1..path.nodes.len().saturating_sub(1)];
        let blocking_candidates: Vec<&str> = inner
            .iter()
            .map(String::as_str)
            .filter(|n| !colliders.contains(n))
            .collect();
        let latent: Vec<&str> = blocking_candidates
            .iter()
            .copied()
            .filter(|n| !self.graph.is_observed(n))
            .collect();
        if !latent.is_empty() {
            let many = if latent.len() > 1 { "s" } else { "" };
            return format!(
                "the backdoor path {path} runs through unobserved node{many} {}",
                latent.join(", ")
            );
        }
        let affected: Vec<&str> = blocking_candidates
            .iter()
            .copied()
            .filter(|n| {
                self.graph
                    .require(n)
                    .is_ok_and(|i| self.descendants_of_t[i])
            })
            .collect();
        if !affected.is_empty() {
            return format!(
                "the backdoor path {path} could only be blocked at {}, which {t} affects, so \
                 adjusting for it would bias the estimate",
                affected.join(", ")
            );
        }
        format!(
            "the backdoor path {path} stays open under every set of observed variables not \
             affected by {t}"
        )
    }

    /// A smallest set of observed mediators meeting Pearl's frontdoor criterion, or
    /// why there is none.
    fn frontdoor(&self, notes: &mut Vec<String>) -> std::result::Result<Vec<usize>, String> {
        let (t, y) = (self.graph.name(self.t), self.graph.name(self.y));
        let ancestors_of_y = self.graph.ancestor_set(&[self.y]);
        let candidates: Vec<usize> = (0..self.graph.len())
            .filter(|&i| {
                i != self.t
                    && i != self.y
                    && self.graph.observed_at(i)
                    && self.descendants_of_t[i]
                    && ancestors_of_y[i]
            })
            .collect();
        if candidates.is_empty() {
            return Err(format!(
                "no observed mediator lies on a directed path from {t} to {y}, so the \
                 frontdoor criterion cannot apply"
            ));
        }
        let max_size = if candidates.len() <= MAX_FRONTDOOR_EXHAUSTIVE {
            candidates.len()
        } else {
            notes.push(format!(
                "{} candidate mediators are too many for an exhaustive frontdoor search; \
                 only sets of up to {FRONTDOOR_SIZE_CAP} were tried",
                candidates.len()
            ));
            FRONTDOOR_SIZE_CAP
        };
        let mut found = None;
        for_each_subset(candidates.len(), max_size, |chosen| {
            if chosen.is_empty() {
                return true;
            }
            let set: Vec<usize> = chosen.iter().map(|&k| candidates[k]).collect();
            if self.frontdoor_problem(&set).is_none() {
                found = Some(set);
                return false;
            }
            true
        });
        found.ok_or_else(|| {
            let problem = self
                .frontdoor_problem(&candidates)
                .unwrap_or_else(|| "no subset of them passes every condition".into());
            format!(
                "no set of the observed mediators ({}) satisfies the frontdoor criterion: {problem}",
                self.join(&candidates)
            )
        })
    }

    /// Which frontdoor condition `set` violates, in words; `None` when it meets all.
    fn frontdoor_problem(&self, set: &[usize]) -> Option<String> {
        let (t, y) = (self.graph.name(self.t), self.graph.name(self.y));
        let names = self.join(set);
        // (i) every directed path from t to y passes through the set.
        if let Some(path) = self.directed_path_avoiding(set) {
            return Some(format!("the directed path {path} bypasses {names}"));
        }
        // (ii) no open backdoor path from t to the set.
        for &m in set {
            if let Some(path) = self.backdoor_graph.open_path_indices(self.t, m, &[]) {
                return Some(format!(
                    "the backdoor path {path} from {t} to {} is open",
                    self.graph.name(m)
                ));
            }
        }
        // (iii) every backdoor path from the set to y is blocked by t.
        let cut = self.graph.without_edges_out_of(set);
        for &m in set {
            if let Some(path) = cut.open_path_indices(m, self.y, &[self.t]) {
                return Some(format!(
                    "the backdoor path {path} from {} to {y} is not blocked by {t}",
                    self.graph.name(m)
                ));
            }
        }
        None
    }

    /// A directed path from the treatment to the outcome that avoids `set`, if any.
    fn directed_path_avoiding(&self, set: &[usize]) -> Option<OpenPath> {
        let n = self.graph.len();
        let mut came_from: Vec<Option<usize>> = vec![None; n];
        came_from[self.t] = Some(self.t);
        let mut queue = std::collections::VecDeque::from([self.t]);
        while let Some(v) = queue.pop_front() {
            if v == self.y {
                let mut nodes = vec![v];
                let mut at = v;
                while let Some(previous) = came_from[at].filter(|&p| p != at) {
                    nodes.push(previous);
                    at = previous;
                }
                nodes.reverse();
                return Some(OpenPath {
                    steps: vec![PathStep::Forward; nodes.len() - 1],
                    nodes: nodes
                        .iter()
                        .map(|&i| self.graph.name(i).to_string())
                        .collect(),
                });
            }
            for &c in self.graph.children_of(v) {
                if came_from[c].is_none() && !set.contains(&c) {
                    came_from[c] = Some(v);
                    queue.push_back(c);
                }
            }
        }
        None
    }

    /// Observed non-descendants of the treatment that are d-connected to it and
    /// d-separated from the outcome once the treatment's outgoing edges are removed.
    fn instruments(&self) -> Vec<usize> {
        (0..self.graph.len())
            .filter(|&z| {
                z != self.y
                    && self.graph.observed_at(z)
                    && !self.descendants_of_t[z]
                    && !self
                        .backdoor_graph
                        .d_separated_indices(&[z], &[self.t], &[])
                    && self
                        .backdoor_graph
                        .d_separated_indices(&[z], &[self.y], &[])
            })
            .collect()
    }
}

/// Calls `visit` with every subset of `0..n` of size at most `max_size` (as sorted
/// indices), smaller sizes first and lexicographically within a size, until `visit`
/// returns `false`.
fn for_each_subset(n: usize, max_size: usize, mut visit: impl FnMut(&[usize]) -> bool) {
    for k in 0..=max_size.min(n) {
        let mut chosen: Vec<usize> = (0..k).collect();
        loop {
            if !visit(&chosen) {
                return;
            }
            // Advance to the next combination: bump the rightmost index that can move.
            let Some(i) = (0..k).rev().find(|&i| chosen[i] < n - k + i) else {
                break;
            };
            chosen[i] += 1;
            for j in (i + 1)..k {
                chosen[j] = chosen[j - 1] + 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::random_dag;
    use proptest::prelude::{
        prop_assert, prop_assert_eq, proptest, Just, ProptestConfig, TestCaseError,
    };
    use proptest::strategy::Strategy as _;

    fn graph(edges: &str, latent: &[&str]) -> CausalGraph {
        let g = CausalGraph::parse_edge_list(edges).unwrap();
        let edges: Vec<(String, String)> = g
            .edges()
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let latent: Vec<String> = latent.iter().map(|s| s.to_string()).collect();
        CausalGraph::from_edges(&edges, &latent).unwrap()
    }

    fn run(g: &CausalGraph, t: &str, y: &str) -> Result<IdentifiedEstimand> {
        identify(g, t, y, IdentifyOptions::default())
    }

    #[test]
    fn confounder_is_adjusted_for() {
        let g = graph("z -> t, z -> y, t -> y", &[]);
        let e = run(&g, "t", "y").unwrap();
        assert_eq!(e.backdoor, Some(vec!["z".to_string()]));
        assert!(!e.no_causal_path);
        assert_eq!(e.frontdoor, None);
        assert!(e.instruments.is_empty());
        assert_eq!(e.strategies(), [Strategy::Backdoor]);
        let assumptions = e.assumptions(Strategy::Backdoor);
        assert!(assumptions
            .iter()
            .any(|a| a == "conditioning on z blocks every backdoor path from t to y"));
        assert!(e.assumptions(Strategy::Instrumental).is_empty());
    }

    #[test]
    fn m_bias_needs_no_adjustment_and_never_the_collider() {
        // The collider m is a pre-treatment variable a naive analyst would adjust for.
        let g = graph("a -> t, a -> m, b -> m, b -> y, t -> y", &[]);
        let e = identify(
            &g,
            "t",
            "y",
            IdentifyOptions {
                all_minimal_sets: true,
            },
        )
        .unwrap();
        assert_eq!(e.backdoor, Some(vec![]));
        assert_eq!(e.all_backdoor_sets, vec![Vec::<String>::new()]);
        // m made an ancestor of the treatment is a candidate; still not in the answer.
        let g = graph(
            "a -> t, a -> m, b -> m, b -> y, t -> y, m -> t",
            &["a", "b"],
        );
        let e = run(&g, "t", "y").unwrap_err();
        assert!(matches!(e, Error::NotIdentified { .. }), "{e}");
        // Observed, the smallest set blocks both paths at b rather than opening m.
        let g = graph("a -> t, a -> m, b -> m, b -> y, t -> y, m -> t", &[]);
        let e = run(&g, "t", "y").unwrap();
        let set = e.backdoor.unwrap();
        assert_eq!(set, ["b"]);
    }

    #[test]
    fn latent_confounder_with_a_mediator_uses_the_frontdoor() {
        let g = graph("U -> t, U -> y, t -> m, m -> y", &["U"]);
        let e = run(&g, "t", "y").unwrap();
        assert_eq!(e.backdoor, None);
        assert_eq!(
            e.backdoor_failure.as_deref(),
            Some("the backdoor path t <- U -> y runs through unobserved node U")
        );
        assert_eq!(e.frontdoor, Some(vec!["m".to_string()]));
        assert_eq!(e.strategies(), [Strategy::Frontdoor]);
        assert!(e
            .assumptions(Strategy::Frontdoor)
            .iter()
            .any(|a| a.contains("m intercept(s) every directed path from t to y")));
    }

    #[test]
    fn latent_confounder_with_an_instrument_uses_iv() {
        let g = graph("z -> t, U -> t, U -> y, t -> y", &["U"]);
        let e = run(&g, "t", "y").unwrap();
        assert_eq!(e.backdoor, None);
        assert_eq!(e.instruments, ["z"]);
        assert_eq!(e.strategies(), [Strategy::Instrumental]);
        let assumptions = e.assumptions(Strategy::Instrumental);
        assert!(assumptions.contains(&"z affects y only through t".to_string()));
        assert!(assumptions.contains(&"no unobserved common cause of z and y".to_string()));
    }

    #[test]
    fn latent_confounder_alone_is_not_identified() {
        let g = graph("U -> treat, U -> re78, treat -> re78", &["U"]);
        match run(&g, "treat", "re78").unwrap_err() {
            Error::NotIdentified {
                treatment,
                outcome,
                reason,
            } => {
                assert_eq!((treatment.as_str(), outcome.as_str()), ("treat", "re78"));
                assert!(
                    reason.starts_with(
                        "the backdoor path treat <- U -> re78 runs through unobserved node U; "
                    ),
                    "{reason}"
                );
                assert!(reason.contains("frontdoor"), "{reason}");
                assert!(reason.contains("instrument"), "{reason}");
            }
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn frontdoor_failure_names_the_violated_condition() {
        // The mediator shares a latent cause with the outcome: condition (iii) fails.
        let g = graph(
            "U -> t, U -> y, t -> m, m -> y, V -> m, V -> y",
            &["U", "V"],
        );
        let reason = run(&g, "t", "y").unwrap_err().to_string();
        assert!(reason.contains("m <- V -> y"), "{reason}");
        // A direct edge bypasses the mediator: condition (i) fails.
        let g = graph("U -> t, U -> y, t -> m, m -> y, t -> y", &["U"]);
        let reason = run(&g, "t", "y").unwrap_err().to_string();
        assert!(
            reason.contains("the directed path t -> y bypasses m"),
            "{reason}"
        );
    }

    #[test]
    fn two_alternative_minimal_sets_are_both_listed() {
        let g = graph("A -> T, A -> B, B -> Y, C -> T, C -> Y, T -> Y", &[]);
        let e = identify(
            &g,
            "T",
            "Y",
            IdentifyOptions {
                all_minimal_sets: true,
            },
        )
        .unwrap();
        assert_eq!(e.backdoor, Some(vec!["A".to_string(), "C".to_string()]));
        assert_eq!(
            e.all_backdoor_sets,
            vec![
                vec!["A".to_string(), "C".to_string()],
                vec!["B".to_string(), "C".to_string()]
            ]
        );
        let e = run(&g, "T", "Y").unwrap();
        assert!(e.all_backdoor_sets.is_empty());
    }

    #[test]
    fn no_causal_path_is_not_an_error() {
        let g = graph("z -> t, z -> y", &[]);
        let e = run(&g, "t", "y").unwrap();
        assert!(e.no_causal_path);
        assert_eq!(e.backdoor, Some(vec!["z".to_string()]));
        assert_eq!((&e.frontdoor, e.instruments.len()), (&None, 0));
        assert!(e
            .assumptions(Strategy::Backdoor)
            .iter()
            .any(|a| a.contains("no directed path from t to y")));
        // Even with an unblockable confounder the zero effect is identified by the graph.
        let g = graph("U -> t, U -> y", &["U"]);
        let e = run(&g, "t", "y").unwrap();
        assert!(e.no_causal_path && e.backdoor.is_none());
        assert!(!e.assumptions(Strategy::Frontdoor).is_empty());
        // The outcome causes the treatment: nothing blocks that edge, and it is no error.
        let g = graph("y -> t", &[]);
        let e = run(&g, "t", "y").unwrap();
        assert!(e.no_causal_path);
        assert_eq!(
            e.backdoor_failure.as_deref(),
            Some("y is a direct cause of t, so the backdoor path t <- y cannot be blocked")
        );
    }

    #[test]
    fn bad_requests_are_refused() {
        let g = graph("U -> treat, treat -> re78", &["U"]);
        match run(&g, "tret", "re78").unwrap_err() {
            Error::UnknownVariable { name, suggestion } => {
                assert_eq!(name, "tret");
                assert_eq!(suggestion.as_deref(), Some("treat"));
            }
            other => panic!("unexpected {other}"),
        }
        assert!(matches!(
            run(&g, "treat", "treat"),
            Err(Error::InvalidInput { .. })
        ));
        let err = run(&g, "U", "re78").unwrap_err();
        assert!(err.to_string().contains("latent"), "{err}");
    }

    #[test]
    fn large_candidate_sets_fall_back_to_greedy() {
        let mut edges = String::from("t -> y");
        for i in 0..22 {
            edges.push_str(&format!(", c{i:02} -> t, c{i:02} -> y"));
        }
        let g = graph(&edges, &[]);
        let e = identify(
            &g,
            "t",
            "y",
            IdentifyOptions {
                all_minimal_sets: true,
            },
        )
        .unwrap();
        assert_eq!(e.backdoor.as_ref().map(Vec::len), Some(22));
        assert_eq!(e.all_backdoor_sets.len(), 1);
        assert_eq!(e.notes.len(), 2, "{:?}", e.notes);
    }

    #[test]
    fn subsets_come_smallest_first() {
        let mut seen = Vec::new();
        for_each_subset(3, 3, |s| {
            seen.push(s.to_vec());
            true
        });
        assert_eq!(
            seen,
            vec![
                vec![],
                vec![0],
                vec![1],
                vec![2],
                vec![0, 1],
                vec![0, 2],
                vec![1, 2],
                vec![0, 1, 2]
            ]
        );
    }

    /// Valid backdoor sets by brute force over every subset of observed
    /// non-descendants of `t`, straight from Pearl's definition.
    fn brute_force_backdoor_sets(g: &CausalGraph, t: usize, y: usize) -> Vec<Vec<usize>> {
        let cut = g.without_edges_out_of(&[t]);
        let descendants = g.descendant_set(&[t]);
        let pool: Vec<usize> = (0..g.len())
            .filter(|&i| i != y && g.observed_at(i) && !descendants[i])
            .collect();
        let mut valid = Vec::new();
        for_each_subset(pool.len(), pool.len(), |chosen| {
            let set: Vec<usize> = chosen.iter().map(|&k| pool[k]).collect();
            if cut.d_separated_indices(&[t], &[y], &set) {
                valid.push(set);
            }
            true
        });
        valid
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(192))]

        #[test]
        fn backdoor_search_matches_brute_force(
            (n, bits, latent, t, offset) in (3usize..=7).prop_flat_map(|n| (
                Just(n),
                proptest::collection::vec(proptest::bool::weighted(0.45), n * (n - 1) / 2),
                proptest::collection::vec(proptest::bool::weighted(0.3), n),
                0..n,
                1..n,
            ))
        ) {
            let y = (t + offset) % n;
            let mut latent = latent;
            latent[t] = false;
            latent[y] = false;
            let g = random_dag(n, &bits, &latent);
            let options = IdentifyOptions { all_minimal_sets: true };
            let valid = brute_force_backdoor_sets(&g, t, y);
            let result = identify(&g, g.name(t), g.name(y), options);
            let backdoor = match &result {
                Ok(e) => e.backdoor.clone(),
                Err(Error::NotIdentified { .. }) => None,
                Err(other) => return Err(TestCaseError::fail(other.to_string())),
            };
            prop_assert_eq!(backdoor.is_some(), !valid.is_empty());
            if let (Some(found), Ok(e)) = (backdoor, &result) {
                let smallest = valid.iter().map(Vec::len).min().unwrap_or(0);
                prop_assert_eq!(found.len(), smallest);
                let as_indices = |names: &Vec<String>| -> Vec<usize> {
                    names.iter().map(|n| g.require(n).unwrap()).collect()
                };
                prop_assert!(valid.contains(&as_indices(&found)));
                let minimal: Vec<Vec<usize>> = valid
                    .iter()
                    .filter(|s| !valid.iter().any(|o| o.len() < s.len() && o.iter().all(|v| s.contains(v))))
                    .cloned()
                    .collect();
                let mut listed: Vec<Vec<usize>> = e.all_backdoor_sets.iter().map(as_indices).collect();
                listed.sort();
                let mut minimal = minimal;
                minimal.sort();
                prop_assert_eq!(listed, minimal);
            }
        }
    }
}
