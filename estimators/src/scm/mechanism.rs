//! Mechanisms: how a non-root variable is generated from its parents and its noise.
//!
//! Three kinds, chosen per variable when the model is fitted and kept for every
//! refit:
//!
//! | kind | for | model | noise |
//! |---|---|---|---|
//! | `linear-gaussian` | continuous | least squares with an intercept | additive, `y − f(x)` |
//! | `forest-additive` | continuous | least squares plus a random forest on its residuals | additive |
//! | `logistic` | binary, categorical | multinomial logistic regression | a uniform `u`, level = first with `u < P(≤ level)` |
//!
//! Additive noise is recovered exactly from a unit's values (abduction), so
//! counterfactuals of continuous variables are exact. A classifier's noise is only
//! known to lie in the slice of `[0, 1)` that produced the observed level; it is
//! drawn uniformly from that slice, which keeps the observed level under no
//! intervention and never yields a level the variable cannot take. This quantile
//! coupling is the monotone counterfactual for binary variables.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::learners::forest::{Forest, ForestParams};
use crate::linalg::{with_intercept, LinearFit};
use crate::model::VariableKind;
use crate::scm::classifier::Classifier;

/// One column of a mechanism's design: a parent's value, or for a categorical
/// parent the 0/1 indicator of one of its non-reference levels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DesignColumn {
    /// Index of the parent in the model's variables.
    pub parent: usize,
    /// For a categorical parent, the level code this column indicates.
    pub level: Option<usize>,
    /// `parent` or `parent=level`, for parameters and messages.
    pub name: String,
}

/// The design columns of a mechanism, built from its parents' values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParentDesign {
    /// The columns in order.
    pub columns: Vec<DesignColumn>,
}

impl ParentDesign {
    /// The design of `parents`, given each variable's name, kind and levels.
    pub fn new(
        parents: &[usize],
        names: &[String],
        kinds: &[VariableKind],
        levels: &[Vec<String>],
    ) -> Self {
        let mut columns = Vec::new();
        for &parent in parents {
            if kinds[parent] == VariableKind::Categorical {
                for (code, level) in levels[parent].iter().enumerate().skip(1) {
                    columns.push(DesignColumn {
                        parent,
                        level: Some(code),
                        name: format!("{}={level}", names[parent]),
                    });
                }
            } else {
                columns.push(DesignColumn {
                    parent,
                    level: None,
                    name: names[parent].clone(),
                });
            }
        }
        ParentDesign { columns }
    }

    /// Column names.
    pub fn names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }

    /// The design matrix (rows × columns) from every variable's values (indexed
    /// like the model's variables; only the parents' are read).
    pub fn matrix(&self, values: &[&[f64]], n_rows: usize) -> Array2<f64> {
        let n = n_rows;
        let mut out = Array2::<f64>::zeros((n, self.columns.len()));
        for (j, column) in self.columns.iter().enumerate() {
            let source = values[column.parent];
            let mut target = out.column_mut(j);
            match column.level {
                Some(code) => {
                    for (t, v) in target.iter_mut().zip(source) {
                        *t = f64::from(u8::from(*v as usize == code));
                    }
                }
                None => {
                    for (t, v) in target.iter_mut().zip(source) {
                        *t = *v;
                    }
                }
            }
        }
        out
    }
}

/// Which kind of mechanism a variable gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MechanismKind {
    /// Linear with additive Gaussian noise.
    LinearGaussian,
    /// Linear plus a random forest on its residuals, additive noise.
    ForestAdditive,
    /// Multinomial logistic (binary and categorical variables).
    Logistic,
}

impl MechanismKind {
    /// The kind's name in model documents.
    pub fn name(self) -> &'static str {
        match self {
            MechanismKind::LinearGaussian => "linear-gaussian",
            MechanismKind::ForestAdditive => "forest-additive",
            MechanismKind::Logistic => "logistic",
        }
    }
}

/// A fitted mechanism.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Mechanism {
    /// `y = b₀ + x'b + ε`.
    LinearGaussian {
        /// Intercept first, then one per design column.
        coefficients: Vec<f64>,
        /// HC1 standard errors of the coefficients (empty after a bootstrap refit).
        std_errors: Vec<f64>,
        /// Standard deviation of the residuals.
        noise_std: f64,
    },
    /// `y = b₀ + x'b + forest(x) + ε`.
    ForestAdditive {
        /// The linear part, intercept first.
        coefficients: Vec<f64>,
        /// The forest fitted to the linear part's residuals.
        forest: Forest,
        /// Standard deviation of the residuals.
        noise_std: f64,
    },
    /// P(y = k | x) by multinomial logistic regression.
    Logistic(Classifier),
}

impl Mechanism {
    /// The mechanism's kind.
    pub fn kind(&self) -> MechanismKind {
        match self {
            Mechanism::LinearGaussian { .. } => MechanismKind::LinearGaussian,
            Mechanism::ForestAdditive { .. } => MechanismKind::ForestAdditive,
            Mechanism::Logistic(_) => MechanismKind::Logistic,
        }
    }

