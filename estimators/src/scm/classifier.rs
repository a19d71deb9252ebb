//! Multinomial logistic regression: the mechanism of binary and categorical variables.
//!
//! One model for both (a binary variable is the two-level case), fitted by Newton's
//! method with step halving on the weighted, lightly ridge-penalised log-likelihood.
//! Weights are how bootstrap refits resample rows without copying them. Level 0 is
//! the reference: its linear predictor is fixed at zero.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::linalg::spd_inverse;

const MAX_ITERATIONS: usize = 50;
const TOLERANCE: f64 = 1e-8;
/// Ridge penalty per unit of total weight: enough to keep separable data finite,
/// far too small to move a well-determined coefficient.
const RIDGE: f64 = 1e-6;
/// Linear predictors are capped here: beyond it a probability is 0 or 1 in f64.
const MAX_LOGIT: f64 = 30.0;

/// A fitted multinomial logistic regression.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Classifier {
    /// Number of levels (2 for a binary variable).
    pub n_levels: usize,
    /// One row per non-reference level (`n_levels − 1` rows); intercept first, then
    /// one coefficient per design column.
    pub coefficients: Vec<Vec<f64>>,
    /// Whether Newton's method converged (false suggests separation).
    pub converged: bool,
}

impl Classifier {
    /// Fits P(y = k | x) for level codes `y` in `0..n_levels`. `weights` (row
    /// multiplicities) default to one per row; `names` label the design's columns.
    pub fn fit(
        x: ArrayView2<f64>,
        y: ArrayView1<f64>,
        n_levels: usize,
        weights: Option<&[f64]>,
        names: &[String],
    ) -> Result<Self> {
        let (n, d) = x.dim();
        if y.len() != n || weights.is_some_and(|w| w.len() != n) {
            return Err(Error::invalid_input(
                "classifier: design, response and weights differ in length",
            ));
        }
        if n_levels < 2 || y.iter().any(|&v| v < 0.0 || v as usize >= n_levels) {
            return Err(Error::invalid_data(
                "classifier: level codes must lie in 0..levels, with at least two levels",
            ));
        }
        let m = d + 1;
        let classes = n_levels - 1;
        let size = classes * m;
        let weight = |i: usize| weights.map_or(1.0, |w| w[i]);
        let total: f64 = (0..n).map(weight).sum();
        let ridge = RIDGE * total.max(1.0);
        let parameter_names: Vec<String> = (1..n_levels)
            .flat_map(|k| {
                std::iter::once(format!("level {k}: intercept"))
                    .chain(names.iter().map(move |name| format!("level {k}: {name}")))
            })
            .collect();

        let mut beta = vec![0.0; size];
        let mut objective = log_likelihood(x, y, &beta, classes, weights) - penalty(&beta, ridge);
        let mut converged = false;
        for _ in 0..MAX_ITERATIONS {
            let mut gradient = vec![0.0; size];
            let mut hessian = Array2::<f64>::zeros((size, size));
            let mut row = vec![0.0; m];
            let mut p = vec![0.0; n_levels];
            for i in 0..n {
                let w = weight(i);
                if w == 0.0 {
                    continue;
                }
                row[0] = 1.0;
                for j in 0..d {
                    row[j + 1] = x[[i, j]];
                }
                probabilities_into(&row, &beta, classes, &mut p);
                let observed = y[i] as usize;
                for a in 0..classes {
                    let residual = f64::from(u8::from(observed == a + 1)) - p[a + 1];
                    for j in 0..m {
                        gradient[a * m + j] += w * residual * row[j];
                    }
                    for b in 0..classes {
                        let curvature = w * p[a + 1] * (f64::from(u8::from(a == b)) - p[b + 1]);
                        if curvature == 0.0 {
                            continue;
                        }
                        for j in 0..m {
                            for l in 0..m {
                                hessian[[a * m + j, b * m + l]] += curvature * row[j] * row[l];
                            }
                        }
                    }
                }
            }
            for j in 0..size {
                gradient[j] -= ridge * beta[j];
                hessian[[j, j]] += ridge;
            }
            let inverse = spd_inverse(&hessian, &parameter_names)?;
            let mut step = inverse.dot(&Array1::from(gradient));
            // Newton can overshoot on unbalanced or nearly separable data; halving the
            // step until the likelihood improves keeps the fit stable.
            let mut halvings = 0;
            let (candidate, candidate_objective) = loop {
                let candidate: Vec<f64> = beta.iter().zip(&step).map(|(b, s)| b + s).collect();
                let value =
                    log_likelihood(x, y, &candidate, classes, weights) - penalty(&candidate, ridge);
                if value >= objective || halvings >= 40 {
                    break (candidate, value);
                }
                step *= 0.5;
                halvings += 1;
            };
            if candidate_objective.is_nan() || candidate_objective < objective {
                break;
            }
            let largest_step = step.iter().fold(0.0f64, |acc, s| acc.max(s.abs()));
            let largest_beta = candidate.iter().fold(0.0f64, |acc, b| acc.max(b.abs()));
            beta = candidate;
            objective = candidate_objective;
            if largest_step < TOLERANCE * (1.0 + largest_beta) {
                converged = true;
                break;
            }
        }
        Ok(Classifier {
            n_levels,
            coefficients: beta.chunks(m).map(<[f64]>::to_vec).collect(),
            converged,
        })
    }

