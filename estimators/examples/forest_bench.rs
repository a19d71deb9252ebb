//! Times the nuisance forest at the size of one DML fold: fit on 80,000 × 20 rows,
//! predict 20,000 held-out rows, five repetitions; prints the median times and the
//! held-out R².
//!
//! ```text
//! cargo run --release -p causeway-estimators --example forest_bench
//! ```
//!
//! `FOREST_TREES`, `FOREST_DEPTH`, `FOREST_BINS`, `FOREST_MTRY` and `FOREST_SAMPLE`
//! override the defaults, to compare settings without editing code.

use std::time::{Duration, Instant};

use causeway_estimators::learners::forest::ForestParams;
use ndarray::{Array1, Array2, Axis};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

const N_TRAIN: usize = 80_000;
const N_TEST: usize = 20_000;
const N_FEATURES: usize = 20;
const REPEATS: usize = 5;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let params = params_from_env(ForestParams::default())?;
    let (x, y, truth) = synthetic(N_TRAIN + N_TEST, 42);
    // `split_at` rather than `s![]`: the macro expands to an `allow(unsafe_code)`
    // that the workspace's `forbid` rejects.
    let (x_train, x_test) = x.view().split_at(Axis(0), N_TRAIN);
    let (y_train, y_test) = y.view().split_at(Axis(0), N_TRAIN);
    let (_, truth_test) = truth.view().split_at(Axis(0), N_TRAIN);

    let valid = params.check()?;
    let mut fit_times = Vec::new();
    let mut predict_times = Vec::new();
    let mut predictions = Array1::zeros(0);
    for _ in 0..REPEATS {
        let start = Instant::now();
        let forest = valid.fit(x_train, y_train)?;
        fit_times.push(start.elapsed());
        let start = Instant::now();
        predictions = forest.predict(x_test)?;
        predict_times.push(start.elapsed());
    }
    println!("{params:?}");
    println!(
        "{N_TRAIN} x {N_FEATURES} fit, {N_TEST} predicted, {} rayon threads, {REPEATS} repeats",
        rayon::current_num_threads()
    );
    println!("median fit:     {:>8.1} ms", median_ms(&mut fit_times));
    println!("median predict: {:>8.1} ms", median_ms(&mut predict_times));
    let r2 = r_squared(y_test.iter().copied(), predictions.iter().copied());
    let r2_truth = r_squared(y_test.iter().copied(), truth_test.iter().copied());
    println!("held-out R²:    {r2:.4} (the true regression function reaches {r2_truth:.4})");
    Ok(())
}

/// y = sin(2 x0) + x1² + x2·x3 + 0.5·x4 + N(0, 0.5²); x standard normal, 15 noise columns.
fn synthetic(n: usize, seed: u64) -> (Array2<f64>, Array1<f64>, Array1<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let normal = Normal::new(0.0, 1.0).expect("valid normal");
    let x: Array2<f64> = Array2::from_shape_simple_fn((n, N_FEATURES), || normal.sample(&mut rng));
    let truth = Array1::from_shape_fn(n, |i| {
        let r = x.row(i);
        (2.0 * r[0]).sin() + r[1] * r[1] + r[2] * r[3] + 0.5 * r[4]
    });
    let y = &truth + &Array1::from_shape_simple_fn(n, || 0.5 * normal.sample(&mut rng));
    (x, y, truth)
}

fn params_from_env(mut p: ForestParams) -> Result<ForestParams, Box<dyn std::error::Error>> {
    let var = |name: &str| std::env::var(name).ok();
    if let Some(v) = var("FOREST_TREES") {
        p.n_trees = v.parse()?;
    }
    if let Some(v) = var("FOREST_DEPTH") {
        p.max_depth = v.parse()?;
    }
    if let Some(v) = var("FOREST_BINS") {
        p.max_bins = v.parse()?;
    }
    if let Some(v) = var("FOREST_MTRY") {
        p.max_features = v.parse()?;
    }
    if let Some(v) = var("FOREST_SAMPLE") {
        p.sample_fraction = v.parse()?;
    }
    if let Some(v) = var("FOREST_LEAF") {
        p.min_samples_leaf = v.parse()?;
    }
    Ok(p)
}

fn median_ms(times: &mut [Duration]) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1e3
}

fn r_squared(y: impl Iterator<Item = f64> + Clone, fitted: impl Iterator<Item = f64>) -> f64 {
    let n = y.clone().count() as f64;
    let mean = y.clone().sum::<f64>() / n;
    let total: f64 = y.clone().map(|v| (v - mean).powi(2)).sum();
    let residual: f64 = y.zip(fitted).map(|(v, f)| (v - f).powi(2)).sum();
    1.0 - residual / total
}
