//! Nuisance learners: the regression and classification models that estimators
//! use for E[Y | X], E[T | X] and propensities, and cross-fitting over folds.
//!
//! Cross-fitting (fit on all folds but one, predict the held-out fold) is what lets
//! flexible learners such as forests be used without biasing DML and AIPW: each
//! unit's nuisance prediction comes from a model that never saw that unit.

pub mod forest;
pub mod logistic;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, Slice};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::linalg::{spd_inverse, with_intercept, LinearFit};
use logistic::LogisticFit;

/// Which model fits a nuisance function.
#[derive(Clone, Debug)]
pub enum Learner {
    /// Least squares with an intercept.
    Linear,
    /// Least squares plus a random forest (with the given checked
    /// hyper-parameters) fitted to its residuals: linear structure exactly, the
    /// rest nonparametrically.
    Forest(forest::ValidForestParams),
}

impl Learner {
    /// The learner to use with `n_covariates` columns: with none (nothing to adjust
    /// for, as in an experiment) every learner is the out-of-fold mean, which the
    /// linear learner computes exactly and a forest cannot split on.
    fn for_covariates(&self, n_covariates: usize) -> &Learner {
        if n_covariates == 0 {
            &Learner::Linear
        } else {
            self
        }
    }

    /// A short name for reports: `linear` or `forest`.
    pub fn name(&self) -> &'static str {
        match self {
            Learner::Linear => "linear",
            Learner::Forest(_) => "forest",
        }
    }

    /// Out-of-fold predictions of `y` from `x`: the prediction for each row comes
    /// from a model fitted on the other folds. With `train_mask`, only rows where it
    /// is true are used for fitting (predictions are still made for every row), which
    /// is how AIPW fits one outcome model per treatment arm.
    pub fn cross_fit(
        &self,
        x: ArrayView2<f64>,
        y: ArrayView1<f64>,
        folds: &Folds,
        train_mask: Option<&[bool]>,
    ) -> Result<Array1<f64>> {
        let mut predictions = self.cross_fit_many(x, &[y], folds, train_mask)?;
        Ok(predictions.remove(0))
    }

    /// [`Learner::cross_fit`] for several responses on the same covariates and
    /// folds (DML's outcome and treatment), sharing the work that depends on `x`
    /// only: each fold's rows are gathered once, and for [`Learner::Linear`] one
    /// pass computes every response's sufficient statistics.
    pub fn cross_fit_many(
        &self,
        x: ArrayView2<f64>,
        ys: &[ArrayView1<f64>],
        folds: &Folds,
        train_mask: Option<&[bool]>,
    ) -> Result<Vec<Array1<f64>>> {
        let n = x.nrows();
        if ys.iter().any(|y| y.len() != n) || folds.assignment.len() != n {
            return Err(Error::invalid_input(format!(
                "cross-fitting needs one fold label and one response per row ({n} rows)"
            )));
        }
        let fold_rows = folds.rows();
        // Per fold: an (n_k × responses) matrix of held-out predictions.
        let per_fold: Vec<Result<Array2<f64>>> = match self.for_covariates(x.ncols()) {
            Learner::Linear => linear_cross_fit(x, ys, &fold_rows, train_mask),
            Learner::Forest(params) => fold_rows
                .iter()
                .enumerate()
                .map(|(k, held_out)| {
                    let train: Vec<usize> = (0..n)
                        .filter(|&i| folds.assignment[i] != k && train_mask.is_none_or(|m| m[i]))
                        .collect();
                    if train.is_empty() {
                        return Err(empty_training_fold());
                    }
                    let x_train = x.select(Axis(0), &train);
                    let x_test = x.select(Axis(0), held_out);
                    let design_train = with_intercept(x_train.view());
                    let design_test = with_intercept(x_test.view());
                    let mut predictions = Array2::zeros((held_out.len(), ys.len()));
                    for (j, y) in ys.iter().enumerate() {
                        // Trees approximate linear structure by steps, which biases
                        // DML when confounding is (partly) linear; a least-squares fit
                        // takes the linear part exactly and the forest learns the rest.
                        let linear = LinearFit::fit(
                            design_train.view(),
                            y.select(Axis(0), &train).view(),
                            &covariate_names(x.ncols()),
                        )?;
                        let forest = params.fit(x_train.view(), linear.residuals.view())?;
                        let column = design_test.dot(&linear.coefficients)
                            + forest.predict(x_test.view())?;
                        predictions.column_mut(j).assign(&column);
                    }
                    Ok(predictions)
                })
                .collect(),
        };
        let mut out = vec![Array1::zeros(n); ys.len()];
        for (rows, fold_predictions) in fold_rows.iter().zip(per_fold) {
            let fold_predictions = fold_predictions?;
            for (j, predictions) in out.iter_mut().enumerate() {
                for (&i, p) in rows.iter().zip(fold_predictions.column(j)) {
                    predictions[i] = *p;
                }
            }
        }
        Ok(out)
    }
}

