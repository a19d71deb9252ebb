//! Discovery end to end: exact recovery on seeded data, knowledge and priors, thread
//! independence, and properties over random DAGs with a d-separation oracle.

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use super::*;
use crate::graph::random_dag;

/// Perfect tests: p = 1 when the DAG d-separates the pair, else 0.
struct Oracle(CausalGraph);

impl CiTest for Oracle {
    fn name(&self) -> &'static str {
        "oracle"
    }

    fn p_value(&self, x: usize, y: usize, given: &[usize]) -> f64 {
        if self.0.d_separated_indices(&[x], &[y], given) {
            1.0
        } else {
            0.0
        }
    }
}

/// Linear-Gaussian data from `edges` (weights given); `names` must be in a
/// topological order.
fn simulate(names: &[&str], edges: &[(&str, &str, f64)], n: usize, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut columns: Vec<Vec<f64>> = vec![Vec::with_capacity(n); names.len()];
    let index = |name: &str| names.iter().position(|v| *v == name).unwrap();
    for _ in 0..n {
        let mut row = vec![0.0; names.len()];
        for (j, name) in names.iter().enumerate() {
            let noise: f64 = rng.sample(StandardNormal);
            row[j] = noise
                + edges
                    .iter()
                    .filter(|(_, t, _)| t == name)
                    .map(|(s, _, w)| w * row[index(s)])
                    .sum::<f64>();
        }
        for (column, value) in columns.iter_mut().zip(row) {
            column.push(value);
        }
    }
    Dataset::from_columns(
        "simulated",
        names.iter().map(|s| s.to_string()).zip(columns).collect(),
    )
    .unwrap()
}

/// g → h → a → c ← b, c → d → e ← f, c → e: g − h − a stays undirected, the rest is
/// oriented by the colliders at c and e and by R1.
const NAMES: [&str; 8] = ["g", "h", "a", "b", "c", "d", "f", "e"];
const EDGES: [(&str, &str, f64); 8] = [
    ("g", "h", 0.8),
    ("h", "a", -0.7),
    ("a", "c", 0.6),
    ("b", "c", 0.7),
    ("c", "d", 0.5),
    ("d", "e", 0.6),
    ("c", "e", -0.5),
    ("f", "e", 0.8),
];

fn truth() -> CausalGraph {
    let edges: Vec<(String, String)> = EDGES
        .iter()
        .map(|(s, t, _)| (s.to_string(), t.to_string()))
        .collect();
    CausalGraph::from_edges(&edges, &[]).unwrap()
}

fn summary(cpdag: &Cpdag) -> Vec<String> {
    let mut edges: Vec<String> = cpdag
        .edges
        .iter()
        .map(|e| {
            let (s, t) = if e.oriented || e.source < e.target {
                (&e.source, &e.target)
            } else {
                (&e.target, &e.source)
            };
            format!("{s}{}{t}", if e.oriented { "->" } else { "--" })
        })
        .collect();
    edges.sort();
    edges
}

fn edge<'a>(cpdag: &'a Cpdag, a: &str, b: &str) -> Option<&'a CpdagEdge> {
    cpdag
        .edges
        .iter()
        .find(|e| (e.source == a && e.target == b) || (e.source == b && e.target == a))
}

#[test]
fn the_cpdag_of_a_dag_keeps_only_what_the_class_shares() {
    assert_eq!(
        summary(&cpdag_of_dag(&truth())),
        ["a--h", "a->c", "b->c", "c->d", "c->e", "d->e", "f->e", "g--h"]
    );
}

#[test]
fn collider_detection_orients_a_v_structure() {
    let data = simulate(
        &["x", "y", "z"],
        &[("x", "z", 0.8), ("y", "z", 0.8)],
        2_000,
        5,
    );
    let cpdag = discover(&data, &Knowledge::default(), &[], &PcParams::default()).unwrap();
    assert_eq!(summary(&cpdag), ["x->z", "y->z"]);
    assert!(cpdag
        .edges
        .iter()
        .all(|e| e.orientation == Some(Decision::Collider) && e.adjacency == Decision::Data));
    assert_eq!(cpdag.removed.len(), 1);
    assert!(cpdag.removed[0].explanation.starts_with("x ⫫ y | {}, p = "));
}

