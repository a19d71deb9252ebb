//! The PC-stable algorithm: skeleton → colliders → Meek rules, with background
//! knowledge enforced at every step and priors applied where the data are silent.
//!
//! 1. **Skeleton** ([`skeleton`]). Start from the complete graph, less the pairs the
//!    knowledge forbids both ways. At level `l = 0, 1, 2, …` every adjacent pair
//!    (x, y) is tested given every subset of size `l` of x's neighbours, then of
//!    y's, stopping at the first test with `p > alpha`, which removes the edge and
//!    keeps its separating set. The neighbour sets are frozen at the start of each
//!    level and removals applied at its end (Colombo and Maathuis's PC-stable), so
//!    the skeleton does not depend on the order of the variables; and since a pair's
//!    tests then depend on nothing but the frozen sets, the pairs of a level are
//!    tested in parallel (rayon) with results collected in pair order: the output is
//!    the same for any number of threads. Required edges are never tested.
//! 2. **Colliders** ([`orient_colliders`]). Every unshielded triple x − z − y whose
//!    non-adjacency of x and y was decided by a test, with z not in the separating
//!    set, is a collider x → z ← y. With finite data two colliders can disagree about
//!    an edge (x → z ← y says z ← y, y → w ← v says y → w … on the same edge). The
//!    conflict is resolved without regard to variable order: candidates are applied
//!    strongest first — by the p-value of the test that separated x and y, the
//!    clearest independence — and a collider that contradicts an arrowhead already
//!    placed (by knowledge or a stronger collider) is skipped whole and reported in
//!    the notes. A triple whose ends were separated by knowledge, not by a test, has
//!    no separating set and is not oriented.
//! 3. **Meek rules** ([`meek`]) R1–R4 to a fixpoint, each orientation checked
//!    against the knowledge first, so no rule orients an edge the knowledge forbids.
//!    R4 is needed because knowledge can orient edges that no v-structure implies
//!    (Meek 1995).
//! 4. **Priors** ([`apply_priors`]), strongest first: an edge still undirected is
//!    oriented as a prior says when the knowledge allows it, it creates no directed
//!    cycle and no new collider; Meek's rules then propagate it. A prior never adds
//!    an edge, never keeps one a test removed, and never reverses an orientation.
//!
//! Knowledge is applied before colliders: required edges, and edges that the
//! knowledge allows in one direction only, are oriented first, so every later step
//! sees them.
//!
//! Priors also order the skeleton search: conditioning sets are tried from the
//! neighbours with the strongest prior adjacency to x or y first (likely parents and
//! confounders, which are the likely separators). With frozen neighbour sets a
//! level's removals do not depend on this order — an edge goes iff some set of that
//! size separates it — so priors cannot override a test; they decide which separating
//! set is found (and reported, and used for colliders) and how many tests it takes.

use rayon::prelude::*;

use super::ci_test::CiTest;
use super::knowledge::ResolvedKnowledge;
use super::{Decision, MeekRule};
use crate::error::Result;
use crate::progress::{Progress, Tally};

/// A separating set found by a test.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Separation {
    pub(crate) given: Vec<usize>,
    pub(crate) p_value: f64,
}

/// The skeleton: adjacencies, separating sets and, for kept edges, the largest
/// p-value of the tests they survived.
#[derive(Clone, Debug)]
pub(crate) struct Skeleton {
    pub(crate) n: usize,
    pub(crate) adjacent: Vec<bool>,
    /// `Some` for pairs a test separated, at `x * n + y` with x < y.
    pub(crate) separation: Vec<Option<Separation>>,
    /// Pairs the knowledge separated (forbidden both ways), x < y.
    pub(crate) by_knowledge: Vec<(usize, usize)>,
    /// Largest p-value over the tests of a pair that did not remove it (NaN: none).
    pub(crate) max_p: Vec<f64>,
}

/// What testing one pair at one level found.
struct PairOutcome {
    separation: Option<Separation>,
    max_p: f64,
}