impl Learner {
    /// Out-of-fold probabilities P(t = 1 | x) for a 0/1 `t`: logistic regression for
    /// [`Learner::Linear`] (a linear probability could leave [0, 1]), a regression
    /// forest on the 0/1 labels (a probability forest) for [`Learner::Forest`].
    pub fn cross_fit_probability(
        &self,
        x: ArrayView2<f64>,
        t: ArrayView1<f64>,
        folds: &Folds,
    ) -> Result<Array1<f64>> {
        match self.for_covariates(x.ncols()) {
            Learner::Forest(_) => Ok(self
                .cross_fit(x, t, folds, None)?
                .mapv(|p| p.clamp(0.0, 1.0))),
            Learner::Linear => {
                let names: Vec<String> = (0..x.ncols())
                    .map(|j| format!("covariate {}", j + 1))
                    .collect();
                let mut probabilities = Array1::zeros(t.len());
                for (k, held_out) in folds.rows().iter().enumerate() {
                    let train: Vec<usize> =
                        (0..t.len()).filter(|&i| folds.assignment[i] != k).collect();
                    let fit = LogisticFit::fit(
                        x.select(Axis(0), &train).view(),
                        t.select(Axis(0), &train).view(),
                        &names,
                    )?;
                    let predicted = fit.predict(x.select(Axis(0), held_out).view());
                    for (&i, p) in held_out.iter().zip(predicted.iter()) {
                        probabilities[i] = *p;
                    }
                }
                Ok(probabilities)
            }
        }
    }
}

/// Names for the columns of an intercept-augmented covariate design, for errors.
fn covariate_names(k: usize) -> Vec<String> {
    std::iter::once("intercept".to_string())
        .chain((0..k).map(|j| format!("covariate {}", j + 1)))
        .collect()
}

fn empty_training_fold() -> Error {
    Error::invalid_data(
        "a cross-fitting fold has no rows to train on (too few rows, or one treatment arm is too small); use fewer folds or more data",
    )
}

/// Linear cross-fitting from per-fold sufficient statistics: one pass over the data
/// computes each fold's `X'X` and `X'Y` (all responses at once); the training
/// statistics of fold k are the totals minus fold k's, so the cost does not grow with
/// the number of folds. The work is bounded by copying each row once into its
/// fold's design and one matrix product per fold, both memory-bandwidth bound.
fn linear_cross_fit(
    x: ArrayView2<f64>,
    ys: &[ArrayView1<f64>],
    fold_rows: &[Vec<usize>],
    train_mask: Option<&[bool]>,
) -> Vec<Result<Array2<f64>>> {
    let names = covariate_names(x.ncols());
    let k = names.len();
    let blocks: Vec<(Array2<f64>, Array2<f64>, Array2<f64>)> = fold_rows
        .par_iter()
        .map(|rows| {
            let design = gather_with_intercept(x, rows);
            let responses = Array2::from_shape_fn((rows.len(), ys.len()), |(r, j)| ys[j][rows[r]]);
            match train_mask {
                None => (design.t().dot(&design), design.t().dot(&responses), design),
                Some(mask) => {
                    let kept: Vec<usize> = (0..rows.len()).filter(|&r| mask[rows[r]]).collect();
                    let fitted = design.select(Axis(0), &kept);
                    let gram = fitted.t().dot(&fitted);
                    let xty = fitted.t().dot(&responses.select(Axis(0), &kept));
                    (gram, xty, design)
                }
            }
        })
        .collect();
    let total_gram = blocks
        .iter()
        .fold(Array2::zeros((k, k)), |acc, b| acc + &b.0);
    let total_xty = blocks
        .iter()
        .fold(Array2::zeros((k, ys.len())), |acc, b| acc + &b.1);
    blocks
        .par_iter()
        .map(|(gram, xty, design)| {
            let inverse = spd_inverse(&(&total_gram - gram), &names)?;
            let coefficients = inverse.dot(&(&total_xty - xty));
            Ok(design.dot(&coefficients))
        })
        .collect()
}

/// The rows `rows` of `x` with a leading column of ones, copied in one pass.
fn gather_with_intercept(x: ArrayView2<f64>, rows: &[usize]) -> Array2<f64> {
    let mut design = Array2::ones((rows.len(), x.ncols() + 1));
    for (mut out, &i) in design.rows_mut().into_iter().zip(rows) {
        out.slice_axis_mut(Axis(0), Slice::from(1..))
            .assign(&x.row(i));
    }
    design
}

/// An assignment of rows to K folds, balanced and shuffled with a seed.
#[derive(Clone, Debug)]
pub struct Folds {
    assignment: Vec<usize>,
    k: usize,
}

