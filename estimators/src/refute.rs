//! Refuters: checks that try to break an estimate, each reporting its numbers and
//! whether the estimate survived.
//!
//! | refuter | what it does | passes when |
//! |---|---|---|
//! | placebo treatment | re-estimates with the treatment randomly permuted | the placebo effects average to zero (p ≥ 0.05) |
//! | random common cause | adds an independent random covariate | the estimate moves by less than one standard error |
//! | data subset | re-estimates on random 80% subsets | their mean is within one standard error |
//! | bootstrap | resamples rows (units, for panels) with replacement | the percentile interval holds the estimate and the bootstrap spread is within ×2 of the reported standard error |
//! | E-value | how strong an unobserved confounder would have to be | the interval excludes zero (E-value of its bound > 1) |
//!
//! A refuter can only fail to break an estimate; passing them all is evidence, not
//! proof. Replications run in parallel and are seeded, so results are reproducible.
//! Each replicating refuter reports its runs to a [`Progress`] (a stage per
//! refuter, named as in [`Refuter::stage`]) and stops when it cancels;
//! [`refute_all`] passes [`Silent`].

use std::collections::BTreeMap;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::estimate::{EffectSpec, Estimate, Estimator, Method};
use crate::format::number;
use crate::progress::{Progress, Silent, Tally};
use crate::stats::{mean_and_variance, quantile, two_sided_p};

/// The refuters, as named in reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Refuter {
    PlaceboTreatment,
    RandomCommonCause,
    DataSubset,
    Bootstrap,
    EValue,
}

impl Refuter {
    /// The refuter in words, as its progress stage is named ("bootstrap", …).
    pub fn stage(self) -> &'static str {
        match self {
            Refuter::PlaceboTreatment => "placebo treatment",
            Refuter::RandomCommonCause => "random common cause",
            Refuter::DataSubset => "data subset",
            Refuter::Bootstrap => "bootstrap",
            Refuter::EValue => "E-value",
        }
    }
}

/// The outcome of one refuter.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Refutation {
    /// Which refuter ran.
    pub refuter: Refuter,
    /// The original estimate.
    pub estimated: f64,
    /// The effect under the refuter's perturbation (placebo mean, subset mean, …);
    /// absent for the E-value, which is not an effect.
    pub new_effect: Option<f64>,
    /// A p-value where the refuter has one.
    pub p_value: Option<f64>,
    /// Other numbers: bootstrap interval, E-values, number of replications.
    pub numbers: BTreeMap<String, f64>,
    /// Whether the estimate survived.
    pub passed: bool,
    /// One sentence for people.
    pub summary: String,
}

/// How much work the refuters do.
#[derive(Clone, Debug)]
pub struct RefuteOptions {
    /// Permutations for the placebo refuter.
    pub placebo_runs: usize,
    /// Random covariates drawn for the random-common-cause refuter.
    pub common_cause_runs: usize,
    /// Subsets for the data-subset refuter.
    pub subset_runs: usize,
    /// Share of rows in each subset.
    pub subset_fraction: f64,
    /// Bootstrap resamples.
    pub bootstrap_runs: usize,
    /// Seed for every random draw.
    pub seed: u64,
}

impl Default for RefuteOptions {
    fn default() -> Self {
        RefuteOptions {
            placebo_runs: 20,
            common_cause_runs: 10,
            subset_runs: 10,
            subset_fraction: 0.8,
            bootstrap_runs: 100,
            seed: 0,
        }
    }
}

/// Runs every refuter that applies to `estimator` (the placebo refuter does not
/// apply to instrumental variables: a permuted treatment has no first stage).
pub fn refute_all(
    data: &Dataset,
    spec: &EffectSpec,
    estimator: &Estimator,
    estimate: &Estimate,
    options: &RefuteOptions,
) -> Result<Vec<Refutation>> {
    refute_all_with_progress(data, spec, estimator, estimate, options, &Silent)
}

