//! Double machine learning for the partially linear model
//! `Y = θ·T + g(X) + ε`, `T = m(X) + v` (Chernozhukov et al. 2018).
//!
//! Both nuisances, `ℓ(X) = E[Y | X]` and `m(X) = E[T | X]`, are cross-fitted over K
//! folds; θ is the least-squares slope of the outcome residuals on the treatment
//! residuals (the "partialling-out" score), and its standard error comes from the
//! same orthogonal score. The treatment may be binary or continuous. With a
//! heterogeneous effect θ is a variance-weighted average of unit effects.

use ndarray::Array1;

use super::{covariates, EffectSpec, Estimate, Method};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::learners::{r_squared, Folds, Learner};

/// Above this held-out R² of the treatment model, little independent variation in
/// the treatment is left to learn from.
const NEARLY_DETERMINED: f64 = 0.95;

pub(super) fn estimate(
    data: &Dataset,
    spec: &EffectSpec,
    n_folds: usize,
    learner: &Learner,
    seed: u64,
) -> Result<Estimate> {
    let t = data.numeric(&spec.treatment)?;
    let y = data.numeric(&spec.outcome)?;
    let (x, _) = covariates(data, spec)?;
    let folds = Folds::for_treatment(&t.to_vec(), n_folds, seed)?;
    let mut fitted = learner.cross_fit_many(x.view(), &[y.view(), t.view()], &folds, None)?;
    let t_hat = fitted.remove(1);
    let y_hat = fitted.remove(0);
    let y_residual = &y - &y_hat;
    let t_residual = &t - &t_hat;
    let n = t.len() as f64;
    let t_variation = t_residual.dot(&t_residual) / n;
    if t_variation <= 1e-12 * (1.0 + t.mapv(|v| v * v).sum() / n) {
        return Err(Error::Singular {
            message: format!(
                "the covariates predict `{}` exactly, leaving no variation to estimate its effect from",
                spec.treatment
            ),
        });
    }
    let theta = t_residual.dot(&y_residual) / n / t_variation;
    let score: Array1<f64> = (&y_residual - &(&t_residual * theta)) * &t_residual;
    let variance = score.mapv(|s| s * s).sum() / n / (t_variation * t_variation) / n;

    let treatment_fit = r_squared(t.view(), t_hat.view());
    let mut estimate = Estimate::normal(Method::Dml, spec, theta, variance.sqrt(), t.len())
        .diagnostic("outcome_model_r_squared", r_squared(y.view(), y_hat.view()))
        .diagnostic("treatment_model_r_squared", treatment_fit)
        .diagnostic("folds", n_folds as f64);
    if treatment_fit > NEARLY_DETERMINED {
        estimate.warnings.push(format!(
            "the covariates explain {:.1}% of the variation in `{}`: the estimate rests on the little that is left",
            100.0 * treatment_fit,
            spec.treatment
        ));
    }
    Ok(estimate)
}
