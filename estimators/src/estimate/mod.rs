//! Estimators of the average causal effect of a treatment on an outcome.
//!
//! Each estimator takes a [`Dataset`], an [`EffectSpec`] (treatment, outcome and the
//! adjustment set that identification found) and returns an [`Estimate`] with a
//! standard error and a 95% Wald interval. Which estimator runs is an [`Estimator`]
//! value, not a string, so refuters can re-run exactly the same estimator on
//! perturbed data.
//!
//! | method | treatment | identification | standard error |
//! |---|---|---|---|
//! | [`Method::Ols`]  | binary or continuous | backdoor | HC1 robust |
//! | [`Method::Ipw`]  | binary | backdoor | influence function (Hájek) |
//! | [`Method::Aipw`] | binary | backdoor | influence function, cross-fitted |
//! | [`Method::Dml`]  | binary or continuous | backdoor | Neyman-orthogonal score, cross-fitted |
//! | [`Method::Did`]  | binary | parallel trends | cluster-robust by unit |
//! | [`Method::Iv`]   | binary or continuous | instrument | HC1 robust 2SLS |
//! | [`Method::Frontdoor`] | binary or continuous | frontdoor (linear) | stacked influence functions |

mod aipw;
mod did;
mod dml;
mod frontdoor;
mod ipw;
mod iv;
mod ols;

use std::collections::BTreeMap;

use ndarray::{Array1, Array2};
use serde::Serialize;

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::learners::Learner;
use crate::stats::{two_sided_p, Z_975};

/// What effect to estimate: of `treatment` on `outcome`, adjusting for `covariates`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EffectSpec {
    /// The cause whose effect is estimated.
    pub treatment: String,
    /// The effect variable.
    pub outcome: String,
    /// Variables to adjust for (a backdoor set, or exogenous controls for DiD and IV).
    pub covariates: Vec<String>,
}

/// The estimation methods, as named on the command line and in JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Regression adjustment by ordinary least squares.
    Ols,
    /// Inverse propensity weighting.
    Ipw,
    /// Augmented IPW (doubly robust).
    Aipw,
    /// Double machine learning, partially linear model.
    Dml,
    /// Difference in differences.
    Did,
    /// Instrumental variables, two-stage least squares.
    Iv,
    /// Frontdoor adjustment through mediators, linear mechanisms.
    Frontdoor,
}

impl Method {
    /// Every method, in the order the CLI lists them.
    pub const ALL: [Method; 7] = [
        Method::Ols,
        Method::Ipw,
        Method::Aipw,
        Method::Dml,
        Method::Did,
        Method::Iv,
        Method::Frontdoor,
    ];

    /// The method's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Method::Ols => "ols",
            Method::Ipw => "ipw",
            Method::Aipw => "aipw",
            Method::Dml => "dml",
            Method::Did => "did",
            Method::Iv => "iv",
            Method::Frontdoor => "frontdoor",
        }
    }

    /// What the method is, for people.
    pub fn description(self) -> &'static str {
        match self {
            Method::Ols => "regression adjustment (OLS, HC1 robust errors)",
            Method::Ipw => "inverse propensity weighting (Hájek, logistic propensity)",
            Method::Aipw => "augmented inverse propensity weighting (doubly robust)",
            Method::Dml => "double machine learning, partially linear model",
            Method::Did => "difference in differences (cluster-robust errors)",
            Method::Iv => "instrumental variables, two-stage least squares",
            Method::Frontdoor => "frontdoor adjustment through mediators (linear)",
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Method {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let wanted = text.trim().to_ascii_lowercase();
        Method::ALL
            .into_iter()
            .find(|m| m.name() == wanted)
            .ok_or_else(|| {
                Error::invalid_input(format!(
                    "unknown method `{text}`; use one of {}",
                    Method::ALL.map(Method::name).join(", ")
                ))
            })
    }
}

/// Which estimator to run, with its settings.
#[derive(Clone, Debug)]
pub enum Estimator {
    /// Regression adjustment: `outcome ~ 1 + treatment + covariates`.
    Ols,
    /// Inverse propensity weighting. Units with a propensity outside
    /// `[trim, 1 − trim]` are dropped (Crump et al. 2009); 0 keeps everyone.
    Ipw { trim: f64 },
    /// Doubly robust AIPW with cross-fitted nuisances.
    Aipw {
        trim: f64,
        folds: usize,
        nuisance: Learner,
        seed: u64,
    },
    /// Double machine learning for the partially linear model.
    Dml {
        folds: usize,
        nuisance: Learner,
        seed: u64,
    },
    /// Difference in differences. With `unit`, two-way fixed effects on a panel
    /// (treatment = treated in this period); without, the 2×2 design (treatment =
    /// treated group, `time` = 0/1 post period).
    Did { time: String, unit: Option<String> },
    /// Two-stage least squares with the given excluded instruments.
    Iv { instruments: Vec<String> },
    /// Frontdoor adjustment through the given mediators (linear mechanisms).
    Frontdoor { mediators: Vec<String> },
}

impl Estimator {
    /// The method this estimator implements.
    pub fn method(&self) -> Method {
        match self {
            Estimator::Ols => Method::Ols,
            Estimator::Ipw { .. } => Method::Ipw,
            Estimator::Aipw { .. } => Method::Aipw,
            Estimator::Dml { .. } => Method::Dml,
            Estimator::Did { .. } => Method::Did,
            Estimator::Iv { .. } => Method::Iv,
            Estimator::Frontdoor { .. } => Method::Frontdoor,
        }
    }