#[test]
fn pc_recovers_the_cpdag_of_a_linear_gaussian_dag_at_n_10000() {
    let data = simulate(&NAMES, &EDGES, 10_000, 42);
    let cpdag = discover(&data, &Knowledge::default(), &[], &PcParams::default()).unwrap();
    assert_eq!(summary(&cpdag), summary(&cpdag_of_dag(&truth())));
    // Every missing edge is explained by a separating set the truth agrees with.
    let g = truth();
    for removed in &cpdag.removed {
        let given: Vec<&str> = removed.separating_set.iter().map(String::as_str).collect();
        assert!(
            g.d_separated(&[&removed.x], &[&removed.y], &given).unwrap(),
            "{}",
            removed.explanation
        );
    }
    assert_eq!(
        edge(&cpdag, "c", "d").unwrap().orientation,
        Some(Decision::Meek(MeekRule::R1))
    );
}

#[test]
fn the_result_does_not_depend_on_the_number_of_threads() {
    let data = simulate(&NAMES, &EDGES, 500, 7);
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| discover(&data, &Knowledge::default(), &[], &PcParams::default()))
            .unwrap()
    };
    let one = run(1);
    assert_eq!(one, run(4));
    assert_eq!(one, run(3));
}

#[test]
fn knowledge_overrides_the_data_and_says_so() {
    let data = simulate(&NAMES, &EDGES, 5_000, 42);
    let knowledge = Knowledge {
        // Against the collider a → c ← b that the data show.
        forbidden: vec![("a".into(), "c".into())],
        // Between two independent variables: kept although the data would drop it.
        required: vec![("g".into(), "f".into())],
        tiers: vec![vec!["h".into()], vec!["g".into()]],
    };
    let cpdag = discover(&data, &knowledge, &[], &PcParams::default()).unwrap();
    let gf = edge(&cpdag, "g", "f").unwrap();
    assert_eq!((gf.source.as_str(), gf.oriented), ("g", true));
    assert_eq!(
        (gf.adjacency, gf.orientation, gf.p_value),
        (Decision::Knowledge, Some(Decision::Knowledge), None)
    );
    let ac = edge(&cpdag, "a", "c").unwrap();
    assert_eq!(
        (ac.source.as_str(), ac.orientation),
        ("c", Some(Decision::Knowledge))
    );
    let gh = edge(&cpdag, "g", "h").unwrap();
    assert_eq!(
        (gh.source.as_str(), gh.oriented),
        ("h", true),
        "tiers orient h -> g"
    );
    assert!(
        cpdag
            .notes
            .iter()
            .any(|n| n.starts_with("collider a -> c <- b not applied")),
        "{:?}",
        cpdag.notes
    );
}

#[test]
fn priors_orient_only_what_the_data_leave_open() {
    let data = simulate(&NAMES, &EDGES, 5_000, 42);
    let prior = |s: &str, t: &str, c: f64| Prior {
        source: s.into(),
        target: t.into(),
        confidence: c,
    };
    let priors = [
        prior("a", "h", 0.9),
        prior("c", "a", 0.95),
        prior("a", "d", 0.99),
    ];
    let cpdag = discover(&data, &Knowledge::default(), &priors, &PcParams::default()).unwrap();
    let ah = edge(&cpdag, "a", "h").unwrap();
    assert_eq!(
        (ah.source.as_str(), ah.orientation),
        ("a", Some(Decision::Prior))
    );
    let gh = edge(&cpdag, "g", "h").unwrap();
    assert_eq!(
        (gh.source.as_str(), gh.orientation),
        ("h", Some(Decision::Meek(MeekRule::R1)))
    );
    assert_eq!(
        edge(&cpdag, "a", "c").unwrap().source,
        "a",
        "the collider stays"
    );
    assert!(
        edge(&cpdag, "a", "d").is_none(),
        "a prior never keeps a removed edge"
    );
    assert_eq!(cpdag.notes.len(), 2, "{:?}", cpdag.notes);
    assert!(
        cpdag.notes[0].starts_with("prior a -> d (0.99) not kept: a ⫫ d | {c}"),
        "{:?}",
        cpdag.notes
    );
    assert!(cpdag.notes[1].starts_with("prior c -> a (0.95) overruled: a collider"));
}

#[test]
fn bad_input_is_refused_with_a_clear_line() {
    let data = simulate(&["x", "y"], &[], 3, 1);
    let error = discover(&data, &Knowledge::default(), &[], &PcParams::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "simulated: 3 rows are too few for 2 variables; discovery needs at least 4 rows (variables + 2), and many more for reliable tests"
    );
    let data = simulate(&["x", "y"], &[], 50, 1);
    let priors = [Prior {
        source: "x".into(),
        target: "yy".into(),
        confidence: 0.5,
    }];
    let error = discover(&data, &Knowledge::default(), &priors, &PcParams::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown variable `yy`; did you mean `y`?"
    );
    let params = PcParams {
        alpha: 1.5,
        ..PcParams::default()
    };
    assert!(discover(&data, &Knowledge::default(), &[], &params).is_err());
}

