//! A Monte-Carlo coverage study: do the 95% intervals of OLS, AIPW and DML hold the
//! true effect about 95% of the time, and do their standard errors match the actual
//! spread of the estimates?
//!
//! ```text
//! cargo run --release -p causeway-estimators --example coverage -- [--reps 200]
//!     [--n 2000] [--forest] [--forest-n 1000]
//! ```
//!
//! Each replication `r` (0, 1, …, reps − 1) draws a data set with seed `r` from a
//! process in which every method is correctly specified, so each should be
//! consistent and its interval should cover at the nominal rate:
//!
//! ```text
//! x1..x5 ~ N(0, 1)
//! T ~ Bernoulli(σ(0.5·x1 − 0.5·x2 + 0.25·x3))
//! Y = 1.0·T + x1 + 0.5·x2 − 0.5·x3 + 0.3·x4 + ε,   ε ~ N(0, 1)
//! ```
//!
//! and every method adjusts for x1..x5. OLS is the correct outcome model; AIPW has
//! the correct outcome models and a correct logistic propensity; DML with linear
//! nuisances is the partialling-out (Frisch–Waugh) form of the same regression. With
//! `--forest`, AIPW and DML are also run with random-forest nuisances on smaller data
//! sets (`--forest-n`, default 1,000 rows) to keep the time reasonable; AIPW then
//! trims propensities outside [0.01, 0.99], which does not change the target here
//! because the effect is constant.
//!
//! Per method the program prints the coverage with its Monte-Carlo standard error
//! `sqrt(c(1 − c)/reps)`, the mean bias, the mean reported standard error and the
//! empirical standard deviation of the estimates. It exits with status 1 if any
//! method's coverage is outside [90%, 98%] or any replication failed, so it can serve
//! as a check. Replications run in parallel with rayon; each depends only on its own
//! seed and results are combined in replication order, so the output does not depend
//! on the number of threads (compare the printed fingerprint under
//! `RAYON_NUM_THREADS=1` and `=2`).

use std::process::ExitCode;
use std::time::Instant;

use causeway_estimators::data::Dataset;
use causeway_estimators::estimate::{EffectSpec, Estimator};
use causeway_estimators::learners::forest::ForestParams;
use causeway_estimators::learners::Learner;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

type BoxResult<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The true average effect of T on Y.
const TRUTH: f64 = 1.0;
const COVARIATES: usize = 5;
const FOLDS: usize = 5;
/// The band that the issue requires the coverage of a nominal 95% interval to be in.
const COVERAGE_BAND: (f64, f64) = (0.90, 0.98);

struct Args {
    reps: usize,
    n: usize,
    forest: bool,
    forest_n: usize,
}

fn parse_args() -> BoxResult<Args> {
    let mut args = Args {
        reps: 200,
        n: 2_000,
        forest: false,
        forest_n: 1_000,
    };
    let mut words = std::env::args().skip(1);
    while let Some(word) = words.next() {
        let mut number = |name: &str| -> BoxResult<usize> {
            let value: usize = words
                .next()
                .ok_or_else(|| format!("{name} needs a number"))?
                .parse()
                .map_err(|e| format!("{name}: {e}"))?;
            if value < 2 {
                return Err(format!("{name} must be at least 2").into());
            }
            Ok(value)
        };
        match word.as_str() {
            "--reps" => args.reps = number("--reps")?,
            "--n" => args.n = number("--n")?,
            "--forest-n" => args.forest_n = number("--forest-n")?,
            "--forest" => args.forest = true,
            other => {
                return Err(format!(
                    "unknown argument `{other}`; usage: coverage [--reps N] [--n N] [--forest] [--forest-n N]"
                )
                .into())
            }
        }
    }
    Ok(args)
}

/// One row of the study: an estimator run on data sets of `n` rows.
struct Method {
    label: &'static str,
    n: usize,
    build: fn(u64) -> BoxResult<Estimator>,
}

fn methods(args: &Args) -> Vec<Method> {
    let mut methods = vec![
        Method {
            label: "OLS",
            n: args.n,
            build: |_| Ok(Estimator::Ols),
        },
        Method {
            label: "AIPW (linear)",
            n: args.n,
            build: |seed| {
                Ok(Estimator::Aipw {
                    trim: 0.0,
                    folds: FOLDS,
                    nuisance: Learner::Linear,
                    seed,
                })
            },
        },
        Method {
            label: "DML (linear)",
            n: args.n,
            build: |seed| {
                Ok(Estimator::Dml {
                    folds: FOLDS,
                    nuisance: Learner::Linear,
                    seed,
                })
            },
        },
    ];
    if args.forest {
        methods.push(Method {
            label: "AIPW (forest)",
            n: args.forest_n,
            build: |seed| {
                Ok(Estimator::Aipw {
                    trim: 0.01,
                    folds: FOLDS,
                    nuisance: forest(seed)?,
                    seed,
                })
            },
        });
        methods.push(Method {
            label: "DML (forest)",
            n: args.forest_n,
            build: |seed| {
                Ok(Estimator::Dml {
                    folds: FOLDS,
                    nuisance: forest(seed)?,
                    seed,
                })
            },
        });
    }
    methods
}

