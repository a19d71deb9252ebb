//! Times double machine learning (partially linear model, 5 cross-fitting folds) at
//! production sizes and records how much memory it needs, so that a regression in
//! either shows up as a number rather than as a slow or killed CLI run.
//!
//! ```text
//! cargo run --release -p causeway-estimators --example dml_bench -- [linear|forest|all]
//!     [--rows N] [--runs N]
//! ```
//!
//! | configuration | nuisance learner                  | rows      | covariates | timed runs |
//! |---------------|-----------------------------------|-----------|------------|------------|
//! | `linear`      | `Learner::Linear`                 | 1,000,000 | 20         | 7          |
//! | `forest`      | `Learner::Forest(default params)` | 100,000   | 20         | 5          |
//!
//! The data are synthetic and seeded: 20 independent standard-normal covariates, a
//! continuous treatment `T = 0.5·x1 − 0.5·x2 + 0.25·x3 + 0.25·x4 + v` and an outcome
//! `Y = θ·T + x1 + 0.5·x2 − 0.5·x3 + 0.3·x4 + 0.2·x5 + ε` with `θ = 0.5` and
//! `v, ε ~ N(0, 1)`, so x1..x4 confound the effect. The data set is generated once,
//! outside the timed region; only `Estimator::estimate` is timed, after one warm-up
//! run. The program prints the estimate and its 95% interval and warns when the
//! interval misses θ (a fast estimator that is wrong is no use).
//!
//! Peak memory is the process's `VmHWM` from `/proc/self/status` (Linux only). It is
//! a high-water mark per process, so `all` re-launches this executable once per
//! configuration and collects each child's report: every configuration gets its own
//! peak. The report also gives the size of the data set and the peak right after
//! generating it, so the reader can see what the estimator adds on top.
//!
//! What bounds the linear case: linear DML does no iterative fitting. Each of the two
//! nuisance cross-fits (for `Y` and for `T`) makes a fixed number of passes over the
//! n × 20 covariates: copy the columns into a design matrix, gather each fold's rows
//! and prepend an intercept, weight them, form the per-fold Gram matrices `X'X` and
//! `X'y` (21² multiply-adds per row, the only step with real arithmetic), and predict
//! the held-out fold. Every pass streams 160 MB of `f64` through memory and most of
//! them allocate a fresh copy of it, so the time is bounded by memory bandwidth and
//! allocation (page faults on fresh buffers), not by floating-point work; the peak
//! memory is a few copies of the covariate matrix.

use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use causeway_estimators::data::Dataset;
use causeway_estimators::estimate::{EffectSpec, Estimate, Estimator};
use causeway_estimators::learners::forest::ForestParams;
use causeway_estimators::learners::Learner;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

type BoxResult<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The true effect of the treatment in the synthetic data.
const THETA: f64 = 0.5;
const COVARIATES: usize = 20;
const FOLDS: usize = 5;
/// Seed of the data and of the fold split.
const SEED: u64 = 20_240_601;
const BYTES_PER_MB: f64 = 1_048_576.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Config {
    Linear,
    Forest,
}

impl Config {
    const ALL: [Config; 2] = [Config::Linear, Config::Forest];

    fn name(self) -> &'static str {
        match self {
            Config::Linear => "linear",
            Config::Forest => "forest",
        }
    }

    fn default_rows(self) -> usize {
        match self {
            Config::Linear => 1_000_000,
            Config::Forest => 100_000,
        }
    }

    fn default_runs(self) -> usize {
        match self {
            Config::Linear => 7,
            Config::Forest => 5,
        }
    }

    fn learner(self) -> BoxResult<Learner> {
        Ok(match self {
            Config::Linear => Learner::Linear,
            Config::Forest => Learner::Forest(ForestParams::default().check()?),
        })
    }
}

/// The command line: which configuration(s), and optional size overrides for quick
/// trial runs.
struct Args {
    configs: Vec<Config>,
    all: bool,
    rows: Option<usize>,
    runs: Option<usize>,
}

