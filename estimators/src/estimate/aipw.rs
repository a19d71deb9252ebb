//! Augmented inverse propensity weighting: the doubly robust estimator of the
//! average effect of a binary treatment.
//!
//! Each unit's score is the difference of the outcome models plus the
//! propensity-weighted residuals; it is consistent if either the outcome models or
//! the propensity model is right. All three nuisance models are cross-fitted so
//! flexible learners (forests) do not overfit into the score, and the standard error
//! is the sample standard deviation of the score over √n.

use ndarray::{Array1, Axis};

use super::ipw::overlap;
use super::{binary_treatment, covariates, EffectSpec, Estimate, Method};
use crate::data::Dataset;
use crate::error::Result;
use crate::learners::{r_squared, Folds, Learner};
use crate::stats::mean_and_variance;

pub(super) fn estimate(
    data: &Dataset,
    spec: &EffectSpec,
    trim: f64,
    n_folds: usize,
    learner: &Learner,
    seed: u64,
) -> Result<Estimate> {
    let t = binary_treatment(data, spec, Method::Aipw)?;
    let y = data.numeric(&spec.outcome)?;
    let (x, _) = covariates(data, spec)?;
    let folds = Folds::for_treatment(&t.to_vec(), n_folds, seed)?;
    let treated: Vec<bool> = t.iter().map(|v| *v == 1.0).collect();
    let untreated: Vec<bool> = treated.iter().map(|v| !v).collect();
    let e = learner.cross_fit_probability(x.view(), t.view(), &folds)?;
    let mu1 = learner.cross_fit(x.view(), y.view(), &folds, Some(&treated))?;
    let mu0 = learner.cross_fit(x.view(), y.view(), &folds, Some(&untreated))?;

    let overlap = overlap(&t, &e, trim, &spec.treatment)?;
    let scores: Array1<f64> = overlap
        .keep
        .iter()
        .map(|&i| {
            mu1[i] - mu0[i] + t[i] * (y[i] - mu1[i]) / e[i]
                - (1.0 - t[i]) * (y[i] - mu0[i]) / (1.0 - e[i])
        })
        .collect();
    let n = scores.len();
    let (value, variance) = mean_and_variance(scores.iter().copied());

    let observed_fit: Array1<f64> = (0..t.len())
        .map(|i| if treated[i] { mu1[i] } else { mu0[i] })
        .collect();
    let mut estimate = Estimate::normal(Method::Aipw, spec, value, (variance / n as f64).sqrt(), n);
    estimate.diagnostics = overlap.diagnostics;
    estimate.warnings = overlap.warnings;
    let kept = |a: &Array1<f64>| a.select(Axis(0), &overlap.keep);
    Ok(estimate
        .diagnostic(
            "outcome_model_r_squared",
            r_squared(kept(&y).view(), kept(&observed_fit).view()),
        )
        .diagnostic("folds", n_folds as f64))
}