fn forest(seed: u64) -> BoxResult<Learner> {
    Ok(Learner::Forest(
        ForestParams {
            seed,
            ..ForestParams::default()
        }
        .check()?,
    ))
}

/// What one replication of one method produced.
#[derive(Clone, Copy)]
struct Draw {
    estimate: f64,
    std_error: f64,
    covered: bool,
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the study; `Ok(false)` when a coverage is outside the band or a replication
/// failed.
fn run() -> BoxResult<bool> {
    let args = parse_args()?;
    let methods = methods(&args);
    let start = Instant::now();
    println!(
        "coverage study: {} replications, truth {TRUTH}, {FOLDS} folds, {} rayon threads",
        args.reps,
        rayon::current_num_threads()
    );

    // One task per replication and method; `collect` keeps the input order, so the
    // summaries below are sums in a fixed order whatever the thread count.
    let draws: Vec<Vec<Result<Draw, String>>> = (0..args.reps as u64)
        .into_par_iter()
        .map(|rep| {
            methods
                .par_iter()
                .map(|method| replicate(method, rep).map_err(|e| format!("{e:#}")))
                .collect()
        })
        .collect();

    println!(
        "\n{:<14} {:>6} {:>5} {:>9} {:>7} {:>9} {:>8} {:>8} {:>7}",
        "method", "n", "reps", "coverage", "MC SE", "mean bias", "mean SE", "emp. SD", "SE/SD"
    );
    let mut ok = true;
    let mut fingerprint = 0.0;
    for (m, method) in methods.iter().enumerate() {
        let mut good = Vec::with_capacity(args.reps);
        for (rep, row) in draws.iter().enumerate() {
            match &row[m] {
                Ok(draw) => good.push(*draw),
                Err(message) => {
                    ok = false;
                    eprintln!("{} replication {rep} failed: {message}", method.label);
                }
            }
        }
        let summary = summarise(&good);
        fingerprint += good.iter().map(|d| d.estimate).sum::<f64>();
        let in_band = (COVERAGE_BAND.0..=COVERAGE_BAND.1).contains(&summary.coverage);
        ok &= in_band;
        println!(
            "{:<14} {:>6} {:>5} {:>8.1}% {:>6.1}% {:>+9.4} {:>8.4} {:>8.4} {:>7.3}{}",
            method.label,
            method.n,
            good.len(),
            100.0 * summary.coverage,
            100.0 * summary.coverage_se,
            summary.bias,
            summary.mean_se,
            summary.sd,
            summary.mean_se / summary.sd,
            if in_band { "" } else { "  <- outside band" }
        );
    }
    println!(
        "\ncoverage band {:.0}%..{:.0}%: {}",
        100.0 * COVERAGE_BAND.0,
        100.0 * COVERAGE_BAND.1,
        if ok { "all methods inside" } else { "FAILED" }
    );
    println!("fingerprint (sum of all estimates): {fingerprint:.12}");
    println!("total time {:.1} s", start.elapsed().as_secs_f64());
    Ok(ok)
}

fn replicate(method: &Method, rep: u64) -> BoxResult<Draw> {
    let (data, spec) = synthetic(method.n, rep)?;
    let estimate = (method.build)(rep)?.estimate(&data, &spec)?;
    Ok(Draw {
        estimate: estimate.estimate,
        std_error: estimate.std_error,
        covered: estimate.ci_low <= TRUTH && TRUTH <= estimate.ci_high,
    })
}

/// The data-generating process of the module docs, with its own seed.
fn synthetic(n: usize, seed: u64) -> BoxResult<(Dataset, EffectSpec)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut x: Vec<Vec<f64>> = (0..COVARIATES).map(|_| Vec::with_capacity(n)).collect();
    let mut t = Vec::with_capacity(n);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let row: [f64; COVARIATES] = std::array::from_fn(|_| rng.sample(StandardNormal));
        let propensity = 1.0 / (1.0 + (-(0.5 * row[0] - 0.5 * row[1] + 0.25 * row[2])).exp());
        let treated = f64::from(u8::from(rng.gen::<f64>() < propensity));
        let noise: f64 = rng.sample(StandardNormal);
        y.push(TRUTH * treated + row[0] + 0.5 * row[1] - 0.5 * row[2] + 0.3 * row[3] + noise);
        t.push(treated);
        for (column, value) in x.iter_mut().zip(row) {
            column.push(value);
        }
    }
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
    Ok((Dataset::from_columns("coverage synthetic", columns)?, spec))
}

struct Summary {
    coverage: f64,
    coverage_se: f64,
    bias: f64,
    mean_se: f64,
    sd: f64,
}

fn summarise(draws: &[Draw]) -> Summary {
    let reps = draws.len() as f64;
    let coverage = draws.iter().filter(|d| d.covered).count() as f64 / reps;
    let mean = draws.iter().map(|d| d.estimate).sum::<f64>() / reps;
    let variance = draws
        .iter()
        .map(|d| (d.estimate - mean).powi(2))
        .sum::<f64>()
        / (reps - 1.0);
    Summary {
        coverage,
        coverage_se: (coverage * (1.0 - coverage) / reps).sqrt(),
        bias: mean - TRUTH,
        mean_se: draws.iter().map(|d| d.std_error).sum::<f64>() / reps,
        sd: variance.sqrt(),
    }
}