    /// Fits a mechanism of `kind` to `y` on the design `x`; `weights` are row
    /// multiplicities (a bootstrap's), `n_levels` the levels of a classified
    /// variable, `forest` the forest's hyper-parameters.
    pub fn fit(
        kind: MechanismKind,
        x: ArrayView2<f64>,
        y: ArrayView1<f64>,
        weights: Option<&[f64]>,
        names: &[String],
        n_levels: usize,
        forest: &ForestParams,
    ) -> Result<Mechanism> {
        match kind {
            MechanismKind::LinearGaussian => {
                let (coefficients, residuals, std_errors) =
                    weighted_least_squares(x, y, weights, names)?;
                Ok(Mechanism::LinearGaussian {
                    coefficients,
                    std_errors,
                    noise_std: weighted_rms(&residuals, weights),
                })
            }
            MechanismKind::ForestAdditive => {
                let (coefficients, residuals, _) = weighted_least_squares(x, y, weights, names)?;
                let forest = match weights {
                    None => forest.check()?.fit(x, residuals.view())?,
                    Some(w) => {
                        // Forests take no weights: a bootstrap's multiplicities become
                        // repeated rows, which is what the weights stand for.
                        let rows: Vec<usize> = w
                            .iter()
                            .enumerate()
                            .flat_map(|(i, &count)| std::iter::repeat_n(i, count as usize))
                            .collect();
                        let xr = x.select(Axis(0), &rows);
                        let yr = residuals.select(Axis(0), &rows);
                        forest.check()?.fit(xr.view(), yr.view())?
                    }
                };
                let fitted = forest.predict(x)?;
                let final_residuals = &residuals - &fitted;
                Ok(Mechanism::ForestAdditive {
                    coefficients,
                    forest,
                    noise_std: weighted_rms(&final_residuals, weights),
                })
            }
            MechanismKind::Logistic => Ok(Mechanism::Logistic(Classifier::fit(
                x, y, n_levels, weights, names,
            )?)),
        }
    }

    /// The expected value of a continuous variable for each row of `x` (the
    /// mechanism without its noise); for a classifier, the expected level code
    /// of a binary variable.
    pub fn predict_mean(&self, x: ArrayView2<f64>) -> Result<Array1<f64>> {
        match self {
            Mechanism::LinearGaussian { coefficients, .. } => Ok(linear(x, coefficients)),
            Mechanism::ForestAdditive {
                coefficients,
                forest,
                ..
            } => Ok(linear(x, coefficients) + forest.predict(x)?),
            Mechanism::Logistic(classifier) => {
                let p = classifier.probabilities(x);
                let codes = Array1::from_iter((0..classifier.n_levels).map(|k| k as f64));
                Ok(p.dot(&codes))
            }
        }
    }

    /// The noise that reproduces `y` from `x` for each row: the residual of an
    /// additive mechanism, or for a classifier a uniform draw inside the slice of
    /// `[0, 1)` of the observed level (`uniforms` supplies one draw in `[0, 1)` per
    /// row to place it there).
    pub fn abduct(&self, x: ArrayView2<f64>, y: &[f64], uniforms: &[f64]) -> Result<Vec<f64>> {
        match self {
            Mechanism::Logistic(classifier) => {
                let p = classifier.probabilities(x);
                Ok(y.iter()
                    .zip(p.rows())
                    .zip(uniforms)
                    .map(|((&level, row), &r)| {
                        let level = level as usize;
                        let below: f64 = row.iter().take(level).sum();
                        below + r * row[level]
                    })
                    .collect())
            }
            _ => {
                let mean = self.predict_mean(x)?;
                Ok(y.iter().zip(mean.iter()).map(|(y, m)| y - m).collect())
            }
        }
    }

    /// The value each row takes with parents `x` and noise `noise` (from
    /// [`Mechanism::abduct`] or drawn).
    pub fn generate(&self, x: ArrayView2<f64>, noise: &[f64]) -> Result<Vec<f64>> {
        match self {
            Mechanism::Logistic(classifier) => {
                let p = classifier.probabilities(x);
                Ok(p.rows()
                    .into_iter()
                    .zip(noise)
                    .map(|(row, &u)| {
                        let mut cumulative = 0.0;
                        for (k, pk) in row.iter().enumerate() {
                            cumulative += pk;
                            if u < cumulative {
                                return k as f64;
                            }
                        }
                        (row.len() - 1) as f64
                    })
                    .collect())
            }
            _ => {
                let mean = self.predict_mean(x)?;
                Ok(mean.iter().zip(noise).map(|(m, e)| m + e).collect())
            }
        }
    }
}

fn linear(x: ArrayView2<f64>, coefficients: &[f64]) -> Array1<f64> {
    let slopes = ArrayView1::from(&coefficients[1..]);
    x.dot(&slopes) + coefficients[0]
}

