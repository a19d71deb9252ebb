//! `causeway discover` as a process: a generated CSV gives the expected CPDAG in
//! JSON, knowledge is honoured, and bad input exits with code 2 and one clear line.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde_json::Value;

use crate::helpers::{causeway, scratch_dir, write_file};

/// x → z ← y, z → w: a collider the data orient, and R1 after it.
fn collider_csv(n: usize, seed: u64) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut normal = || -> f64 { rng.sample(StandardNormal) };
    let mut csv = String::from("x,y,z,w\n");
    for _ in 0..n {
        let (x, y) = (normal(), normal());
        let z = 0.8 * x + 0.8 * y + normal();
        let w = 0.7 * z + normal();
        csv.push_str(&format!("{x:.6},{y:.6},{z:.6},{w:.6}\n"));
    }
    csv
}

/// The edges of a JSON report as `a->b` (oriented) or `a--b`, with what oriented them.
fn edges(report: &Value) -> Vec<(String, String)> {
    report["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| {
            let arrow = if e["oriented"].as_bool().unwrap() {
                "->"
            } else {
                "--"
            };
            (
                format!(
                    "{}{arrow}{}",
                    e["source"].as_str().unwrap(),
                    e["target"].as_str().unwrap()
                ),
                e["orientation"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn discover_json(args: &[&str]) -> Value {
    let mut all = vec!["discover", "--format", "json"];
    all.extend_from_slice(args);
    let run = causeway(&all);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    serde_json::from_str(&run.stdout).expect("valid JSON on stdout")
}

#[test]
fn discover_finds_a_collider_and_explains_missing_edges() {
    let dir = scratch_dir("discover_collider");
    let data = write_file(&dir, "data.csv", &collider_csv(3_000, 1));
    let report = discover_json(&["--data", &data]);
    let pair = |e: &str, o: &str| (e.to_string(), o.to_string());
    assert_eq!(
        edges(&report),
        [
            pair("x->z", "collider"),
            pair("y->z", "collider"),
            pair("z->w", "meek-r1")
        ]
    );
    let removed: Vec<&str> = report["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["explanation"].as_str().unwrap())
        .collect();
    assert_eq!(removed.len(), 3);
    assert!(removed[0].starts_with("x ⫫ y | {}, p = "), "{removed:?}");
    assert!(removed[1].starts_with("x ⫫ w | {z}, p = "), "{removed:?}");
    assert_eq!(report["test"], "fisher-z");

    // The text table says the same, readably.
    let text = causeway(&["discover", "--data", &data]);
    assert_eq!(text.code, 0, "stderr: {}", text.stderr);
    assert!(
        text.stdout.contains("x -> z  data        collider"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("y ⫫ w | {z}, p = "), "{}", text.stdout);
}

#[test]
fn discover_honours_forbidden_edges_and_priors_file() {
    let dir = scratch_dir("discover_knowledge");
    let data = write_file(&dir, "data.csv", &collider_csv(3_000, 2));
    let priors = write_file(&dir, "priors.csv", "source,target,confidence\nx,w,0.9\n");
    let report = discover_json(&["--data", &data, "--forbid", "z->w", "--priors", &priors]);
    let found = edges(&report);
    assert!(
        found.contains(&("w->z".to_string(), "knowledge".to_string())),
        "{found:?}"
    );
    assert!(!found.iter().any(|(e, _)| e == "z->w"), "{found:?}");
    let notes = report["notes"].as_array().unwrap();
    assert!(
        notes.iter().any(|n| n
            .as_str()
            .unwrap()
            .starts_with("prior x -> w (0.9) not kept: x ⫫ w | {z}")),
        "{notes:?}"
    );

    // GraphML marks what is oriented; DOT too.
    let run = causeway(&[
        "discover", "--data", &data, "--forbid", "z->w", "--format", "graphml",
    ]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert!(
        run.stdout.contains("<edge source=\"w\" target=\"z\">"),
        "{}",
        run.stdout
    );
    assert!(run
        .stdout
        .contains("attr.name=\"oriented\" attr.type=\"boolean\""));
}

#[test]
fn an_undirected_graphml_edge_is_refused_as_a_dag_until_oriented() {
    let dir = scratch_dir("discover_graphml_dag");
    // x → y → z: a chain the data cannot orient.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut csv = String::from("x,y,z\n");
    for _ in 0..2_000 {
        let x: f64 = rng.sample(StandardNormal);
        let y = 0.8 * x + rng.sample::<f64, _>(StandardNormal);
        let z = 0.8 * y + rng.sample::<f64, _>(StandardNormal);
        csv.push_str(&format!("{x:.6},{y:.6},{z:.6}\n"));
    }
    let data = write_file(&dir, "chain.csv", &csv);
    let run = causeway(&["discover", "--data", &data, "--format", "graphml"]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let graph = write_file(&dir, "chain.graphml", &run.stdout);
    let run = causeway(&[
        "estimate",
        "--data",
        &data,
        "--dag",
        &graph,
        "--treatment",
        "x",
        "--outcome",
        "z",
        "--method",
        "ols",
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("edge x -- y is not oriented"),
        "{}",
        run.stderr
    );
}

#[test]
fn discover_bad_input_exits_2_with_one_clear_line() {
    let dir = scratch_dir("discover_bad_input");
    let good = write_file(&dir, "good.csv", &collider_csv(200, 4));
    let constant = write_file(
        &dir,
        "constant.csv",
        "a,b,c\n1,5,2\n2,5,1\n3,5,7\n4,5,2\n5,5,0\n",
    );
    let collinear = write_file(
        &dir,
        "collinear.csv",
        "a,b,c\n1,2,0.5\n2,4,0.1\n3,6,0.9\n4,8,0.3\n5,10,0.7\n6,12,0.2\n",
    );
    let short = write_file(&dir, "short.csv", "a,b,c\n1,2,3\n2,1,3\n");
    let cases: [(Vec<&str>, &str); 6] = [
        (
            vec!["--data", &constant],
            "error: column `b` is constant (every value is 5); a constant can neither cause nor be caused, so leave it out",
        ),
        (
            vec!["--data", &collinear],
            "error: columns `a` and `b` are perfectly collinear (`b` is a linear combination of `a`); leave one of them out",
        ),
        (
            vec!["--data", &short],
            "rows are too few for 3 variables; discovery needs at least 5 rows",
        ),
        (
            vec!["--data", &good, "--require", "x->z", "--forbid", "x->z"],
            "error: invalid input: `x -> z` is both required and forbidden",
        ),
        (
            vec!["--data", &good, "--require", "w->x", "--tiers", "x,y | z,w"],
            "error: invalid input: the required edge `w -> x` goes from tier 2 back to tier 1, which the tiers forbid",
        ),
        (
            vec!["--data", &good, "--forbid", "x->ww"],
            "error: unknown variable `ww`; did you mean `w`?",
        ),
    ];
    for (args, expected) in cases {
        let mut all = vec!["discover"];
        all.extend(args);
        let run = causeway(&all);
        assert_eq!(run.code, 2, "{all:?}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{all:?}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{all:?}: {}", run.stderr);
    }
}
