//! Instrumental variables by two-stage least squares.
//!
//! The first stage regresses the treatment on the instruments and the exogenous
//! controls; the second regresses the outcome on the fitted treatment and the
//! controls. Residuals for the standard error use the actual treatment (not the
//! fitted one), as every 2SLS implementation must, and the covariance is HC1 robust.
//! The first-stage F statistic (robust Wald test of the excluded instruments,
//! divided by their number) is reported: below 10 the instruments are weak and the
//! interval cannot be trusted (Stock & Yogo 2005).

use ndarray::{Array1, Array2};

use super::{covariates, EffectSpec, Estimate, Method};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::linalg::{design_matrix, hc1_sandwich, spd_inverse, LinearFit};

/// The rule-of-thumb first-stage F below which instruments are weak.
const WEAK_INSTRUMENT_F: f64 = 10.0;

pub(super) fn estimate(
    data: &Dataset,
    spec: &EffectSpec,
    instruments: &[String],
) -> Result<Estimate> {
    if instruments.is_empty() {
        return Err(Error::invalid_input(
            "instrumental variables need at least one instrument (--instrument NAME)",
        ));
    }
    for z in instruments {
        if *z == spec.treatment || *z == spec.outcome || spec.covariates.contains(z) {
            return Err(Error::invalid_input(format!(
                "`{z}` cannot be an instrument and also the treatment, outcome or a control"
            )));
        }
    }
    let t = data.numeric(&spec.treatment)?;
    let y = data.numeric(&spec.outcome)?;
    let (w, control_names) = covariates(data, spec)?;
    let (z, instrument_names) = data.design(instruments)?;

    // First stage: t ~ 1 + z + w.
    let instrument_columns: Vec<_> = z.columns().into_iter().collect();
    let first_design = design_matrix(&instrument_columns, w.view());
    let first_names: Vec<String> = std::iter::once("intercept".to_string())
        .chain(instrument_names.iter().cloned())
        .chain(control_names.iter().cloned())
        .collect();
    let first = LinearFit::fit(first_design.view(), t.view(), &first_names)?;
    let first_covariance = first.hc1_covariance(first_design.view());
    let q = z.ncols();
    let excluded: Vec<usize> = (1..=q).collect();
    let b: Array1<f64> = excluded.iter().map(|&j| first.coefficients[j]).collect();
    let v: Array2<f64> = Array2::from_shape_fn((q, q), |(a, c)| {
        first_covariance[[excluded[a], excluded[c]]]
    });
    let first_stage_f = b.dot(&spd_inverse(&v, &instrument_names)?.dot(&b)) / q as f64;

    // Second stage: y ~ 1 + t̂ + w; residuals with the actual t.
    let t_hat = &t - &first.residuals;
    let fitted_design = design_matrix(&[t_hat.view()], w.view());
    let actual_design = design_matrix(&[t.view()], w.view());
    let second_names: Vec<String> = [
        "intercept".to_string(),
        format!("{} (first-stage fit)", spec.treatment),
    ]
    .into_iter()
    .chain(control_names)
    .collect();
    let bread = spd_inverse(&fitted_design.t().dot(&fitted_design), &second_names)?;
    let coefficients = bread.dot(&fitted_design.t().dot(&y));
    let residuals = &y - &actual_design.dot(&coefficients);
    let covariance = hc1_sandwich(fitted_design.view(), residuals.view(), &bread);

    let mut estimate = Estimate::normal(
        Method::Iv,
        spec,
        coefficients[1],
        covariance[[1, 1]].sqrt(),
        y.len(),
    )
    .diagnostic("first_stage_f", first_stage_f)
    .diagnostic("instruments", q as f64);
    if first_stage_f < WEAK_INSTRUMENT_F {
        estimate.warnings.push(format!(
            "weak instruments: first-stage F is {first_stage_f:.1} (below {WEAK_INSTRUMENT_F}); the estimate is biased towards OLS and its interval is too narrow"
        ));
    }
    Ok(estimate)
}