/// [`refute_all`], reporting each replicating refuter's runs to `progress` (one
/// stage per refuter, [`Refuter::stage`]: 0 before its first run, then one step per
/// finished run) and stopping when it cancels; no later refuter starts. The
/// refutations are the same as without it.
///
/// # Errors
/// As [`refute_all`], and [`Error::Cancelled`] from `progress`.
pub fn refute_all_with_progress(
    data: &Dataset,
    spec: &EffectSpec,
    estimator: &Estimator,
    estimate: &Estimate,
    options: &RefuteOptions,
    progress: &dyn Progress,
) -> Result<Vec<Refutation>> {
    let mut refutations = Vec::new();
    // A refuter that cannot run on these data is reported as not passed, beside
    // the estimate; only a mistake in the options themselves, or a cancel, stops
    // everything.
    let mut keep = |refuter: Refuter, result: Result<Refutation>| -> Result<()> {
        match result {
            Ok(refutation) => refutations.push(refutation),
            Err(error @ (Error::InvalidInput { .. } | Error::Cancelled)) => return Err(error),
            Err(error) => refutations.push(Refutation {
                refuter,
                estimated: estimate.estimate,
                new_effect: None,
                p_value: None,
                numbers: BTreeMap::new(),
                passed: false,
                summary: format!("could not run on these data: {error}"),
            }),
        }
        Ok(())
    };
    if estimator.method() != Method::Iv {
        keep(
            Refuter::PlaceboTreatment,
            placebo_treatment(data, spec, estimator, estimate, options, progress),
        )?;
    }
    keep(
        Refuter::RandomCommonCause,
        random_common_cause(data, spec, estimator, estimate, options, progress),
    )?;
    keep(
        Refuter::DataSubset,
        data_subset(data, spec, estimator, estimate, options, progress),
    )?;
    keep(
        Refuter::Bootstrap,
        bootstrap(data, spec, estimator, estimate, options, progress),
    )?;
    keep(Refuter::EValue, e_value(data, spec, estimate))?;
    Ok(refutations)
}

/// Runs `runs` replications in parallel, each with its own seeded RNG, and
/// returns the estimates of those that could be estimated. A perturbed sample can
/// be degenerate (a resample without treated units); such runs are skipped and
/// counted, unless they are half or more, which makes the refuter itself fail.
/// Finished runs are reported to `progress` as `refuter`'s stage; its cancel
/// stops them all.
fn replicate(
    refuter: Refuter,
    runs: usize,
    seed: u64,
    estimator: &Estimator,
    progress: &dyn Progress,
    one: impl Fn(&mut ChaCha8Rng, &Estimator) -> Result<f64> + Sync,
) -> Result<Vec<f64>> {
    if runs < 2 {
        return Err(Error::invalid_input("a refuter needs at least 2 runs"));
    }
    let tally = Tally::start(progress, refuter.stage(), runs)?;
    // The outer result is the cancel; the inner one a run's own failure.
    let results: Vec<Result<f64>> = (0..runs)
        .into_par_iter()
        .map(|r| {
            tally.check()?;
            let run_seed = seed
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add(r as u64 + 1);
            let mut rng = ChaCha8Rng::seed_from_u64(run_seed);
            let result = one(&mut rng, &estimator.reseeded(run_seed));
            tally.finished()?;
            Ok(result)
        })
        .collect::<Result<_>>()?;
    let mut effects = Vec::with_capacity(runs);
    let mut first_failure = None;
    for result in results {
        match result {
            Ok(effect) => effects.push(effect),
            Err(error) => {
                first_failure.get_or_insert(error);
            }
        }
    }
    match first_failure {
        Some(error) if effects.len() * 2 <= runs => Err(Error::invalid_data(format!(
            "{} of {runs} runs could not be estimated (first: {error})",
            runs - effects.len()
        ))),
        _ => Ok(effects),
    }
}

/// The run counts every replicating refuter reports.
fn run_counts(attempted: usize, effects: &[f64]) -> [(String, f64); 2] {
    [
        ("runs".into(), effects.len() as f64),
        ("failed_runs".into(), (attempted - effects.len()) as f64),
    ]
}