#[test]
fn discrete_data_use_the_g_test() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let (mut x, mut y, mut z) = (vec![], vec![], vec![]);
    for _ in 0..3_000 {
        let a = f64::from(u8::from(rng.gen::<f64>() < 0.5));
        let b = f64::from(u8::from(rng.gen::<f64>() < 0.5));
        let flip = rng.gen::<f64>() < 0.1;
        x.push(a);
        y.push(b);
        // z = a xor b, mostly: a collider without any marginal correlation with either.
        z.push(if (a != b) != flip { 1.0 } else { 0.0 });
    }
    let data = Dataset::from_columns(
        "xor",
        vec![("x".into(), x), ("y".into(), y), ("z".into(), z)],
    )
    .unwrap();
    let cpdag = discover(&data, &Knowledge::default(), &[], &PcParams::default()).unwrap();
    assert_eq!(cpdag.test, "g-test");
    // Pairwise the three are independent: the G-test (like Fisher's z) sees no edge.
    // The xor is the textbook failure of faithfulness, so PC finds nothing.
    assert!(cpdag.edges.is_empty());
}

/// Variables, DAG edge bits, knowledge marks, tiers and prior marks.
type Case = (usize, Vec<bool>, Vec<u8>, Vec<Option<u8>>, Vec<u8>);

/// A random DAG (edges forward in index order), with random knowledge and priors.
fn case() -> impl Strategy<Value = Case> {
    (2usize..8).prop_flat_map(|n| {
        let pairs = n * (n - 1) / 2;
        (
            Just(n),
            proptest::collection::vec(any::<bool>(), pairs),
            // Per ordered pair: 0-15 nothing, 16 required, 17-18 forbidden.
            proptest::collection::vec(0u8..20, n * n),
            proptest::collection::vec(proptest::option::of(0u8..3), n),
            // Per ordered pair: a prior with confidence k / 10 when k < 10.
            proptest::collection::vec(0u8..30, n * n),
        )
    })
}

fn knowledge_and_priors(
    names: &[String],
    marks: &[u8],
    tiers: &[Option<u8>],
    prior_marks: &[u8],
) -> (Knowledge, Vec<Prior>) {
    let n = names.len();
    let mut knowledge = Knowledge::default();
    let mut priors = Vec::new();
    for a in 0..n {
        for b in 0..n {
            if a == b {
                continue;
            }
            let pair = (names[a].clone(), names[b].clone());
            match marks[a * n + b] {
                16 => knowledge.required.push(pair.clone()),
                17 | 18 => knowledge.forbidden.push(pair.clone()),
                _ => {}
            }
            if prior_marks[a * n + b] < 10 {
                priors.push(Prior {
                    source: pair.0,
                    target: pair.1,
                    confidence: f64::from(prior_marks[a * n + b]) / 10.0,
                });
            }
        }
    }
    for t in 0..3u8 {
        let tier: Vec<String> = (0..n)
            .filter(|&v| tiers[v] == Some(t))
            .map(|v| names[v].clone())
            .collect();
        knowledge.tiers.push(tier);
    }
    (knowledge, priors)
}

