//! How well and how fast does PC-stable discover a graph, and what do priors add?
//!
//! Seeded random linear-Gaussian DAGs (expected degree 2.5; weights ±U[0.3, 1];
//! unit-variance noise) with 10, 20 and 50 variables and 1,000 and 10,000 rows. Each
//! configuration is averaged over several DAGs and scored against the true DAG:
//! skeleton F1, arrowhead precision and recall (an arrow counts when the true DAG has
//! it), and the structural Hamming distance (pairs whose mark — none, →, ←, − —
//! differs from the DAG's). The `perfect tests` row scores the true CPDAG itself:
//! the best any method without priors can do, since undirected edges count in SHD.
//! Then again with priors: 30% of the true edges (right direction) plus false priors
//! numbering 10% of the true edges (pairs that are not adjacent), all with
//! confidence U[0.5, 1], so the false ones cannot be told apart by confidence.
//! Last, the time of one discovery on 50 variables × 10,000 rows (median of runs).
//!
//! ```text
//! cargo run --release -p causeway-estimators --example discovery_bench -- [--dags 5] [--runs 7]
//! ```

use std::time::Instant;

use causeway_estimators::data::Dataset;
use causeway_estimators::discover::{cpdag_of_dag, discover, Cpdag, Knowledge, PcParams, Prior};
use causeway_estimators::graph::CausalGraph;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

const EXPECTED_DEGREE: f64 = 2.5;

/// A random DAG: variables `v0..`, edges forward in a random order of them.
struct Truth {
    names: Vec<String>,
    edges: Vec<(usize, usize, f64)>,
}

fn random_truth(p: usize, rng: &mut ChaCha8Rng) -> Truth {
    let mut order: Vec<usize> = (0..p).collect();
    order.shuffle(rng);
    let probability = EXPECTED_DEGREE / (p - 1) as f64;
    let mut edges = Vec::new();
    for i in 0..p {
        for j in (i + 1)..p {
            if rng.gen::<f64>() < probability {
                let magnitude = rng.gen_range(0.3..1.0);
                let sign = if rng.gen::<bool>() { 1.0 } else { -1.0 };
                edges.push((order[i], order[j], sign * magnitude));
            }
        }
    }
    Truth {
        names: (0..p).map(|i| format!("v{i}")).collect(),
        edges,
    }
}

impl Truth {
    /// The DAG (isolated variables are left out: they have no edges to score).
    fn graph(&self) -> CausalGraph {
        let edges: Vec<(String, String)> = self
            .edges
            .iter()
            .map(|&(a, b, _)| (self.names[a].clone(), self.names[b].clone()))
            .collect();
        CausalGraph::from_edges(&edges, &[]).expect("edges go forward in a fixed order")
    }

    fn sample(&self, n: usize, rng: &mut ChaCha8Rng) -> Dataset {
        let p = self.names.len();
        let graph = self.graph();
        let mut order: Vec<usize> = graph
            .topological_order()
            .into_iter()
            .map(|name| self.names.iter().position(|v| v == name).expect("known"))
            .collect();
        for v in 0..p {
            if !order.contains(&v) {
                order.push(v);
            }
        }
        let mut columns = vec![vec![0.0; n]; p];
        for &v in &order {
            let parents: Vec<(usize, f64)> = self
                .edges
                .iter()
                .filter(|e| e.1 == v)
                .map(|&(a, _, w)| (a, w))
                .collect();
            // The row indexes the child's column and every parent's.
            #[allow(clippy::needless_range_loop)]
            for row in 0..n {
                let noise: f64 = rng.sample(StandardNormal);
                columns[v][row] = noise
                    + parents
                        .iter()
                        .map(|&(a, w)| w * columns[a][row])
                        .sum::<f64>();
            }
        }
        Dataset::from_columns("bench", self.names.iter().cloned().zip(columns).collect())
            .expect("finite data")
    }

    fn priors(&self, rng: &mut ChaCha8Rng) -> Vec<Prior> {
        let p = self.names.len();
        let mut edges = self.edges.clone();
        edges.shuffle(rng);
        let true_count = (0.3 * edges.len() as f64).round() as usize;
        let false_count = (0.1 * edges.len() as f64).round() as usize;
        let mut priors: Vec<Prior> = edges[..true_count]
            .iter()
            .map(|&(a, b, _)| Prior {
                source: self.names[a].clone(),
                target: self.names[b].clone(),
                confidence: rng.gen_range(0.5..1.0),
            })
            .collect();
        let adjacent = |a: usize, b: usize| {
            self.edges
                .iter()
                .any(|e| (e.0, e.1) == (a, b) || (e.0, e.1) == (b, a))
        };
        let mut added = 0;
        while added < false_count {
            let (a, b) = (rng.gen_range(0..p), rng.gen_range(0..p));
            if a != b && !adjacent(a, b) {
                priors.push(Prior {
                    source: self.names[a].clone(),
                    target: self.names[b].clone(),
                    confidence: rng.gen_range(0.5..1.0),
                });
                added += 1;
            }
        }
        priors
    }
}