/// Permutes the treatment: any effect that remains is an artefact of the method.
pub fn placebo_treatment(
    data: &Dataset,
    spec: &EffectSpec,
    estimator: &Estimator,
    estimate: &Estimate,
    options: &RefuteOptions,
    progress: &dyn Progress,
) -> Result<Refutation> {
    let treatment = data.column(&spec.treatment)?.values.clone();
    let effects = replicate(
        Refuter::PlaceboTreatment,
        options.placebo_runs,
        options.seed,
        estimator,
        progress,
        |rng, estimator| {
            let mut permuted = treatment.clone();
            permuted.shuffle(rng);
            let placebo = data.replace_values(&spec.treatment, permuted)?;
            Ok(estimator.estimate(&placebo, spec)?.estimate)
        },
    )?;
    let (mean, variance) = mean_and_variance(effects.iter().copied());
    let runs = effects.len() as f64;
    let p_value = two_sided_p(mean / (variance / runs).sqrt().max(f64::MIN_POSITIVE));
    let as_extreme = effects
        .iter()
        .filter(|e| e.abs() >= estimate.estimate.abs())
        .count();
    let permutation_p = (1 + as_extreme) as f64 / (runs + 1.0);
    let passed = p_value >= 0.05;
    Ok(Refutation {
        refuter: Refuter::PlaceboTreatment,
        estimated: estimate.estimate,
        new_effect: Some(mean),
        p_value: Some(p_value),
        numbers: run_counts(options.placebo_runs, &effects)
            .into_iter()
            .chain([
                ("placebo_sd".into(), variance.sqrt()),
                ("permutation_p_value".into(), permutation_p),
            ])
            .collect(),
        passed,
        summary: format!(
            "with `{}` randomly permuted the effect averages {} over {runs} runs ({}); the real estimate is {} (permutation p = {permutation_p:.3})",
            spec.treatment,
            number(mean),
            if passed { "indistinguishable from zero" } else { "NOT zero: the method finds effects where there are none" },
            number(estimate.estimate),
        ),
    })
}

/// Adds an independent standard-normal covariate: a valid estimate should not move.
pub fn random_common_cause(
    data: &Dataset,
    spec: &EffectSpec,
    estimator: &Estimator,
    estimate: &Estimate,
    options: &RefuteOptions,
    progress: &dyn Progress,
) -> Result<Refutation> {
    let name = unused_name(data, "random_common_cause");
    let mut augmented_spec = spec.clone();
    augmented_spec.covariates.push(name.clone());
    let effects = replicate(
        Refuter::RandomCommonCause,
        options.common_cause_runs,
        options.seed ^ 1,
        estimator,
        progress,
        |rng, estimator| {
            let noise: Vec<f64> = (0..data.n_rows())
                .map(|_| rng.sample(rand_distr::StandardNormal))
                .collect();
            let augmented = data.with_column(&name, noise)?;
            Ok(estimator.estimate(&augmented, &augmented_spec)?.estimate)
        },
    )?;
    stability_refutation(
        Refuter::RandomCommonCause,
        estimate,
        options.common_cause_runs,
        &effects,
        "adding a random common cause",
    )
}

/// Re-estimates on random subsets of the rows.
pub fn data_subset(
    data: &Dataset,
    spec: &EffectSpec,
    estimator: &Estimator,
    estimate: &Estimate,
    options: &RefuteOptions,
    progress: &dyn Progress,
) -> Result<Refutation> {
    if !(0.1..1.0).contains(&options.subset_fraction) {
        return Err(Error::invalid_input(format!(
            "the subset fraction must be in [0.1, 1), got {}",
            options.subset_fraction
        )));
    }
    let n = data.n_rows();
    let size = ((n as f64) * options.subset_fraction).round() as usize;
    let effects = replicate(
        Refuter::DataSubset,
        options.subset_runs,
        options.seed ^ 2,
        estimator,
        progress,
        |rng, estimator| {
            let mut rows: Vec<usize> = (0..n).collect();
            rows.shuffle(rng);
            rows.truncate(size);
            rows.sort_unstable();
            Ok(estimator.estimate(&data.select_rows(&rows), spec)?.estimate)
        },
    )?;
    stability_refutation(
        Refuter::DataSubset,
        estimate,
        options.subset_runs,
        &effects,
        &format!(
            "re-estimating on {:.0}% subsets",
            100.0 * options.subset_fraction
        ),
    )
}