/// The invariants knowledge promises, on any output.
fn check_knowledge(cpdag: &Cpdag, knowledge: &Knowledge) -> std::result::Result<(), TestCaseError> {
    let tier = |v: &str| {
        knowledge
            .tiers
            .iter()
            .position(|t| t.iter().any(|x| x == v))
    };
    let allowed = |a: &str, b: &str| {
        let forbidden = knowledge.forbidden.iter().any(|(s, t)| s == a && t == b);
        let reversed = knowledge.required.iter().any(|(s, t)| s == b && t == a);
        let back = matches!((tier(a), tier(b)), (Some(x), Some(y)) if x > y);
        !forbidden && !reversed && !back
    };
    for (a, b) in &knowledge.required {
        let found = cpdag
            .edges
            .iter()
            .any(|e| e.oriented && &e.source == a && &e.target == b);
        prop_assert!(found, "required {a} -> {b} missing: {:?}", cpdag.edges);
    }
    for e in &cpdag.edges {
        if e.oriented {
            prop_assert!(allowed(&e.source, &e.target), "{e:?} breaks the knowledge");
        } else {
            prop_assert!(
                allowed(&e.source, &e.target) && allowed(&e.target, &e.source),
                "{e:?} is left open although the knowledge allows one direction only"
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn with_perfect_tests_pc_finds_the_cpdag((n, bits, _, _, _) in case()) {
        let g = random_dag(n, &bits, &[]);
        let names: Vec<String> = g.node_names().map(str::to_string).collect();
        let cpdag = discover_with_test(
            &names, Oracle(g.clone()), 1_000, &Knowledge::default(), &[], &PcParams::default(),
        ).unwrap();
        prop_assert_eq!(summary(&cpdag), summary(&cpdag_of_dag(&g)));
    }

    #[test]
    fn knowledge_always_holds_with_perfect_tests(
        (n, bits, marks, tiers, prior_marks) in case()
    ) {
        let g = random_dag(n, &bits, &[]);
        let names: Vec<String> = g.node_names().map(str::to_string).collect();
        let (knowledge, priors) = knowledge_and_priors(&names, &marks, &tiers, &prior_marks);
        if let Ok(cpdag) = discover_with_test(
            &names, Oracle(g), 1_000, &knowledge, &priors, &PcParams::default(),
        ) {
            check_knowledge(&cpdag, &knowledge)?;
        }
    }
}

proptest! {
    // Finite data make inconsistent colliders and orientations, where knowledge is
    // most at risk; fewer cases, as each simulates and tests data.
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn knowledge_always_holds_on_noisy_data(
        (n, bits, marks, tiers, prior_marks) in case(), seed in 0u64..1_000
    ) {
        let g = random_dag(n, &bits, &[]);
        let names: Vec<String> = g.node_names().map(str::to_string).collect();
        let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let edges: Vec<(&str, &str, f64)> = g
            .edges()
            .into_iter()
            .enumerate()
            .map(|(i, (s, t))| (s, t, if i % 2 == 0 { 0.3 } else { -0.4 }))
            .collect();
        let data = simulate(&name_refs, &edges, 150, seed);
        let (knowledge, priors) = knowledge_and_priors(&names, &marks, &tiers, &prior_marks);
        if let Ok(cpdag) = discover(&data, &knowledge, &priors, &PcParams { alpha: 0.2, ..PcParams::default() }) {
            check_knowledge(&cpdag, &knowledge)?;
        }
    }
}

#[test]
fn discovery_reports_each_pair_per_depth_and_a_cancel_stops_it() {
    let data = simulate(&NAMES, &EDGES, 2_000, 11);
    let steps = std::sync::Mutex::new(Vec::new());
    let record = |stage: &str, done: usize, total: usize| {
        steps.lock().unwrap().push((stage.to_string(), done, total));
        Ok(())
    };
    let params = PcParams::default();
    let reported =
        discover_with_progress(&data, &Knowledge::default(), &[], &params, &record).unwrap();
    assert_eq!(
        reported,
        discover(&data, &Knowledge::default(), &[], &params).unwrap(),
        "reporting changes nothing in the graph"
    );
    let steps = steps.into_inner().unwrap();
    // Depth 0 tests all 28 pairs of 8 variables; each depth counts 0 to its total.
    assert_eq!(
        steps[0],
        ("testing pairs given 0 variables".to_string(), 0, 28)
    );
    let mut depth = 0;
    let mut at = 0;
    while at < steps.len() {
        let stage = format!(
            "testing pairs given {depth} variable{}",
            if depth == 1 { "" } else { "s" }
        );
        let total = steps[at].2;
        for done in 0..=total {
            assert_eq!(steps[at], (stage.clone(), done, total), "{steps:?}");
            at += 1;
        }
        depth += 1;
    }
    assert!(depth >= 2, "the truth needs conditioning sets: {steps:?}");

    let stages = std::sync::Mutex::new(Vec::new());
    let cancel_at_depth_one = |stage: &str, done: usize, _: usize| {
        stages.lock().unwrap().push((stage.to_string(), done));
        if stage.contains("given 1 ") && done == 2 {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    };
    let error = discover_with_progress(
        &data,
        &Knowledge::default(),
        &[],
        &params,
        &cancel_at_depth_one,
    )
    .unwrap_err();
    assert!(matches!(error, Error::Cancelled), "{error}");
    let stages = stages.into_inner().unwrap();
    assert_eq!(
        stages.last(),
        Some(&("testing pairs given 1 variable".to_string(), 2)),
        "nothing is reported after the cancel: {stages:?}"
    );
}