impl Folds {
    /// Splits `n` rows into `k` folds of (nearly) equal size at random.
    pub fn new(n: usize, k: usize, seed: u64) -> Result<Self> {
        Self::stratified(&vec![0.0; n], k, seed)
    }

    /// Splits rows into `k` folds at random so that every fold gets its share of
    /// each value of `labels` (a binary treatment): with a small treated group, an
    /// unstratified split can leave a fold's training rows without treated units.
    pub fn stratified(labels: &[f64], k: usize, seed: u64) -> Result<Self> {
        let n = labels.len();
        if k < 2 {
            return Err(Error::invalid_input(format!(
                "cross-fitting needs at least 2 folds, got {k}"
            )));
        }
        if n < 2 * k {
            return Err(Error::invalid_data(format!(
                "{n} rows are too few for {k} cross-fitting folds"
            )));
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        // A stable sort keeps the shuffled order within each label; dealing the
        // rows out in turn then spreads every label evenly over the folds.
        order.sort_by(|&a, &b| labels[a].total_cmp(&labels[b]));
        let mut assignment = vec![0; n];
        for (position, &row) in order.iter().enumerate() {
            assignment[row] = position % k;
        }
        Ok(Folds { assignment, k })
    }

    /// Folds for estimating the effect of treatment `t`: stratified by arm when the
    /// treatment is binary, plain otherwise.
    pub fn for_treatment(t: &[f64], k: usize, seed: u64) -> Result<Self> {
        if t.iter().all(|v| *v == 0.0 || *v == 1.0) {
            Self::stratified(t, k, seed)
        } else {
            Self::new(t.len(), k, seed)
        }
    }

    /// The rows of each fold, in increasing order.
    pub fn rows(&self) -> Vec<Vec<usize>> {
        let mut rows = vec![Vec::new(); self.k];
        for (i, &fold) in self.assignment.iter().enumerate() {
            rows[fold].push(i);
        }
        rows
    }
}

/// The share of the variance of `y` that `predictions` explain (held-out R²).
pub fn r_squared(y: ArrayView1<f64>, predictions: ArrayView1<f64>) -> f64 {
    let mean = y.mean().unwrap_or(0.0);
    let total: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
    let residual: f64 = y
        .iter()
        .zip(predictions.iter())
        .map(|(v, p)| (v - p).powi(2))
        .sum();
    if total > 0.0 {
        1.0 - residual / total
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use rand::Rng;

    #[test]
    fn folds_are_balanced_and_cover_every_row() {
        let folds = Folds::new(103, 5, 7).unwrap();
        let rows = folds.rows();
        let sizes: Vec<usize> = rows.iter().map(Vec::len).collect();
        assert_eq!(sizes.iter().sum::<usize>(), 103);
        assert!(sizes.iter().all(|s| *s == 20 || *s == 21), "{sizes:?}");
    }

    #[test]
    fn stratified_folds_share_out_each_label() {
        let labels: Vec<f64> = (0..100).map(|i| f64::from(u8::from(i < 7))).collect();
        let folds = Folds::stratified(&labels, 5, 3).unwrap();
        for rows in folds.rows() {
            let treated = rows.iter().filter(|&&i| labels[i] == 1.0).count();
            assert!((1..=2).contains(&treated), "{treated} treated in a fold");
            assert_eq!(rows.len(), 20);
        }
    }

    #[test]
    fn linear_cross_fit_equals_refitting_each_fold() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let n = 200;
        let x = Array2::from_shape_fn((n, 3), |_| rng.gen::<f64>());
        let y: Array1<f64> = x
            .rows()
            .into_iter()
            .map(|r| 1.0 + 2.0 * r[0] - r[1] + rng.gen::<f64>())
            .collect();
        let folds = Folds::new(n, 4, 3).unwrap();
        let fast = Learner::Linear
            .cross_fit(x.view(), y.view(), &folds, None)
            .unwrap();
        for (k, held_out) in folds.rows().iter().enumerate() {
            let train: Vec<usize> = (0..n).filter(|i| !held_out.contains(i)).collect();
            let design = with_intercept(x.select(Axis(0), &train).view());
            let names: Vec<String> = (0..4).map(|j| j.to_string()).collect();
            let fit = crate::linalg::LinearFit::fit(
                design.view(),
                y.select(Axis(0), &train).view(),
                &names,
            )
            .unwrap();
            let slow = with_intercept(x.select(Axis(0), held_out).view()).dot(&fit.coefficients);
            for (&i, s) in held_out.iter().zip(slow.iter()) {
                assert_abs_diff_eq!(fast[i], *s, epsilon = 1e-9);
            }
            assert!(k < 4);
        }
    }
}
