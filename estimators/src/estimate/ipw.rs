//! Inverse propensity weighting with Hájek (normalised) weights, and the overlap
//! checks that IPW and AIPW share.
//!
//! The propensity is a logistic regression of the treatment on the adjustment set.
//! Hájek weights (each arm's weights summing to one) keep the estimate inside the
//! range of the outcome, which the unnormalised Horvitz–Thompson form does not. The
//! standard error comes from the influence function with the propensity taken as
//! known, which is conservative for the average effect when the propensity is
//! estimated by maximum likelihood (Hirano, Imbens & Ridder 2003).

use std::collections::BTreeMap;

use ndarray::{Array1, Axis};

use super::{binary_treatment, covariates, EffectSpec, Estimate, Method};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::learners::logistic::LogisticFit;

/// Propensities this close to 0 or 1 mean the covariates separate the arms.
const SEPARATION: f64 = 1e-6;
/// Propensities outside [0.05, 0.95] are counted as a warning sign of weak overlap.
const WEAK_OVERLAP: f64 = 0.05;

/// Which units survive trimming, and the overlap numbers to report.
pub(super) struct Overlap {
    pub keep: Vec<usize>,
    pub diagnostics: BTreeMap<String, f64>,
    pub warnings: Vec<String>,
}

/// Checks overlap of the estimated propensities `e` between arms of `t` and drops
/// units outside `[trim, 1 − trim]`.
pub(super) fn overlap(
    t: &Array1<f64>,
    e: &Array1<f64>,
    trim: f64,
    treatment: &str,
) -> Result<Overlap> {
    if !(0.0..0.5).contains(&trim) {
        return Err(Error::invalid_input(format!(
            "trim must be in [0, 0.5), got {trim}"
        )));
    }
    let n = t.len();
    let separated = e
        .iter()
        .filter(|p| **p < SEPARATION || **p > 1.0 - SEPARATION)
        .count();
    if trim == 0.0 && separated > 0 {
        return Err(Error::NoOverlap {
            message: format!(
                "{separated} of {n} units have an estimated propensity of 0 or 1 for `{treatment}` (the covariates predict it perfectly); pass --trim 0.01 to drop them (the estimate is then for the overlap population) or adjust for fewer variables"
            ),
        });
    }
    let keep: Vec<usize> = (0..n)
        .filter(|&i| e[i] >= trim.max(SEPARATION) && e[i] <= 1.0 - trim.max(SEPARATION))
        .collect();
    let treated = keep.iter().filter(|&&i| t[i] == 1.0).count();
    let untreated = keep.len() - treated;
    if treated < 2 || untreated < 2 {
        return Err(Error::NoOverlap {
            message: format!(
                "after dropping units with propensity outside [{trim}, {}], {treated} treated and {untreated} untreated units remain; the arms do not share covariate values",
                1.0 - trim
            ),
        });
    }
    let mut diagnostics = BTreeMap::new();
    let arm = |value: f64| keep.iter().copied().filter(move |&i| t[i] == value);
    let range = |value: f64| {
        arm(value).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), i| {
            (lo.min(e[i]), hi.max(e[i]))
        })
    };
    let (treated_min, treated_max) = range(1.0);
    let (untreated_min, untreated_max) = range(0.0);
    diagnostics.insert("propensity_treated_min".into(), treated_min);
    diagnostics.insert("propensity_treated_max".into(), treated_max);
    diagnostics.insert("propensity_untreated_min".into(), untreated_min);
    diagnostics.insert("propensity_untreated_max".into(), untreated_max);
    let effective_size = |value: f64| {
        let weights: Vec<f64> = arm(value)
            .map(|i| {
                if value == 1.0 {
                    1.0 / e[i]
                } else {
                    1.0 / (1.0 - e[i])
                }
            })
            .collect();
        let sum: f64 = weights.iter().sum();
        sum * sum / weights.iter().map(|w| w * w).sum::<f64>()
    };
    diagnostics.insert("effective_n_treated".into(), effective_size(1.0));
    diagnostics.insert("effective_n_untreated".into(), effective_size(0.0));
    let dropped = n - keep.len();
    diagnostics.insert("trimmed_units".into(), dropped as f64);
    let weak = keep
        .iter()
        .filter(|&&i| e[i] < WEAK_OVERLAP || e[i] > 1.0 - WEAK_OVERLAP)
        .count();
    diagnostics.insert(
        "share_propensity_outside_5_95".into(),
        weak as f64 / keep.len() as f64,
    );

    let mut warnings = Vec::new();
    if dropped > 0 {
        warnings.push(format!(
            "{dropped} of {n} units with propensity outside [{trim}, {}] were dropped: the estimate is for the population where both arms occur",
            1.0 - trim
        ));
    }
    if weak * 10 > keep.len() {
        warnings.push(format!(
            "{:.0}% of units have a propensity below {WEAK_OVERLAP} or above {}: weak overlap makes the weights, and the estimate, unstable",
            100.0 * weak as f64 / keep.len() as f64,
            1.0 - WEAK_OVERLAP
        ));
    }
    Ok(Overlap {
        keep,
        diagnostics,
        warnings,
    })
}

pub(super) fn estimate(data: &Dataset, spec: &EffectSpec, trim: f64) -> Result<Estimate> {
    let t = binary_treatment(data, spec, Method::Ipw)?;
    let y = data.numeric(&spec.outcome)?;
    let (x, names) = covariates(data, spec)?;
    let propensity = LogisticFit::fit(x.view(), t.view(), &names)?;
    let e = propensity.predict(x.view());
    let overlap = overlap(&t, &e, trim, &spec.treatment)?;
    let t = t.select(Axis(0), &overlap.keep);
    let y = y.select(Axis(0), &overlap.keep);
    let e = e.select(Axis(0), &overlap.keep);

    let w1: Array1<f64> = t.iter().zip(&e).map(|(t, e)| t / e).collect();
    let w0: Array1<f64> = t
        .iter()
        .zip(&e)
        .map(|(t, e)| (1.0 - t) / (1.0 - e))
        .collect();
    let n = t.len() as f64;
    let mu1 = w1.dot(&y) / w1.sum();
    let mu0 = w0.dot(&y) / w0.sum();
    let (mean_w1, mean_w0) = (w1.sum() / n, w0.sum() / n);
    let influence: Array1<f64> = (0..t.len())
        .map(|i| w1[i] * (y[i] - mu1) / mean_w1 - w0[i] * (y[i] - mu0) / mean_w0)
        .collect();
    let std_error = (influence.mapv(|v| v * v).sum()).sqrt() / n;

    let mut estimate = Estimate::normal(Method::Ipw, spec, mu1 - mu0, std_error, t.len());
    estimate.diagnostics = overlap.diagnostics;
    estimate.warnings = overlap.warnings;
    if !propensity.converged {
        estimate.warnings.push(
            "the propensity model did not converge: the covariates nearly separate the arms".into(),
        );
    }
    Ok(estimate)
}
