//! Frontdoor adjustment with linear mechanisms (Pearl 1995).
//!
//! When an unobserved confounder of treatment and outcome defeats backdoor
//! adjustment but a set of mediators M carries the whole effect (and is itself
//! unconfounded with the treatment), the effect is the treatment's effect on each
//! mediator times that mediator's effect on the outcome holding the treatment fixed,
//! summed over mediators: θ = Σₘ αₘ βₘ, with `M ~ 1 + T + W` and
//! `Y ~ 1 + T + M + W`, where W are optional pre-treatment covariates.
//!
//! The standard error comes from stacking the two regressions' influence functions
//! (the delta method for the product), which accounts for their covariance; the
//! rows' residuals enter as in HC0, so heteroskedasticity is allowed.

use ndarray::{Array1, Array2, Axis};

use super::{covariates, EffectSpec, Estimate, Method};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::linalg::{design_matrix, LinearFit};

pub(super) fn estimate(
    data: &Dataset,
    spec: &EffectSpec,
    mediators: &[String],
) -> Result<Estimate> {
    if mediators.is_empty() {
        return Err(Error::invalid_input(
            "frontdoor adjustment needs at least one mediator (--mediator NAME)",
        ));
    }
    for m in mediators {
        if *m == spec.treatment || *m == spec.outcome || spec.covariates.contains(m) {
            return Err(Error::invalid_input(format!(
                "`{m}` cannot be a mediator and also the treatment, outcome or a covariate"
            )));
        }
    }
    let t = data.numeric(&spec.treatment)?;
    let y = data.numeric(&spec.outcome)?;
    let n = t.len();
    let mut m_columns = Vec::with_capacity(mediators.len());
    for name in mediators {
        m_columns.push(data.numeric(name)?);
    }

    let (w, w_names) = covariates(data, spec)?;

    // Stage 1: each mediator on the treatment (and covariates).
    let first_design = design_matrix(&[t.view()], w.view());
    let first_names: Vec<String> = ["intercept".to_string(), spec.treatment.clone()]
        .into_iter()
        .chain(w_names.iter().cloned())
        .collect();
    let mut alphas = Vec::with_capacity(mediators.len());
    let mut alpha_influence = Vec::with_capacity(mediators.len());
    for m in &m_columns {
        let fit = LinearFit::fit(first_design.view(), m.view(), &first_names)?;
        alpha_influence.push(influence(&fit, &first_design, 1));
        alphas.push(fit.coefficients[1]);
    }

    // Stage 2: the outcome on the treatment and every mediator.
    let mut leading = vec![t.view()];
    leading.extend(m_columns.iter().map(|m| m.view()));
    let second_design = design_matrix(&leading, w.view());
    let second_names: Vec<String> = ["intercept".to_string(), spec.treatment.clone()]
        .into_iter()
        .chain(mediators.iter().cloned())
        .chain(w_names)
        .collect();
    let second = LinearFit::fit(second_design.view(), y.view(), &second_names)?;

    let mut value = 0.0;
    let mut total_influence = Array1::<f64>::zeros(n);
    for (k, (alpha, alpha_if)) in alphas.iter().zip(&alpha_influence).enumerate() {
        let beta = second.coefficients[2 + k];
        value += alpha * beta;
        total_influence =
            total_influence + alpha_if * beta + influence(&second, &second_design, 2 + k) * *alpha;
    }
    let std_error = (total_influence.mapv(|v| v * v).sum()).sqrt() / n as f64;
    let mut estimate = Estimate::normal(Method::Frontdoor, spec, value, std_error, n);
    for (name, alpha) in mediators.iter().zip(&alphas) {
        estimate = estimate.diagnostic(&format!("effect_of_treatment_on_{name}"), *alpha);
    }
    Ok(estimate)
}

/// Each row's influence on coefficient `j` of a least-squares fit:
/// n · [(X'X)⁻¹ xᵢ]ⱼ · eᵢ, so that the coefficient's variance is Σ ψᵢ² / n².
fn influence(fit: &LinearFit, design: &Array2<f64>, j: usize) -> Array1<f64> {
    let n = design.nrows() as f64;
    let row = fit.xtx_inverse.row(j);
    design
        .axis_iter(Axis(0))
        .zip(fit.residuals.iter())
        .map(|(x, e)| n * row.dot(&x) * e)
        .collect()
}
