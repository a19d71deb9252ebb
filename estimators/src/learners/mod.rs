//! Nuisance learners: the regression and classification models that estimators
//! use for E[Y | X], E[T | X] and propensities, and cross-fitting over folds.
//!
//! Cross-fitting (fit on all folds but one, predict the held-out fold) is what lets
//! flexible learners such as forests be used without biasing DML and AIPW: each
//! unit's nuisance prediction comes from a model that never saw that unit.

pub mod forest;
pub mod logistic;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
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
        let n = x.nrows();
        if y.len() != n || folds.assignment.len() != n {
            return Err(Error::invalid_input(format!(
                "cross-fitting needs one fold label and one response per row ({n} rows)"
            )));
        }
        let fold_rows = folds.rows();
        let per_fold: Vec<Result<Array1<f64>>> = match self {
            Learner::Linear => linear_cross_fit(x, y, &fold_rows, train_mask),
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
                    // Trees approximate linear structure by steps, which biases DML
                    // when confounding is (partly) linear; a least-squares fit takes
                    // the linear part exactly and the forest learns what is left.
                    let linear = LinearFit::fit(
                        with_intercept(x_train.view()).view(),
                        y.select(Axis(0), &train).view(),
                        &covariate_names(x.ncols()),
                    )?;
                    let forest = params.fit(x_train.view(), linear.residuals.view())?;
                    Ok(with_intercept(x_test.view()).dot(&linear.coefficients)
                        + forest.predict(x_test.view())?)
                })
                .collect(),
        };
        let mut predictions = Array1::zeros(n);
        for (rows, fold_predictions) in fold_rows.iter().zip(per_fold) {
            let fold_predictions = fold_predictions?;
            for (&i, p) in rows.iter().zip(fold_predictions.iter()) {
                predictions[i] = *p;
            }
        }
        Ok(predictions)
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
        match self {
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
/// computes each fold's `X'X` and `X'y`; the training statistics of fold k are the
/// totals minus fold k's, so the cost does not grow with the number of folds.
fn linear_cross_fit(
    x: ArrayView2<f64>,
    y: ArrayView1<f64>,
    fold_rows: &[Vec<usize>],
    train_mask: Option<&[bool]>,
) -> Vec<Result<Array1<f64>>> {
    let names = covariate_names(x.ncols());
    let blocks: Vec<(Array2<f64>, Array2<f64>, Array1<f64>)> = fold_rows
        .par_iter()
        .map(|rows| {
            let design = with_intercept(x.select(Axis(0), rows).view());
            let weights: Array1<f64> = rows
                .iter()
                .map(|&i| f64::from(u8::from(train_mask.is_none_or(|m| m[i]))))
                .collect();
            let weighted = &design * &weights.view().insert_axis(Axis(1));
            let gram = weighted.t().dot(&design);
            let response: Array1<f64> = rows.iter().map(|&i| y[i]).collect();
            let xty = weighted.t().dot(&response);
            (design, gram, xty)
        })
        .collect();
    let total_gram = blocks
        .iter()
        .fold(Array2::zeros((names.len(), names.len())), |acc, b| {
            acc + &b.1
        });
    let total_xty = blocks
        .iter()
        .fold(Array1::zeros(names.len()), |acc, b| acc + &b.2);
    blocks
        .par_iter()
        .map(|(design, gram, xty)| {
            let inverse = spd_inverse(&(&total_gram - gram), &names)?;
            let coefficients = inverse.dot(&(&total_xty - xty));
            Ok(design.dot(&coefficients))
        })
        .collect()
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
        let mut assignment = vec![0; n];
        for (position, &row) in order.iter().enumerate() {
            assignment[row] = position % k;
        }
        Ok(Folds { assignment, k })
    }

    /// Number of folds.
    pub fn k(&self) -> usize {
        self.k
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