fn parse_args() -> BoxResult<Args> {
    let mut args = Args {
        configs: Config::ALL.to_vec(),
        all: true,
        rows: None,
        runs: None,
    };
    let mut words = std::env::args().skip(1);
    while let Some(word) = words.next() {
        match word.as_str() {
            "linear" => (args.configs, args.all) = (vec![Config::Linear], false),
            "forest" => (args.configs, args.all) = (vec![Config::Forest], false),
            "all" => (args.configs, args.all) = (Config::ALL.to_vec(), true),
            "--rows" | "--runs" => {
                let value: usize = words
                    .next()
                    .ok_or_else(|| format!("{word} needs a number"))?
                    .parse()
                    .map_err(|e| format!("{word}: {e}"))?;
                if value == 0 {
                    return Err(format!("{word} must be at least 1").into());
                }
                if word == "--rows" {
                    args.rows = Some(value);
                } else {
                    args.runs = Some(value);
                }
            }
            other => {
                return Err(format!(
                    "unknown argument `{other}`; usage: dml_bench [linear|forest|all] [--rows N] [--runs N]"
                )
                .into())
            }
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    match parse_args().and_then(|args| {
        if args.all {
            run_children(&args)
        } else {
            bench(args.configs[0], &args)
        }
    }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs every configuration in its own child process (so each has its own `VmHWM`),
/// forwards their reports and ends with a one-line summary per configuration.
fn run_children(args: &Args) -> BoxResult<()> {
    let exe = std::env::current_exe()?;
    let mut summaries = Vec::new();
    for config in &args.configs {
        let mut command = Command::new(&exe);
        command.arg(config.name());
        if let Some(rows) = args.rows {
            command.args(["--rows", &rows.to_string()]);
        }
        if let Some(runs) = args.runs {
            command.args(["--runs", &runs.to_string()]);
        }
        let output = command.output()?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        print!("{stdout}");
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        if !output.status.success() {
            return Err(format!("the `{}` run failed ({})", config.name(), output.status).into());
        }
        summaries.extend(
            stdout
                .lines()
                .filter(|line| line.starts_with("summary:"))
                .map(str::to_string),
        );
    }
    println!();
    for line in summaries {
        println!("{line}");
    }
    Ok(())
}

fn bench(config: Config, args: &Args) -> BoxResult<()> {
    let rows = args.rows.unwrap_or(config.default_rows());
    let runs = args.runs.unwrap_or(config.default_runs());
    let learner = config.learner()?;
    println!(
        "== {}: DML partially linear, {FOLDS} folds, {} nuisances; {rows} rows x {COVARIATES} covariates; continuous treatment, theta = {THETA}; {} rayon threads",
        config.name(),
        learner.name(),
        rayon::current_num_threads(),
    );

    let start = Instant::now();
    let (data, spec) = synthetic(rows, SEED)?;
    let data_mb = (data.columns().len() * rows * std::mem::size_of::<f64>()) as f64 / BYTES_PER_MB;
    let hwm_data = peak_memory_mb();
    println!(
        "data: {} columns x {rows} rows = {data_mb:.1} MB of f64, generated in {:.2} s; VmHWM after generation {}",
        data.columns().len(),
        start.elapsed().as_secs_f64(),
        show_mb(hwm_data),
    );

    let estimator = Estimator::Dml {
        folds: FOLDS,
        nuisance: learner,
        seed: SEED,
    };
    let warm_up = Instant::now();
    let estimate = estimator.estimate(&data, &spec)?;
    let warm_up = warm_up.elapsed();
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let repeat = estimator.estimate(&data, &spec)?;
        times.push(start.elapsed());
        if repeat.estimate != estimate.estimate {
            return Err("DML gave a different estimate on the same data and seed".into());
        }
    }
    report_estimate(&estimate);
    let (median, min, max) = median_min_max(&mut times);
    println!(
        "estimate() over {runs} runs after 1 warm-up ({:.3} s): median {:.3} s, min {:.3} s, max {:.3} s",
        warm_up.as_secs_f64(),
        median.as_secs_f64(),
        min.as_secs_f64(),
        max.as_secs_f64(),
    );
    let hwm = peak_memory_mb();
    let added = match (hwm, hwm_data) {
        (Some(peak), Some(before)) => format!("{:.1} MB", peak - before),
        _ => "n/a".to_string(),
    };
    println!(
        "peak memory (VmHWM): {}; data set {data_mb:.1} MB; estimation added {added} over the peak after generating the data",
        show_mb(hwm)
    );
    println!(
        "summary: {:<6} {rows:>9} rows  median {:>7.3} s  min {:>7.3} s  max {:>7.3} s  VmHWM {:>9}  data {data_mb:>6.1} MB  theta_hat {:.4} [{:.4}, {:.4}]",
        config.name(),
        median.as_secs_f64(),
        min.as_secs_f64(),
        max.as_secs_f64(),
        show_mb(hwm),
        estimate.estimate,
        estimate.ci_low,
        estimate.ci_high,
    );
    Ok(())
}

/// The synthetic data set described in the module docs, generated column by column
/// so that no row-major copy exists beside the columns the dataset keeps.
fn synthetic(rows: usize, seed: u64) -> BoxResult<(Dataset, EffectSpec)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut normal = || -> f64 { StandardNormal.sample(&mut rng) };
    let x: Vec<Vec<f64>> = (0..COVARIATES)
        .map(|_| (0..rows).map(|_| normal()).collect())
        .collect();
    let t: Vec<f64> = (0..rows)
        .map(|i| 0.5 * x[0][i] - 0.5 * x[1][i] + 0.25 * x[2][i] + 0.25 * x[3][i] + normal())
        .collect();
    let y: Vec<f64> = (0..rows)
        .map(|i| {
            THETA * t[i] + x[0][i] + 0.5 * x[1][i] - 0.5 * x[2][i]
                + 0.3 * x[3][i]
                + 0.2 * x[4][i]
                + normal()
        })
        .collect();
    let names: Vec<String> = (1..=COVARIATES).map(|j| format!("x{j}")).collect();
    let columns = names
        .iter()
        .cloned()
        .zip(x)
        .chain([("t".to_string(), t), ("y".to_string(), y)])
        .collect();
    let spec = EffectSpec {
        treatment: "t".into(),
        outcome: "y".into(),
        covariates: names,
    };
    Ok((Dataset::from_columns("dml_bench synthetic", columns)?, spec))
}

fn report_estimate(estimate: &Estimate) {
    println!(
        "estimate {:.5} (SE {:.5}), 95% CI [{:.5}, {:.5}], truth {THETA}",
        estimate.estimate, estimate.std_error, estimate.ci_low, estimate.ci_high
    );
    if !(estimate.ci_low <= THETA && THETA <= estimate.ci_high) {
        println!(
            "WARNING: the 95% interval does not cover the true effect {THETA} (off by {:.2} standard errors)",
            (estimate.estimate - THETA) / estimate.std_error
        );
    }
    for warning in &estimate.warnings {
        println!("estimator warning: {warning}");
    }
}

fn median_min_max(times: &mut [Duration]) -> (Duration, Duration, Duration) {
    times.sort();
    let n = times.len();
    let median = if n % 2 == 1 {
        times[n / 2]
    } else {
        (times[n / 2 - 1] + times[n / 2]) / 2
    };
    (median, times[0], times[n - 1])
}

/// The process's peak resident set size in MB (`VmHWM`), where `/proc` has it.
fn peak_memory_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0 / BYTES_PER_MB)
}

fn show_mb(mb: Option<f64>) -> String {
    mb.map_or_else(|| "n/a".to_string(), |mb| format!("{mb:.1} MB"))
}