#[derive(Default, Clone, Copy)]
struct Score {
    f1: f64,
    arrow_precision: f64,
    arrow_recall: f64,
    shd: f64,
}

/// The mark of each pair: 0 none, 1 a→b, 2 b→a, 3 undirected (a < b by index).
fn marks(cpdag: &Cpdag, names: &[String]) -> Vec<u8> {
    let p = names.len();
    let index = |n: &str| names.iter().position(|v| v == n).expect("known");
    let mut m = vec![0u8; p * p];
    for e in &cpdag.edges {
        let (s, t) = (index(&e.source), index(&e.target));
        let (a, b) = (s.min(t), s.max(t));
        m[a * p + b] = if !e.oriented {
            3
        } else if s < t {
            1
        } else {
            2
        };
    }
    m
}

fn score(cpdag: &Cpdag, truth: &Truth) -> Score {
    let p = truth.names.len();
    let found = marks(cpdag, &truth.names);
    let mut real = vec![0u8; p * p];
    for &(a, b, _) in &truth.edges {
        real[a.min(b) * p + a.max(b)] = if a < b { 1 } else { 2 };
    }
    let (mut tp, mut fp, mut fn_, mut arrows, mut right, mut shd) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for a in 0..p {
        for b in (a + 1)..p {
            let (f, r) = (found[a * p + b], real[a * p + b]);
            match (f != 0, r != 0) {
                (true, true) => tp += 1.0,
                (true, false) => fp += 1.0,
                (false, true) => fn_ += 1.0,
                _ => {}
            }
            if f == 1 || f == 2 {
                arrows += 1.0;
                if f == r {
                    right += 1.0;
                }
            }
            if f != r {
                shd += 1.0;
            }
        }
    }
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 1.0 };
    Score {
        f1: ratio(2.0 * tp, 2.0 * tp + fp + fn_),
        arrow_precision: ratio(right, arrows),
        arrow_recall: ratio(right, truth.edges.len() as f64),
        shd,
    }
}

fn mean(scores: &[Score]) -> Score {
    let k = scores.len() as f64;
    let sum = |f: fn(&Score) -> f64| scores.iter().map(f).sum::<f64>() / k;
    Score {
        f1: sum(|s| s.f1),
        arrow_precision: sum(|s| s.arrow_precision),
        arrow_recall: sum(|s| s.arrow_recall),
        shd: sum(|s| s.shd),
    }
}

fn row(label: &str, s: Score) {
    println!(
        "| {label} | {:.3} | {:.3} | {:.3} | {:.1} |",
        s.f1, s.arrow_precision, s.arrow_recall, s.shd
    );
}

fn main() {
    let mut dags = 5usize;
    let mut runs = 7usize;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = || args.get(i + 1).and_then(|v| v.parse().ok());
        match args[i].as_str() {
            "--dags" => dags = value().expect("--dags N"),
            "--runs" => runs = value().expect("--runs N"),
            other => panic!("unknown argument {other}; use --dags N --runs N"),
        }
        i += 2;
    }
    let params = PcParams::default();
    println!(
        "Averages over {dags} random DAGs per row; alpha = {}.\n",
        params.alpha
    );
    println!("| variables × rows | skeleton F1 | arrowhead precision | arrowhead recall | SHD |");
    println!("|---|---|---|---|---|");
    for p in [10usize, 20, 50] {
        for n in [1_000usize, 10_000] {
            let (mut plain, mut with_priors, mut perfect) = (vec![], vec![], vec![]);
            for seed in 0..dags as u64 {
                let mut rng = ChaCha8Rng::seed_from_u64(seed * 1_000 + p as u64);
                let truth = random_truth(p, &mut rng);
                let data = truth.sample(n, &mut rng);
                let priors = truth.priors(&mut rng);
                let none = Knowledge::default();
                plain.push(score(
                    &discover(&data, &none, &[], &params).expect("runs"),
                    &truth,
                ));
                with_priors.push(score(
                    &discover(&data, &none, &priors, &params).expect("runs"),
                    &truth,
                ));
                perfect.push(score(&cpdag_of_dag(&truth.graph()), &truth));
            }
            row(&format!("{p} × {n}"), mean(&plain));
            row(&format!("{p} × {n}, with priors"), mean(&with_priors));
            if n == 1_000 {
                row(
                    &format!("{p}, perfect tests (the true CPDAG)"),
                    mean(&perfect),
                );
            }
        }
    }

    let mut rng = ChaCha8Rng::seed_from_u64(50_000);
    let truth = random_truth(50, &mut rng);
    let data = truth.sample(10_000, &mut rng);
    let none = Knowledge::default();
    let _ = discover(&data, &none, &[], &params);
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let cpdag = discover(&data, &none, &[], &params).expect("runs");
            std::hint::black_box(cpdag);
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let tests = discover(&data, &none, &[], &params).expect("runs").ci_tests;
    println!(
        "\n50 variables × 10,000 rows ({} true edges, {tests} distinct tests, {} threads): median {:.3} s, min {:.3} s, max {:.3} s over {runs} runs",
        truth.edges.len(),
        rayon::current_num_threads(),
        times[times.len() / 2],
        times[0],
        times[times.len() - 1]
    );
}