    /// The same estimator with a different seed for its random fold split, used by
    /// refuters so that repeated runs are independent but reproducible.
    pub fn reseeded(&self, new_seed: u64) -> Estimator {
        match self {
            Estimator::Aipw {
                trim,
                folds,
                nuisance,
                ..
            } => Estimator::Aipw {
                trim: *trim,
                folds: *folds,
                nuisance: nuisance.clone(),
                seed: new_seed,
            },
            Estimator::Dml {
                folds, nuisance, ..
            } => Estimator::Dml {
                folds: *folds,
                nuisance: nuisance.clone(),
                seed: new_seed,
            },
            other => other.clone(),
        }
    }

    /// Estimates the effect described by `spec` on `data`.
    pub fn estimate(&self, data: &Dataset, spec: &EffectSpec) -> Result<Estimate> {
        check_spec(data, spec)?;
        match self {
            Estimator::Ols => ols::estimate(data, spec),
            Estimator::Ipw { trim } => ipw::estimate(data, spec, *trim),
            Estimator::Aipw {
                trim,
                folds,
                nuisance,
                seed,
            } => aipw::estimate(data, spec, *trim, *folds, nuisance, *seed),
            Estimator::Dml {
                folds,
                nuisance,
                seed,
            } => dml::estimate(data, spec, *folds, nuisance, *seed),
            Estimator::Did { time, unit } => did::estimate(data, spec, time, unit.as_deref()),
            Estimator::Iv { instruments } => iv::estimate(data, spec, instruments),
            Estimator::Frontdoor { mediators } => frontdoor::estimate(data, spec, mediators),
        }
    }
}

/// A point estimate with its uncertainty and the facts needed to judge it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Estimate {
    /// The estimator that produced it.
    pub method: Method,
    /// The treatment variable.
    pub treatment: String,
    /// The outcome variable.
    pub outcome: String,
    /// The average effect: the change in the outcome per unit of treatment (for a
    /// binary treatment, treated minus untreated).
    pub estimate: f64,
    /// Its standard error.
    pub std_error: f64,
    /// Lower end of the 95% interval.
    pub ci_low: f64,
    /// Upper end of the 95% interval.
    pub ci_high: f64,
    /// Two-sided p-value for "no effect".
    pub p_value: f64,
    /// Rows used.
    pub n: usize,
    /// The variables adjusted for.
    pub adjustment_set: Vec<String>,
    /// Method-specific numbers (overlap, fit of nuisance models, first-stage F, …).
    pub diagnostics: BTreeMap<String, f64>,
    /// Things a careful reader should know about this estimate.
    pub warnings: Vec<String>,
}

impl Estimate {
    /// An estimate with a normal 95% interval from its standard error.
    fn normal(method: Method, spec: &EffectSpec, value: f64, std_error: f64, n: usize) -> Self {
        Estimate {
            method,
            treatment: spec.treatment.clone(),
            outcome: spec.outcome.clone(),
            estimate: value,
            std_error,
            ci_low: value - Z_975 * std_error,
            ci_high: value + Z_975 * std_error,
            p_value: two_sided_p(value / std_error),
            n,
            adjustment_set: spec.covariates.clone(),
            diagnostics: BTreeMap::new(),
            warnings: Vec::new(),
        }
    }

    fn diagnostic(mut self, name: &str, value: f64) -> Self {
        self.diagnostics.insert(name.to_string(), value);
        self
    }
}

/// Checks that apply to every estimator: the variables exist, treatment and outcome
/// are numbers, the treatment varies, and neither is also a covariate.
fn check_spec(data: &Dataset, spec: &EffectSpec) -> Result<()> {
    if spec.treatment == spec.outcome {
        return Err(Error::invalid_input(format!(
            "treatment and outcome are both `{}`",
            spec.treatment
        )));
    }
    for name in [&spec.treatment, &spec.outcome] {
        if spec.covariates.contains(name) {
            return Err(Error::invalid_input(format!(
                "`{name}` cannot be both adjusted for and the treatment or outcome"
            )));
        }
    }
    data.numeric(&spec.outcome)?;
    for name in &spec.covariates {
        data.column(name)?;
    }
    let treatment = data.numeric(&spec.treatment)?;
    if treatment.iter().all(|v| *v == treatment[0]) {
        return Err(Error::invalid_data(format!(
            "treatment `{}` is constant (every row is {}); there is no contrast to estimate",
            spec.treatment, treatment[0]
        )));
    }
    Ok(())
}

/// The treatment as 0/1, or an error for methods that need a binary treatment.
fn binary_treatment(data: &Dataset, spec: &EffectSpec, method: Method) -> Result<Array1<f64>> {
    let t = data.numeric(&spec.treatment)?;
    if t.iter().any(|v| *v != 0.0 && *v != 1.0) {
        return Err(Error::invalid_data(format!(
            "{method} needs a binary (0/1) treatment, but `{}` takes other values; use ols or dml for a continuous treatment",
            spec.treatment
        )));
    }
    Ok(t)
}

/// The covariate design matrix (categoricals one-hot, no intercept) and its names.
fn covariates(data: &Dataset, spec: &EffectSpec) -> Result<(Array2<f64>, Vec<String>)> {
    data.design(&spec.covariates)
}

#[cfg(test)]
mod tests;
