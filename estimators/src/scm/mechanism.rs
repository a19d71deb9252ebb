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
use crate::linalg::{collinear, spd_inverse, PIVOT_TOLERANCE};
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
                let fit = LeastSquares::fit(x, y, weights, names)?;
                Ok(Mechanism::LinearGaussian {
                    std_errors: match weights {
                        None => fit.hc1_std_errors(x, y),
                        Some(_) => Vec::new(),
                    },
                    coefficients: fit.coefficients,
                    noise_std: fit.noise_std,
                })
            }
            MechanismKind::ForestAdditive => {
                let coefficients = LeastSquares::fit(x, y, weights, names)?.coefficients;
                let residuals = &y - &linear(x, &coefficients);
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

/// A least-squares fit with an intercept, from one set of weighted sums.
///
/// Bootstrap refits run this hundreds of times on the same design with different
/// row multiplicities, so it reads the design in place (no intercept column, no
/// `√w`-scaled copy, no residuals): one pass for the weighted, centred
/// cross-products of `[x, y]` ([`CentredSums`]). Centring keeps the normal equations well
/// conditioned and gives the residual sum of squares from the same sums. The
/// unweighted fit is the same computation with unit weights.
#[derive(Debug)]
struct LeastSquares {
    /// Intercept first, then one per design column.
    coefficients: Vec<f64>,
    /// `√(Σ w r² / Σ w)`.
    noise_std: f64,
    /// The weighted means of the design columns.
    means: Vec<f64>,
    /// `(Σ w (x − x̄)(x − x̄)')⁻¹`.
    centred_inverse: Array2<f64>,
    /// `Σ w`.
    total_weight: f64,
}

impl LeastSquares {
    fn fit(
        x: ArrayView2<f64>,
        y: ArrayView1<f64>,
        weights: Option<&[f64]>,
        names: &[String],
    ) -> Result<Self> {
        let (n, k) = x.dim();
        if y.len() != n || weights.is_some_and(|w| w.len() != n) {
            return Err(Error::invalid_input(format!(
                "design has {n} rows but the response or weights have another length"
            )));
        }
        if n <= k + 1 {
            return Err(Error::invalid_data(format!(
                "{n} rows are too few to fit {} coefficients",
                k + 1
            )));
        }
        let x = x.as_standard_layout();
        let x = x.as_slice().expect("standard layout is contiguous");
        let y = y.as_standard_layout();
        let y = y.as_slice().expect("standard layout is contiguous");
        let sums = CentredSums::new(x, y, k, weights);
        if sums.total_weight <= 0.0 {
            return Err(Error::invalid_data("no row has a positive weight"));
        }
        let width = k + 1;
        let products = &sums.products;
        // A column that is constant up to rounding: its centred sum of squares
        // vanishes next to its uncentred one (as its pivot against the intercept
        // would in the uncentred normal equations).
        for j in 0..k {
            let centred = products[j * width + j];
            let uncentred = centred + sums.total_weight * sums.means[j] * sums.means[j];
            if centred.is_nan() || centred <= PIVOT_TOLERANCE * uncentred {
                return Err(collinear(names, j));
            }
        }
        let sxx = Array2::from_shape_fn((k, k), |(a, b)| products[a.min(b) * width + a.max(b)]);
        let sxy = Array1::from_shape_fn(k, |a| products[a * width + k]);
        let centred_inverse = spd_inverse(&sxx, names)?;
        let slopes = centred_inverse.dot(&sxy);
        let y_mean = sums.means[k];
        let intercept = y_mean - slopes.dot(&ArrayView1::from(&sums.means[..k]));
        let residual_sum = (products[k * width + k] - slopes.dot(&sxy)).max(0.0);
        Ok(LeastSquares {
            coefficients: std::iter::once(intercept).chain(slopes).collect(),
            noise_std: (residual_sum / sums.total_weight).sqrt(),
            means: sums.means[..k].to_vec(),
            centred_inverse,
            total_weight: sums.total_weight,
        })
    }

    /// HC1 standard errors of an unweighted fit on `(x, y)`, intercept first: the
    /// White sandwich scaled by n / (n − k), as Stata's `robust` reports it. The
    /// bread `(Z'Z)⁻¹` of the design `Z = [1, x]` follows from the centred inverse,
    /// and the meat is summed row by row, so the design is not copied here either.
    fn hc1_std_errors(&self, x: ArrayView2<f64>, y: ArrayView1<f64>) -> Vec<f64> {
        let (n, k) = x.dim();
        let width = k + 1;
        // The centred design is Z̃ = [1, x − x̄] = Z M with M = [[1, −x̄'], [0, I]],
        // and Z̃'Z̃ = diag(n, C⁻¹), so (Z'Z)⁻¹ = M diag(1/n, C) M'.
        let c = &self.centred_inverse;
        let means = ArrayView1::from(&self.means);
        let c_means = c.dot(&means);
        let mut bread = Array2::<f64>::zeros((width, width));
        bread[[0, 0]] = 1.0 / self.total_weight + means.dot(&c_means);
        for a in 0..k {
            bread[[0, a + 1]] = -c_means[a];
            bread[[a + 1, 0]] = -c_means[a];
            for b in 0..k {
                bread[[a + 1, b + 1]] = c[[a, b]];
            }
        }
        let mut meat = Array2::<f64>::zeros((width, width));
        let mut z = vec![1.0; width];
        for (row, &yi) in x.rows().into_iter().zip(y) {
            for (target, value) in z[1..].iter_mut().zip(row) {
                *target = *value;
            }
            let fitted: f64 = self.coefficients.iter().zip(&z).map(|(b, v)| b * v).sum();
            let r2 = (yi - fitted) * (yi - fitted);
            for a in 0..width {
                for b in a..width {
                    meat[[a, b]] += r2 * z[a] * z[b];
                }
            }
        }
        for a in 0..width {
            for b in 0..a {
                meat[[a, b]] = meat[[b, a]];
            }
        }
        let covariance =
            bread.dot(&meat).dot(&bread) * (n as f64 / n.saturating_sub(width).max(1) as f64);
        covariance
            .diag()
            .iter()
            .map(|v| v.max(0.0).sqrt())
            .collect()
    }
}

/// Weighted means of `[x, y]` and the upper triangle of
/// `Σ w [x − x̄, y − ȳ][x − x̄, y − ȳ]'` (row-major, `(k + 1)²`), for a row-major
/// design `x` of `k` columns.
///
/// One pass: the sums are taken around a fixed shift (the mean of the first rows),
/// which is as accurate as a second pass around the weighted mean unless the data
/// drift far from where they start, and the centring is applied at the end. Small
/// widths get a loop whose size the compiler knows, so it unrolls into registers.
struct CentredSums {
    means: Vec<f64>,
    products: Vec<f64>,
    total_weight: f64,
}

/// Rows whose mean is the shift of [`CentredSums`].
const SHIFT_ROWS: usize = 64;

impl CentredSums {
    fn new(x: &[f64], y: &[f64], k: usize, weights: Option<&[f64]>) -> Self {
        let width = k + 1;
        let head = y.len().min(SHIFT_ROWS);
        let mut shift = vec![0.0; width];
        for (i, &yi) in y.iter().enumerate().take(head) {
            for (s, v) in shift.iter_mut().zip(&x[i * k..(i + 1) * k]) {
                *s += v;
            }
            shift[k] += yi;
        }
        shift.iter_mut().for_each(|s| *s /= head.max(1) as f64);
        let (total_weight, sums, mut products) = match width {
            2 => shifted_sums::<2>(x, y, weights, &shift),
            3 => shifted_sums::<3>(x, y, weights, &shift),
            4 => shifted_sums::<4>(x, y, weights, &shift),
            5 => shifted_sums::<5>(x, y, weights, &shift),
            6 => shifted_sums::<6>(x, y, weights, &shift),
            7 => shifted_sums::<7>(x, y, weights, &shift),
            8 => shifted_sums::<8>(x, y, weights, &shift),
            _ => shifted_sums_any(x, y, k, weights, &shift),
        };
        let mut means = shift;
        if total_weight > 0.0 {
            for (mean, sum) in means.iter_mut().zip(&sums) {
                *mean += sum / total_weight;
            }
            for a in 0..width {
                for b in a..width {
                    products[a * width + b] -= sums[a] * sums[b] / total_weight;
                }
            }
        }
        CentredSums {
            means,
            products,
            total_weight,
        }
    }
}

/// `Σ w`, `Σ w d` and the upper triangle of `Σ w d d'` for `d = [x, y] − shift`,
/// with `W = k + 1` known at compile time (`k ≥ 1`).
fn shifted_sums<const W: usize>(
    x: &[f64],
    y: &[f64],
    weights: Option<&[f64]>,
    shift: &[f64],
) -> (f64, Vec<f64>, Vec<f64>) {
    let shift: [f64; W] = shift.try_into().expect("one shift per column");
    let mut total = 0.0;
    let mut sums = [0.0; W];
    let mut products = [[0.0; W]; W];
    let mut add = |row: &[f64], yi: f64, w: f64| {
        let mut d = [0.0; W];
        for j in 0..W - 1 {
            d[j] = row[j] - shift[j];
        }
        d[W - 1] = yi - shift[W - 1];
        total += w;
        for a in 0..W {
            let wa = w * d[a];
            sums[a] += wa;
            for b in a..W {
                products[a][b] += wa * d[b];
            }
        }
    };
    let rows = x.chunks_exact(W - 1).zip(y);
    match weights {
        None => rows.for_each(|(row, &yi)| add(row, yi, 1.0)),
        Some(w) => rows.zip(w).for_each(|((row, &yi), &wi)| add(row, yi, wi)),
    }
    (total, sums.to_vec(), products.concat())
}

/// [`shifted_sums`] for any width.
fn shifted_sums_any(
    x: &[f64],
    y: &[f64],
    k: usize,
    weights: Option<&[f64]>,
    shift: &[f64],
) -> (f64, Vec<f64>, Vec<f64>) {
    let width = k + 1;
    let mut total = 0.0;
    let mut sums = vec![0.0; width];
    let mut products = vec![0.0; width * width];
    let mut d = vec![0.0; width];
    for (i, &yi) in y.iter().enumerate() {
        let w = weights.map_or(1.0, |w| w[i]);
        for ((target, value), s) in d.iter_mut().zip(&x[i * k..(i + 1) * k]).zip(shift) {
            *target = value - s;
        }
        d[k] = yi - shift[k];
        total += w;
        for a in 0..width {
            let wa = w * d[a];
            sums[a] += wa;
            for (p, db) in products[a * width + a..(a + 1) * width]
                .iter_mut()
                .zip(&d[a..])
            {
                *p += wa * db;
            }
        }
    }
    (total, sums, products)
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

#[cfg(test)]
mod tests {
    use approx::assert_relative_eq;
    use ndarray::{array, Array1, Array2};

    use super::*;
    use crate::linalg::{with_intercept, LinearFit};

    fn data() -> (Array2<f64>, Array1<f64>) {
        let x = array![
            [1.0, 10.0],
            [2.0, 11.5],
            [3.0, 9.0],
            [4.0, 12.0],
            [5.0, 10.5],
            [6.0, 13.0],
            [7.0, 9.5]
        ];
        let y = array![3.1, 4.9, 6.2, 9.4, 10.1, 13.7, 13.2];
        (x, y)
    }

    fn names() -> Vec<String> {
        vec!["a".into(), "b".into()]
    }

    #[test]
    fn sums_match_the_normal_equations_and_hc1() {
        let (x, y) = data();
        let fit = LeastSquares::fit(x.view(), y.view(), None, &names()).unwrap();
        let design = with_intercept(x.view());
        let full = LinearFit::fit(design.view(), y.view(), &names()).unwrap();
        for (a, b) in fit.coefficients.iter().zip(&full.coefficients) {
            assert_relative_eq!(*a, *b, max_relative = 1e-10);
        }
        let rms = (full.residuals.mapv(|r| r * r).sum() / 7.0).sqrt();
        assert_relative_eq!(fit.noise_std, rms, max_relative = 1e-10);
        let hc1 = full.hc1_covariance(design.view());
        for (se, v) in fit
            .hc1_std_errors(x.view(), y.view())
            .iter()
            .zip(hc1.diag())
        {
            assert_relative_eq!(*se, v.sqrt(), max_relative = 1e-10);
        }
    }

    #[test]
    fn weights_equal_repeated_rows() {
        let (x, y) = data();
        let weights = [2.0, 0.0, 1.0, 3.0, 1.0, 0.0, 1.0];
        let weighted = LeastSquares::fit(x.view(), y.view(), Some(&weights), &names()).unwrap();
        let rows: Vec<usize> = weights
            .iter()
            .enumerate()
            .flat_map(|(i, &w)| std::iter::repeat_n(i, w as usize))
            .collect();
        let repeated = LeastSquares::fit(
            x.select(Axis(0), &rows).view(),
            y.select(Axis(0), &rows).view(),
            None,
            &names(),
        )
        .unwrap();
        for (a, b) in weighted.coefficients.iter().zip(&repeated.coefficients) {
            assert_relative_eq!(*a, *b, max_relative = 1e-10);
        }
        assert_relative_eq!(weighted.noise_std, repeated.noise_std, max_relative = 1e-10);
    }

    #[test]
    fn a_constant_column_is_named() {
        let (mut x, y) = data();
        x.column_mut(1).fill(1e6);
        let error = LeastSquares::fit(x.view(), y.view(), None, &names()).unwrap_err();
        assert!(error.to_string().contains("`b`"), "{error}");
    }
}
