//! Regression adjustment: the coefficient of the treatment in a least-squares fit of
//! the outcome on the treatment and the adjustment set, with HC1 robust errors.
//!
//! It is unbiased for the average effect when the outcome is linear in the
//! covariates and the effect is constant; with a heterogeneous effect it estimates a
//! variance-weighted average, which is why AIPW and DML exist beside it.

use ndarray::Array2;

use super::{covariates, EffectSpec, Estimate, Method};
use crate::data::Dataset;
use crate::error::Result;
use crate::learners::r_squared;
use crate::linalg::{design_matrix, LinearFit};

pub(super) fn estimate(data: &Dataset, spec: &EffectSpec) -> Result<Estimate> {
    let (x, names) = covariates(data, spec)?;
    let t = data.numeric(&spec.treatment)?;
    let y = data.numeric(&spec.outcome)?;
    let design = design_matrix(&[t.view()], x.view());
    let design_names: Vec<String> = ["intercept".to_string(), spec.treatment.clone()]
        .into_iter()
        .chain(names)
        .collect();
    let fit = LinearFit::fit(design.view(), y.view(), &design_names)?;
    let covariance: Array2<f64> = fit.hc1_covariance(design.view());
    let fitted = &y - &fit.residuals;
    Ok(Estimate::normal(
        Method::Ols,
        spec,
        fit.coefficients[1],
        covariance[[1, 1]].sqrt(),
        y.len(),
    )
    .diagnostic("r_squared", r_squared(y.view(), fitted.view())))
}