/// Weighted least squares with an intercept: coefficients, residuals (for every
/// row) and, without weights, HC1 standard errors. Weights enter as `√w` on both
/// sides, which is exactly the weighted normal equations.
fn weighted_least_squares(
    x: ArrayView2<f64>,
    y: ArrayView1<f64>,
    weights: Option<&[f64]>,
    names: &[String],
) -> Result<(Vec<f64>, Array1<f64>, Vec<f64>)> {
    let names: Vec<String> = std::iter::once("intercept".to_string())
        .chain(names.iter().cloned())
        .collect();
    let design = with_intercept(x);
    match weights {
        None => {
            let fit = LinearFit::fit(design.view(), y, &names)?;
            let covariance = fit.hc1_covariance(design.view());
            let std_errors = covariance
                .diag()
                .iter()
                .map(|v| v.max(0.0).sqrt())
                .collect();
            Ok((fit.coefficients.to_vec(), fit.residuals, std_errors))
        }
        Some(w) => {
            let root = Array1::from_iter(w.iter().map(|v| v.sqrt()));
            let scaled = &design * &root.view().insert_axis(Axis(1));
            let scaled_y = &y * &root;
            let fit = LinearFit::fit(scaled.view(), scaled_y.view(), &names)?;
            let residuals = &y - &design.dot(&fit.coefficients);
            Ok((fit.coefficients.to_vec(), residuals, Vec::new()))
        }
    }
}

fn weighted_rms(residuals: &Array1<f64>, weights: Option<&[f64]>) -> f64 {
    let (sum, total) = match weights {
        None => (
            residuals.iter().map(|r| r * r).sum::<f64>(),
            residuals.len() as f64,
        ),
        Some(w) => residuals
            .iter()
            .zip(w)
            .fold((0.0, 0.0), |(s, t), (r, w)| (s + w * r * r, t + w)),
    };
    if total > 0.0 {
        (sum / total).sqrt()
    } else {
        0.0
    }
}

/// How well a mechanism predicts rows it was not fitted on.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeldOutFit {
    /// Share of a continuous variable's variance explained on held-out rows.
    RSquared(f64),
    /// Mean negative log-likelihood of a classified variable on held-out rows, and
    /// that of predicting every row by the training frequencies.
    LogLoss {
        /// The mechanism's log-loss.
        log_loss: f64,
        /// The log-loss of the level frequencies alone.
        baseline: f64,
    },
}

impl HeldOutFit {
    /// One number for "how much better than knowing nothing": R², or McFadden's
    /// pseudo-R² `1 − log_loss / baseline` for classifiers.
    pub fn score(self) -> f64 {
        match self {
            HeldOutFit::RSquared(r2) => r2,
            HeldOutFit::LogLoss { log_loss, baseline } => {
                if baseline > 0.0 {
                    1.0 - log_loss / baseline
                } else {
                    1.0
                }
            }
        }
    }

    /// The fit in words: `R² 0.82` or `log-loss 0.41 (0.69 without parents)`.
    pub fn describe(self) -> String {
        match self {
            HeldOutFit::RSquared(r2) => format!("held-out R² {:.2}", r2),
            HeldOutFit::LogLoss { log_loss, baseline } => {
                format!("held-out log-loss {log_loss:.3} ({baseline:.3} without parents)")
            }
        }
    }
}

/// The held-out fit of `mechanism` on rows `(x, y)` it was not fitted on;
/// `train_y` gives the level frequencies of the baseline for classifiers.
pub fn held_out_fit(
    mechanism: &Mechanism,
    x: ArrayView2<f64>,
    y: ArrayView1<f64>,
    train_y: ArrayView1<f64>,
) -> Result<HeldOutFit> {
    match mechanism {
        Mechanism::Logistic(classifier) => {
            let p = classifier.probabilities(x);
            let k = classifier.n_levels;
            let mut frequencies = vec![0.5; k];
            for &v in train_y {
                frequencies[v as usize] += 1.0;
            }
            let total: f64 = frequencies.iter().sum();
            let n = y.len().max(1) as f64;
            let log_loss = y
                .iter()
                .zip(p.rows())
                .map(|(&v, row)| -row[v as usize].max(1e-15).ln())
                .sum::<f64>()
                / n;
            let baseline = y
                .iter()
                .map(|&v| -(frequencies[v as usize] / total).ln())
                .sum::<f64>()
                / n;
            Ok(HeldOutFit::LogLoss { log_loss, baseline })
        }
        _ => {
            let predictions = mechanism.predict_mean(x)?;
            Ok(HeldOutFit::RSquared(crate::learners::r_squared(
                y,
                predictions.view(),
            )))
        }
    }
}

/// Refuses a fit that cannot work before any numerics run.
pub fn check_fittable(
    name: &str,
    kind: VariableKind,
    n_levels: usize,
    n_rows: usize,
    n_columns: usize,
) -> Result<()> {
    if n_rows <= n_columns + 1 {
        return Err(Error::invalid_data(format!(
            "`{name}` has {n_columns} design column(s) from its parents but only {n_rows} rows: too few to fit its mechanism"
        )));
    }
    if kind != VariableKind::Continuous && n_levels < 2 {
        return Err(Error::invalid_data(format!(
            "`{name}` takes a single value in the data; a variable that never varies cannot be modelled"
        )));
    }
    Ok(())
}