/// Step 1: the PC-stable skeleton. `weight[a * n + b]` is the prior confidence that
/// a and b are adjacent (0 without priors). Each level is a stage of `progress`
/// whose total is the number of pairs it tests (known once the level's neighbour
/// sets are frozen); a cancel stops the search between pairs.
pub(crate) fn skeleton(
    test: &dyn CiTest,
    n: usize,
    knowledge: &ResolvedKnowledge,
    weight: &[f64],
    alpha: f64,
    max_depth: Option<usize>,
    progress: &dyn Progress,
) -> Result<Skeleton> {
    let mut adjacent = vec![false; n * n];
    let mut by_knowledge = Vec::new();
    for x in 0..n {
        for y in (x + 1)..n {
            if knowledge.allows(x, y) || knowledge.allows(y, x) {
                adjacent[x * n + y] = true;
                adjacent[y * n + x] = true;
            } else {
                by_knowledge.push((x, y));
            }
        }
    }
    let mut separation = vec![None; n * n];
    let mut max_p = vec![f64::NAN; n * n];
    for level in 0.. {
        if max_depth.is_some_and(|d| level > d) {
            break;
        }
        let frozen: Vec<Vec<usize>> = (0..n)
            .map(|x| (0..n).filter(|&y| adjacent[x * n + y]).collect())
            .collect();
        let pairs: Vec<(usize, usize)> = (0..n)
            .flat_map(|x| ((x + 1)..n).map(move |y| (x, y)))
            .filter(|&(x, y)| adjacent[x * n + y] && !knowledge.requires_adjacency(x, y))
            .filter(|&(x, y)| frozen[x].len() > level || frozen[y].len() > level)
            .collect();
        if pairs.is_empty() {
            break;
        }
        let stage = format!(
            "testing pairs given {level} variable{}",
            if level == 1 { "" } else { "s" }
        );
        let tally = Tally::start(progress, &stage, pairs.len())?;
        let outcomes: Vec<PairOutcome> = pairs
            .par_iter()
            .map(|&(x, y)| {
                tally.check()?;
                let outcome = test_pair(test, n, x, y, level, &frozen, weight, alpha);
                tally.finished()?;
                Ok(outcome)
            })
            .collect::<Result<_>>()?;
        for (&(x, y), outcome) in pairs.iter().zip(outcomes) {
            if !outcome.max_p.is_nan() {
                let old = max_p[x * n + y];
                max_p[x * n + y] = if old.is_nan() {
                    outcome.max_p
                } else {
                    old.max(outcome.max_p)
                };
            }
            if let Some(found) = outcome.separation {
                adjacent[x * n + y] = false;
                adjacent[y * n + x] = false;
                separation[x * n + y] = Some(found);
            }
        }
    }
    Ok(Skeleton {
        n,
        adjacent,
        separation,
        by_knowledge,
        max_p,
    })
}

/// Tests x − y given every subset of size `level` of x's frozen neighbours (less y),
/// then of y's, until one separates them.
#[allow(clippy::too_many_arguments)]
fn test_pair(
    test: &dyn CiTest,
    n: usize,
    x: usize,
    y: usize,
    level: usize,
    frozen: &[Vec<usize>],
    weight: &[f64],
    alpha: f64,
) -> PairOutcome {
    let mut max_p = f64::NAN;
    // At level 0 both sides ask the same question.
    let sides: &[usize] = if level == 0 { &[x] } else { &[x, y] };
    for &side in sides {
        let mut candidates: Vec<usize> = frozen[side]
            .iter()
            .copied()
            .filter(|&v| v != x && v != y)
            .collect();
        if candidates.len() < level {
            continue;
        }
        let strength = |v: usize| weight[v * n + x].max(weight[v * n + y]);
        candidates.sort_by(|&a, &b| strength(b).total_cmp(&strength(a)).then(a.cmp(&b)));
        let mut combination: Vec<usize> = (0..level).collect();
        loop {
            let given: Vec<usize> = combination.iter().map(|&i| candidates[i]).collect();
            let p = test.p_value(x, y, &given);
            if p > alpha {
                let mut given = given;
                given.sort_unstable();
                return PairOutcome {
                    separation: Some(Separation { given, p_value: p }),
                    max_p,
                };
            }
            if max_p.is_nan() || p > max_p {
                max_p = p;
            }
            if !next_combination(&mut combination, candidates.len()) {
                break;
            }
        }
    }
    PairOutcome {
        separation: None,
        max_p,
    }
}