/// Shared verdict of the refuters whose perturbation should leave the estimate
/// where it was: the mean of the perturbed estimates within one standard error.
fn stability_refutation(
    refuter: Refuter,
    estimate: &Estimate,
    attempted: usize,
    effects: &[f64],
    what: &str,
) -> Result<Refutation> {
    let (mean, variance) = mean_and_variance(effects.iter().copied());
    let shift = (mean - estimate.estimate) / estimate.std_error;
    let passed = shift.abs() <= 1.0;
    Ok(Refutation {
        refuter,
        estimated: estimate.estimate,
        new_effect: Some(mean),
        p_value: None,
        numbers: run_counts(attempted, effects)
            .into_iter()
            .chain([
                ("sd".into(), variance.sqrt()),
                ("shift_in_std_errors".into(), shift),
            ])
            .collect(),
        passed,
        summary: format!(
            "{what} gives {} on average, {:.2} standard errors from the estimate ({})",
            number(mean),
            shift.abs(),
            if passed { "stable" } else { "NOT stable" }
        ),
    })
}

/// Resamples rows with replacement (whole units for a panel) and reports the
/// percentile interval.
pub fn bootstrap(
    data: &Dataset,
    spec: &EffectSpec,
    estimator: &Estimator,
    estimate: &Estimate,
    options: &RefuteOptions,
    progress: &dyn Progress,
) -> Result<Refutation> {
    let n = data.n_rows();
    let panel_unit = match estimator {
        Estimator::Did {
            unit: Some(unit), ..
        } => Some(unit.clone()),
        _ => None,
    };
    let unit_rows: Vec<Vec<usize>> = match &panel_unit {
        Some(unit) => {
            let values = &data.column(unit)?.values;
            let mut groups: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
            for (i, v) in values.iter().enumerate() {
                groups.entry(v.to_bits()).or_default().push(i);
            }
            groups.into_values().collect()
        }
        None => Vec::new(),
    };
    let mut effects = replicate(
        Refuter::Bootstrap,
        options.bootstrap_runs,
        options.seed ^ 3,
        estimator,
        progress,
        |rng, estimator| {
            let resampled = match &panel_unit {
                // Drawn units get fresh ids so a unit drawn twice counts as two units.
                Some(unit) => {
                    let mut rows = Vec::with_capacity(n);
                    let mut ids = Vec::with_capacity(n);
                    for draw in 0..unit_rows.len() {
                        let group = &unit_rows[rng.gen_range(0..unit_rows.len())];
                        rows.extend_from_slice(group);
                        ids.extend(std::iter::repeat_n(draw as f64, group.len()));
                    }
                    data.select_rows(&rows).replace_values(unit, ids)?
                }
                None => {
                    let rows: Vec<usize> = (0..n).map(|_| rng.gen_range(0..n)).collect();
                    data.select_rows(&rows)
                }
            };
            Ok(estimator.estimate(&resampled, spec)?.estimate)
        },
    )?;
    let (_, variance) = mean_and_variance(effects.iter().copied());
    let bootstrap_se = variance.sqrt();
    let low = quantile(&mut effects, 0.025);
    let high = quantile(&mut effects, 0.975);
    let median = quantile(&mut effects, 0.5);
    let ratio = bootstrap_se / estimate.std_error;
    let contains = low <= estimate.estimate && estimate.estimate <= high;
    let passed = contains && (0.5..=2.0).contains(&ratio);
    Ok(Refutation {
        refuter: Refuter::Bootstrap,
        estimated: estimate.estimate,
        new_effect: Some(median),
        p_value: None,
        numbers: run_counts(options.bootstrap_runs, &effects)
            .into_iter()
            .chain([
                ("ci_low".into(), low),
                ("ci_high".into(), high),
                ("std_error".into(), bootstrap_se),
                ("std_error_ratio".into(), ratio),
            ])
            .collect(),
        passed,
        summary: format!(
            "bootstrap 95% interval [{}, {}] over {} resamples{}; its spread is {ratio:.2}× the reported standard error ({})",
            number(low),
            number(high),
            effects.len(),
            if panel_unit.is_some() { " of units" } else { "" },
            if passed { "consistent" } else { "NOT consistent" }
        ),
    })
}