    /// The probability of each level (columns) for each row of `x`.
    pub fn probabilities(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let (n, d) = x.dim();
        let flat: Vec<f64> = self.coefficients.concat();
        let mut out = Array2::<f64>::zeros((n, self.n_levels));
        let mut row = vec![0.0; d + 1];
        let mut p = vec![0.0; self.n_levels];
        for i in 0..n {
            row[0] = 1.0;
            for j in 0..d {
                row[j + 1] = x[[i, j]];
            }
            probabilities_into(&row, &flat, self.n_levels - 1, &mut p);
            for k in 0..self.n_levels {
                out[[i, k]] = p[k];
            }
        }
        out
    }
}

/// Softmax probabilities of one design row (with its leading 1) into `p`.
fn probabilities_into(row: &[f64], beta: &[f64], classes: usize, p: &mut [f64]) {
    let m = row.len();
    p[0] = 0.0;
    for a in 0..classes {
        let eta: f64 = row
            .iter()
            .zip(&beta[a * m..(a + 1) * m])
            .map(|(x, b)| x * b)
            .sum();
        p[a + 1] = eta.clamp(-MAX_LOGIT, MAX_LOGIT);
    }
    let largest = p.iter().fold(f64::NEG_INFINITY, |acc, v| acc.max(*v));
    let mut sum = 0.0;
    for value in p.iter_mut() {
        *value = (*value - largest).exp();
        sum += *value;
    }
    for value in p.iter_mut() {
        *value /= sum;
    }
}

fn log_likelihood(
    x: ArrayView2<f64>,
    y: ArrayView1<f64>,
    beta: &[f64],
    classes: usize,
    weights: Option<&[f64]>,
) -> f64 {
    let (n, d) = x.dim();
    let mut row = vec![0.0; d + 1];
    let mut p = vec![0.0; classes + 1];
    let mut total = 0.0;
    for i in 0..n {
        let w = weights.map_or(1.0, |w| w[i]);
        if w == 0.0 {
            continue;
        }
        row[0] = 1.0;
        for j in 0..d {
            row[j + 1] = x[[i, j]];
        }
        probabilities_into(&row, beta, classes, &mut p);
        total += w * p[y[i] as usize].max(1e-300).ln();
    }
    total
}

fn penalty(beta: &[f64], ridge: f64) -> f64 {
    0.5 * ridge * beta.iter().map(|b| b * b).sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn recovers_three_level_coefficients() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let n = 20_000;
        let truth = [[0.5, 1.0], [-0.5, -1.5]];
        let mut x = Array2::<f64>::zeros((n, 1));
        let mut y = Array1::<f64>::zeros(n);
        for i in 0..n {
            let v: f64 = rng.gen_range(-2.0..2.0);
            x[[i, 0]] = v;
            let e1 = (truth[0][0] + truth[0][1] * v).exp();
            let e2 = (truth[1][0] + truth[1][1] * v).exp();
            let u: f64 = rng.gen();
            let total = 1.0 + e1 + e2;
            y[i] = if u < 1.0 / total {
                0.0
            } else if u < (1.0 + e1) / total {
                1.0
            } else {
                2.0
            };
        }
        let fit = Classifier::fit(x.view(), y.view(), 3, None, &["v".into()]).unwrap();
        assert!(fit.converged);
        for (row, expected) in fit.coefficients.iter().zip(truth) {
            for (b, t) in row.iter().zip(expected) {
                assert!((b - t).abs() < 0.1, "{b} vs {t}");
            }
        }
    }

    #[test]
    fn weights_equal_repeated_rows() {
        let x = Array2::from_shape_vec((6, 1), vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        let y = Array1::from(vec![0.0, 0.0, 1.0, 0.0, 1.0, 1.0]);
        let weights = [1.0, 2.0, 1.0, 1.0, 0.0, 3.0];
        let weighted =
            Classifier::fit(x.view(), y.view(), 2, Some(&weights), &["v".into()]).unwrap();
        let rows: Vec<usize> = vec![0, 1, 1, 2, 3, 5, 5, 5];
        let xr = Array2::from_shape_fn((rows.len(), 1), |(i, _)| x[[rows[i], 0]]);
        let yr = Array1::from_iter(rows.iter().map(|&i| y[i]));
        let repeated = Classifier::fit(xr.view(), yr.view(), 2, None, &["v".into()]).unwrap();
        for (a, b) in weighted.coefficients[0]
            .iter()
            .zip(&repeated.coefficients[0])
        {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }
}