/// Advances `c` (strictly increasing indices below `n`) to the next combination in
/// lexicographic order; false after the last.
fn next_combination(c: &mut [usize], n: usize) -> bool {
    let k = c.len();
    for i in (0..k).rev() {
        if c[i] < n - k + i {
            c[i] += 1;
            for j in (i + 1)..k {
                c[j] = c[j - 1] + 1;
            }
            return true;
        }
    }
    false
}

/// A partially directed graph with what decided each arrowhead.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Pdag {
    pub(crate) n: usize,
    adjacent: Vec<bool>,
    /// `Some(why)` at `a * n + b` when `a -> b`.
    arrow: Vec<Option<Decision>>,
}

impl Pdag {
    pub(crate) fn new(n: usize, adjacent: Vec<bool>) -> Self {
        Pdag {
            n,
            adjacent,
            arrow: vec![None; n * n],
        }
    }

    pub(crate) fn adjacent(&self, a: usize, b: usize) -> bool {
        self.adjacent[a * self.n + b]
    }

    pub(crate) fn directed(&self, a: usize, b: usize) -> bool {
        self.arrow[a * self.n + b].is_some()
    }

    pub(crate) fn undirected(&self, a: usize, b: usize) -> bool {
        self.adjacent(a, b) && !self.directed(a, b) && !self.directed(b, a)
    }

    /// What oriented `a -> b`, if it is.
    pub(crate) fn orientation(&self, a: usize, b: usize) -> Option<Decision> {
        self.arrow[a * self.n + b]
    }

    pub(crate) fn orient(&mut self, a: usize, b: usize, why: Decision) {
        self.arrow[a * self.n + b] = Some(why);
    }

    /// Whether a directed path leads from `from` to `to`.
    fn directed_path(&self, from: usize, to: usize) -> bool {
        let mut seen = vec![false; self.n];
        let mut stack = vec![from];
        while let Some(v) = stack.pop() {
            if v == to {
                return true;
            }
            for (w, seen) in seen.iter_mut().enumerate() {
                if !*seen && self.directed(v, w) {
                    *seen = true;
                    stack.push(w);
                }
            }
        }
        false
    }
}

/// Orients every undirected edge that the knowledge allows one way only (required
/// edges among them).
pub(crate) fn orient_by_knowledge(g: &mut Pdag, knowledge: &ResolvedKnowledge) {
    for a in 0..g.n {
        for b in 0..g.n {
            if g.undirected(a, b) && knowledge.allows(a, b) && !knowledge.allows(b, a) {
                g.orient(a, b, Decision::Knowledge);
            }
        }
    }
}

/// Step 2: unshielded colliders from the separating sets, strongest first; returns
/// notes on the colliders that conflicted with arrowheads already placed.
pub(crate) fn orient_colliders(
    g: &mut Pdag,
    skeleton: &Skeleton,
    knowledge: &ResolvedKnowledge,
    names: &[String],
) -> Vec<String> {
    let n = g.n;
    let mut candidates: Vec<(f64, usize, usize, usize)> = Vec::new();
    for z in 0..n {
        for x in 0..n {
            for y in (x + 1)..n {
                if x == z || y == z || !g.adjacent(x, z) || !g.adjacent(y, z) || g.adjacent(x, y) {
                    continue;
                }
                if let Some(sep) = &skeleton.separation[x * n + y] {
                    if !sep.given.contains(&z) {
                        candidates.push((sep.p_value, z, x, y));
                    }
                }
            }
        }
    }
    candidates.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then((a.1, a.2, a.3).cmp(&(b.1, b.2, b.3)))
    });
    let mut notes = Vec::new();
    for (_, z, x, y) in candidates {
        let blocked = [x, y].into_iter().find_map(|v| {
            if g.directed(z, v) {
                Some(format!(
                    "`{} -> {}` was already decided",
                    names[z], names[v]
                ))
            } else {
                knowledge
                    .refusal(v, z, names)
                    .map(|why| format!("`{} -> {}`: {why}", names[v], names[z]))
            }
        });
        match blocked {
            Some(why) => notes.push(format!(
                "collider {} -> {} <- {} not applied: {why}",
                names[x], names[z], names[y]
            )),
            None => {
                for v in [x, y] {
                    if !g.directed(v, z) {
                        g.orient(v, z, Decision::Collider);
                    }
                }
            }
        }
    }
    notes
}