/// The E-value (VanderWeele & Ding 2017): the minimum strength of association, on
/// the risk-ratio scale, that an unobserved confounder would need with both the
/// treatment and the outcome to explain the estimate away.
///
/// For a 0/1 outcome the estimate is a risk difference, turned into a risk ratio
/// against the untreated risk p₀: RR = (p₀ + effect) / p₀. For a continuous
/// outcome the effect is standardised, d = effect / σ, and converted with
/// RR ≈ exp(0.91 · d); σ is the pooled standard deviation within treatment arms
/// for a binary treatment (as in VanderWeele & Ding), the outcome's overall
/// standard deviation otherwise.
pub fn e_value(data: &Dataset, spec: &EffectSpec, estimate: &Estimate) -> Result<Refutation> {
    let y = data.numeric(&spec.outcome)?;
    let t = data.numeric(&spec.treatment)?;
    let binary_treatment = t.iter().all(|v| *v == 0.0 || *v == 1.0);
    let arm = |value: f64| {
        y.iter()
            .zip(t.iter())
            .filter(move |(_, ti)| **ti == value)
            .map(|(yi, _)| *yi)
    };
    let to_risk_ratio: Box<dyn Fn(f64) -> f64> = if y.iter().all(|v| *v == 0.0 || *v == 1.0) {
        let (baseline, _) = if binary_treatment {
            mean_and_variance(arm(0.0))
        } else {
            mean_and_variance(y.iter().copied())
        };
        if baseline <= 0.0 || baseline >= 1.0 {
            return Err(Error::invalid_data(format!(
                "outcome `{}` never varies among the untreated, so no risk ratio exists",
                spec.outcome
            )));
        }
        // Risks are kept inside (0, 1] so that a bound beyond them stays finite.
        Box::new(move |effect: f64| (baseline + effect).clamp(1e-12, 1.0) / baseline)
    } else {
        let sd = if binary_treatment {
            let (n1, n0) = (arm(1.0).count() as f64, arm(0.0).count() as f64);
            let (_, v1) = mean_and_variance(arm(1.0));
            let (_, v0) = mean_and_variance(arm(0.0));
            (((n1 - 1.0) * v1 + (n0 - 1.0) * v0) / (n1 + n0 - 2.0).max(1.0)).sqrt()
        } else {
            mean_and_variance(y.iter().copied()).1.sqrt()
        };
        if sd.is_nan() || sd <= 0.0 {
            return Err(Error::invalid_data(format!(
                "outcome `{}` is constant",
                spec.outcome
            )));
        }
        Box::new(move |effect: f64| (0.91 * effect / sd).exp())
    };
    let for_effect = |effect: f64| {
        let rr = to_risk_ratio(effect);
        let rr = if rr < 1.0 { 1.0 / rr } else { rr };
        rr + (rr * (rr - 1.0)).sqrt()
    };
    let point = for_effect(estimate.estimate);
    // The interval bound nearest to zero; an interval that holds zero needs no confounding.
    let bound = if estimate.ci_low <= 0.0 && estimate.ci_high >= 0.0 {
        0.0
    } else if estimate.estimate > 0.0 {
        estimate.ci_low
    } else {
        estimate.ci_high
    };
    let interval = for_effect(bound);
    let passed = interval > 1.0;
    Ok(Refutation {
        refuter: Refuter::EValue,
        estimated: estimate.estimate,
        new_effect: None,
        p_value: None,
        numbers: BTreeMap::from([("e_value".into(), point), ("e_value_ci".into(), interval)]),
        passed,
        summary: if passed {
            format!(
                "to explain the effect away, an unobserved confounder would need a risk ratio of {point:.2} with both `{}` and `{}` ({interval:.2} to move the interval to zero)",
                spec.treatment, spec.outcome
            )
        } else {
            "the interval already includes zero, so no unobserved confounding is needed to explain it away".to_string()
        },
    })
}

fn unused_name(data: &Dataset, base: &str) -> String {
    let names = data.column_names();
    (0..)
        .map(|i| {
            if i == 0 {
                base.to_string()
            } else {
                format!("{base}_{i}")
            }
        })
        .find(|candidate| !names.contains(candidate))
        .unwrap_or_else(|| base.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::StandardNormal;

    /// y = 2 t + x + ε with t confounded by x.
    fn confounded(n: usize, seed: u64) -> (Dataset, EffectSpec) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (mut x, mut t, mut y) = (vec![], vec![], vec![]);
        for _ in 0..n {
            let xi: f64 = rng.sample(StandardNormal);
            let ti = f64::from(u8::from(rng.gen::<f64>() < 1.0 / (1.0 + (-xi).exp())));
            let noise: f64 = rng.sample(StandardNormal);
            x.push(xi);
            t.push(ti);
            y.push(2.0 * ti + xi + noise);
        }
        let data = Dataset::from_columns(
            "test",
            vec![("x".into(), x), ("t".into(), t), ("y".into(), y)],
        )
        .unwrap();
        let spec = EffectSpec {
            treatment: "t".into(),
            outcome: "y".into(),
            covariates: vec!["x".into()],
        };
        (data, spec)
    }

    #[test]
    fn a_sound_estimate_passes_every_refuter() {
        let (data, spec) = confounded(800, 1);
        let estimate = Estimator::Ols.estimate(&data, &spec).unwrap();
        let refutations = refute_all(
            &data,
            &spec,
            &Estimator::Ols,
            &estimate,
            &RefuteOptions::default(),
        )
        .unwrap();
        assert_eq!(refutations.len(), 5);
        for r in &refutations {
            assert!(r.passed, "{r:?}");
        }
        let placebo = &refutations[0];
        assert!(placebo.new_effect.unwrap().abs() < 0.1, "{placebo:?}");
        assert!(placebo.numbers["permutation_p_value"] < 0.1);
    }

    #[test]
    fn review_d3_degenerate_resamples_are_skipped_and_counted() {
        // 3 treated of 60: about one resample in twenty has no treated unit.
        let (data, spec) = confounded(60, 7);
        let treatment: Vec<f64> = (0..60).map(|i| f64::from(u8::from(i < 3))).collect();
        let data = data.replace_values("t", treatment).unwrap();
        let estimate = Estimator::Ols.estimate(&data, &spec).unwrap();
        let refutations = refute_all(
            &data,
            &spec,
            &Estimator::Ols,
            &estimate,
            &RefuteOptions::default(),
        )
        .unwrap();
        assert_eq!(refutations.len(), 5);
        let bootstrap = &refutations[3];
        assert_eq!(bootstrap.refuter, Refuter::Bootstrap);
        assert!(bootstrap.numbers["failed_runs"] >= 1.0, "{bootstrap:?}");
        assert_eq!(
            bootstrap.numbers["runs"] + bootstrap.numbers["failed_runs"],
            100.0
        );
    }

    #[test]
    fn a_refuter_that_cannot_run_is_reported_not_passed() {
        // One treated unit of 40: a 10% subset (4 rows) almost never holds it, so
        // most subsets have a constant treatment and the refuter cannot run.
        let (data, spec) = confounded(40, 8);
        let treatment: Vec<f64> = (0..40).map(|i| f64::from(u8::from(i == 0))).collect();
        let data = data.replace_values("t", treatment).unwrap();
        let estimate = Estimator::Ols.estimate(&data, &spec).unwrap();
        let options = RefuteOptions {
            subset_fraction: 0.1,
            ..RefuteOptions::default()
        };
        let refutations = refute_all(&data, &spec, &Estimator::Ols, &estimate, &options).unwrap();
        let subset = refutations
            .iter()
            .find(|r| r.refuter == Refuter::DataSubset)
            .unwrap();
        assert!(!subset.passed);
        assert!(
            subset.summary.starts_with("could not run on these data"),
            "{}",
            subset.summary
        );
    }

    #[test]
    fn an_understated_standard_error_fails_the_bootstrap() {
        let (data, spec) = confounded(500, 2);
        let mut estimate = Estimator::Ols.estimate(&data, &spec).unwrap();
        estimate.std_error /= 10.0;
        let r = bootstrap(
            &data,
            &spec,
            &Estimator::Ols,
            &estimate,
            &RefuteOptions::default(),
            &Silent,
        )
        .unwrap();
        assert!(!r.passed, "{r:?}");
        assert!(r.numbers["std_error_ratio"] > 5.0);
    }

    #[test]
    fn a_biased_estimate_fails_the_stability_refuters() {
        // An estimate far from what the data say moves when re-estimated on subsets.
        let (data, spec) = confounded(500, 3);
        let mut estimate = Estimator::Ols.estimate(&data, &spec).unwrap();
        estimate.estimate += 5.0 * estimate.std_error;
        let r = data_subset(
            &data,
            &spec,
            &Estimator::Ols,
            &estimate,
            &RefuteOptions::default(),
            &Silent,
        )
        .unwrap();
        assert!(!r.passed, "{r:?}");
    }

    #[test]
    fn e_value_matches_vanderweele_and_ding() {
        let (data, spec) = confounded(500, 4);
        let mut estimate = Estimator::Ols.estimate(&data, &spec).unwrap();
        // The pooled standard deviation of y within the two treatment arms.
        let y = data.numeric("y").unwrap();
        let t = data.numeric("t").unwrap();
        let arm = |v: f64| {
            let values: Vec<f64> = y
                .iter()
                .zip(&t)
                .filter(|(_, ti)| **ti == v)
                .map(|(yi, _)| *yi)
                .collect();
            let (_, var) = mean_and_variance(values.iter().copied());
            (values.len() as f64, var)
        };
        let ((n1, v1), (n0, v0)) = (arm(1.0), arm(0.0));
        let pooled = (((n1 - 1.0) * v1 + (n0 - 1.0) * v0) / (n1 + n0 - 2.0)).sqrt();
        // An effect whose approximate risk ratio is exactly 2: E = 2 + √2.
        estimate.estimate = 2f64.ln() / 0.91 * pooled;
        estimate.ci_low = -0.1;
        estimate.ci_high = 2.0 * estimate.estimate;
        let r = e_value(&data, &spec, &estimate).unwrap();
        assert!(
            (r.numbers["e_value"] - (2.0 + 2f64.sqrt())).abs() < 1e-9,
            "{r:?}"
        );
        assert_eq!(r.numbers["e_value_ci"], 1.0);
        assert!(!r.passed, "an interval holding zero needs no confounding");
    }

    #[test]
    fn review_d4_e_value_of_a_risk_difference_uses_the_risk_ratio() {
        // Untreated risk 0.05, treated risk 0.10: RR = 2, so E = 2 + √2.
        let t: Vec<f64> = (0..2_000)
            .map(|i| f64::from(u8::from(i >= 1_000)))
            .collect();
        let y: Vec<f64> = (0..2_000)
            .map(|i| f64::from(u8::from(if i < 1_000 { i % 20 == 0 } else { i % 10 == 0 })))
            .collect();
        let data = Dataset::from_columns("risks", vec![("t".into(), t), ("y".into(), y)]).unwrap();
        let spec = EffectSpec {
            treatment: "t".into(),
            outcome: "y".into(),
            covariates: vec![],
        };
        let estimate = Estimator::Ols.estimate(&data, &spec).unwrap();
        assert!((estimate.estimate - 0.05).abs() < 1e-12);
        let r = e_value(&data, &spec, &estimate).unwrap();
        assert!(
            (r.numbers["e_value"] - (2.0 + 2f64.sqrt())).abs() < 1e-9,
            "{r:?}"
        );
        assert!(r.passed && r.numbers["e_value_ci"] > 1.0, "{r:?}");
    }

    #[test]
    fn panel_bootstrap_resamples_whole_units() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let (mut unit, mut year, mut d, mut y) = (vec![], vec![], vec![], vec![]);
        for u in 0..60 {
            let unit_effect: f64 = rng.sample(StandardNormal);
            for p in 0..6 {
                let treated = f64::from(u8::from(u % 2 == 0 && p >= 3));
                let noise: f64 = rng.sample(StandardNormal);
                unit.push(f64::from(u));
                year.push(f64::from(p));
                d.push(treated);
                y.push(unit_effect + 0.3 * f64::from(p) + 1.5 * treated + noise);
            }
        }
        let data = Dataset::from_columns(
            "panel",
            vec![
                ("unit".into(), unit),
                ("year".into(), year),
                ("t".into(), d),
                ("y".into(), y),
            ],
        )
        .unwrap();
        let spec = EffectSpec {
            treatment: "t".into(),
            outcome: "y".into(),
            covariates: vec![],
        };
        let estimator = Estimator::Did {
            time: "year".into(),
            unit: Some("unit".into()),
        };
        let estimate = estimator.estimate(&data, &spec).unwrap();
        let r = bootstrap(
            &data,
            &spec,
            &estimator,
            &estimate,
            &RefuteOptions::default(),
            &Silent,
        )
        .unwrap();
        assert!(r.passed, "{r:?}");
        assert!(r.summary.contains("resamples of units"), "{}", r.summary);
    }

    #[test]
    fn refuters_report_each_run_and_a_cancel_stops_them() {
        let (data, spec) = confounded(300, 9);
        let estimate = Estimator::Ols.estimate(&data, &spec).unwrap();
        let options = RefuteOptions {
            bootstrap_runs: 30,
            ..RefuteOptions::default()
        };
        let steps = std::sync::Mutex::new(Vec::new());
        let record = |stage: &str, done: usize, total: usize| {
            steps.lock().unwrap().push((stage.to_string(), done, total));
            Ok(())
        };
        let reported =
            refute_all_with_progress(&data, &spec, &Estimator::Ols, &estimate, &options, &record)
                .unwrap();
        let silent = refute_all(&data, &spec, &Estimator::Ols, &estimate, &options).unwrap();
        assert_eq!(reported, silent, "reporting changes no number");
        let mut expected = Vec::new();
        for (stage, runs) in [
            ("placebo treatment", options.placebo_runs),
            ("random common cause", options.common_cause_runs),
            ("data subset", options.subset_runs),
            ("bootstrap", options.bootstrap_runs),
        ] {
            expected.extend((0..=runs).map(|done| (stage.to_string(), done, runs)));
        }
        assert_eq!(steps.into_inner().unwrap(), expected);

        let stages = std::sync::Mutex::new(Vec::new());
        let cancel_in_subsets = |stage: &str, done: usize, _: usize| {
            stages.lock().unwrap().push(stage.to_string());
            if stage == "data subset" && done == 3 {
                Err(Error::Cancelled)
            } else {
                Ok(())
            }
        };
        let error = refute_all_with_progress(
            &data,
            &spec,
            &Estimator::Ols,
            &estimate,
            &options,
            &cancel_in_subsets,
        )
        .unwrap_err();
        assert!(matches!(error, Error::Cancelled), "{error}");
        let stages = stages.into_inner().unwrap();
        assert_eq!(
            stages.iter().filter(|s| *s == "data subset").count(),
            4,
            "0 to 3, nothing after the cancel"
        );
        assert!(!stages.iter().any(|s| s == "bootstrap"), "{stages:?}");
    }
}