/// Step 3: Meek's rules R1–R4 until none applies, never against the knowledge.
pub(crate) fn meek(g: &mut Pdag, knowledge: &ResolvedKnowledge) {
    loop {
        let mut changed = false;
        for a in 0..g.n {
            for b in 0..g.n {
                if a == b || !g.undirected(a, b) || !knowledge.allows(a, b) {
                    continue;
                }
                if let Some(rule) = meek_rule(g, a, b) {
                    g.orient(a, b, Decision::Meek(rule));
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
}

/// The first of Meek's rules that orients the undirected edge a − b as a → b.
pub(crate) fn meek_rule(g: &Pdag, a: usize, b: usize) -> Option<MeekRule> {
    let n = g.n;
    let others = || (0..n).filter(move |&v| v != a && v != b);
    // R1: c → a − b with c and b not adjacent (else c → a ← b would be a new collider).
    if others().any(|c| g.directed(c, a) && !g.adjacent(c, b)) {
        return Some(MeekRule::R1);
    }
    // R2: a → c → b (else b → a would close a cycle).
    if others().any(|c| g.directed(a, c) && g.directed(c, b)) {
        return Some(MeekRule::R2);
    }
    // R3: a − c → b and a − d → b with c, d not adjacent (else b → a forces a new
    // collider c → a ← d through R2).
    let kites: Vec<usize> = others()
        .filter(|&c| g.undirected(a, c) && g.directed(c, b))
        .collect();
    if kites
        .iter()
        .enumerate()
        .any(|(i, &c)| kites[i + 1..].iter().any(|&d| !g.adjacent(c, d)))
    {
        return Some(MeekRule::R3);
    }
    // R4: c → d → b with a adjacent to c and d, c and b not adjacent (else b → a
    // forces c → a ← b or a cycle).
    if others().any(|d| {
        g.directed(d, b)
            && g.adjacent(a, d)
            && others().any(|c| c != d && g.directed(c, d) && g.adjacent(a, c) && !g.adjacent(c, b))
    }) {
        return Some(MeekRule::R4);
    }
    None
}

/// A prior by index.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IndexedPrior {
    pub(crate) source: usize,
    pub(crate) target: usize,
    pub(crate) confidence: f64,
}

/// Step 4: priors orient undirected edges, strongest first (ties in variable order),
/// when the knowledge allows it and no cycle or new collider results; Meek's rules
/// follow each. Returns notes on the priors that were not applied.
pub(crate) fn apply_priors(
    g: &mut Pdag,
    priors: &[IndexedPrior],
    knowledge: &ResolvedKnowledge,
    names: &[String],
    explain_missing: &dyn Fn(usize, usize) -> String,
) -> Vec<String> {
    let mut order: Vec<&IndexedPrior> = priors.iter().collect();
    order.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then((a.source, a.target).cmp(&(b.source, b.target)))
    });
    let mut notes = Vec::new();
    for prior in order {
        let (s, t) = (prior.source, prior.target);
        let what = format!("prior {} -> {} ({})", names[s], names[t], prior.confidence);
        let reason = if !g.adjacent(s, t) {
            Some(format!("not kept: {}", explain_missing(s, t)))
        } else if g.directed(s, t) {
            None
        } else if let Some(why) = g.orientation(t, s) {
            Some(format!(
                "overruled: {} orients {} -> {}",
                why.describe(),
                names[t],
                names[s]
            ))
        } else if let Some(why) = knowledge.refusal(s, t, names) {
            Some(format!("not applied: {why}"))
        } else if g.directed_path(t, s) {
            Some("not applied: it would close a directed cycle".to_string())
        } else if let Some(c) = (0..g.n).find(|&c| c != s && g.directed(c, t) && !g.adjacent(c, s))
        {
            Some(format!(
                "not applied: it would make a collider {} -> {} <- {} that the data do not show",
                names[s], names[t], names[c]
            ))
        } else {
            g.orient(s, t, Decision::Prior);
            meek(g, knowledge);
            None
        };
        if let Some(reason) = reason {
            notes.push(format!("{what} {reason}"));
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PDAG over `n` nodes from undirected pairs and directed pairs.
    fn pdag(n: usize, undirected: &[(usize, usize)], directed: &[(usize, usize)]) -> Pdag {
        let mut adjacent = vec![false; n * n];
        for &(a, b) in undirected.iter().chain(directed) {
            adjacent[a * n + b] = true;
            adjacent[b * n + a] = true;
        }
        let mut g = Pdag::new(n, adjacent);
        for &(a, b) in directed {
            g.orient(a, b, Decision::Collider);
        }
        g
    }

    #[test]
    fn meek_r1_continues_an_arrow_away_from_a_collider() {
        // 0 → 1 − 2, 0 and 2 not adjacent ⇒ 1 → 2.
        let mut g = pdag(3, &[(1, 2)], &[(0, 1)]);
        assert_eq!(meek_rule(&g, 1, 2), Some(MeekRule::R1));
        assert_eq!(meek_rule(&g, 2, 1), None);
        meek(&mut g, &ResolvedKnowledge::none(3));
        assert_eq!(g.orientation(1, 2), Some(Decision::Meek(MeekRule::R1)));
    }

    #[test]
    fn meek_r2_avoids_a_cycle() {
        // 0 → 1 → 2 and 0 − 2 ⇒ 0 → 2.
        let g = pdag(3, &[(0, 2)], &[(0, 1), (1, 2)]);
        assert_eq!(meek_rule(&g, 0, 2), Some(MeekRule::R2));
        assert_eq!(meek_rule(&g, 2, 0), None);
    }

    #[test]
    fn meek_r3_orients_the_kite() {
        // 0 − 1, 0 − 2, 0 − 3; 1 → 3 ← 2 with 1, 2 not adjacent ⇒ 0 → 3.
        let g = pdag(4, &[(0, 1), (0, 2), (0, 3)], &[(1, 3), (2, 3)]);
        assert_eq!(meek_rule(&g, 0, 3), Some(MeekRule::R3));
        assert_eq!(meek_rule(&g, 3, 0), None);
        assert_eq!(meek_rule(&g, 0, 1), None);
    }

    #[test]
    fn meek_r4_follows_a_directed_chain_around() {
        // a=0 − b=1; c=2 → d=3 → b=1; a − c, a − d; c, b not adjacent ⇒ 0 → 1.
        let g = pdag(4, &[(0, 1), (0, 2), (0, 3)], &[(2, 3), (3, 1)]);
        assert_eq!(meek_rule(&g, 0, 1), Some(MeekRule::R4));
        assert_eq!(meek_rule(&g, 1, 0), None);
    }

    #[test]
    fn meek_never_orients_against_knowledge() {
        let mut g = pdag(3, &[(1, 2)], &[(0, 1)]);
        let mut knowledge = ResolvedKnowledge::none(3);
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        knowledge = crate::discover::Knowledge {
            forbidden: vec![("b".into(), "c".into())],
            ..Default::default()
        }
        .resolve(&names)
        .unwrap_or(knowledge);
        meek(&mut g, &knowledge);
        assert!(
            g.undirected(1, 2),
            "R1 would orient b -> c, which is forbidden"
        );
    }

    #[test]
    fn combinations_run_in_lexicographic_order() {
        let mut c = vec![0, 1];
        let mut seen = vec![c.clone()];
        while next_combination(&mut c, 4) {
            seen.push(c.clone());
        }
        assert_eq!(
            seen,
            [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]].map(|a| a.to_vec())
        );
        let mut empty: Vec<usize> = vec![];
        assert!(!next_combination(&mut empty, 3));
    }
}
