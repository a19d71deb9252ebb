//! Logistic regression by Newton–Raphson (iteratively reweighted least squares),
//! the propensity model of IPW and AIPW.
//!
//! Newton's method converges in a handful of iterations on propensity problems and
//! gives the maximum-likelihood fit exactly, which a gradient method with a fixed
//! step count does not. A tiny ridge keeps the Hessian invertible when classes are
//! (nearly) separable; separation itself is reported by the callers as a lack of
//! overlap, not hidden.

use ndarray::{Array1, ArrayView1, ArrayView2, Axis};

use crate::error::{Error, Result};
use crate::linalg::{spd_inverse, with_intercept};

/// Newton iterations before giving up; propensity fits converge in under ten.
const MAX_ITERATIONS: usize = 50;
/// Convergence threshold on the largest coefficient change.
const TOLERANCE: f64 = 1e-8;
/// Ridge added to the Hessian diagonal (relative to n) for numerical safety only.
const RIDGE: f64 = 1e-8;
/// Linear predictors are capped here: beyond it the probability is 0 or 1 in f64.
const MAX_LOGIT: f64 = 30.0;

/// A fitted logistic regression with an intercept.
#[derive(Clone, Debug)]
pub struct LogisticFit {
    /// Intercept first, then one coefficient per column of the design.
    pub coefficients: Array1<f64>,
    /// Whether Newton's method converged (false suggests separation).
    pub converged: bool,
}

impl LogisticFit {
    /// Fits P(y = 1 | x) = σ(b₀ + x'b). `y` must hold only 0 and 1, with both present.
    pub fn fit(x: ArrayView2<f64>, y: ArrayView1<f64>, names: &[String]) -> Result<Self> {
        if y.iter().any(|v| *v != 0.0 && *v != 1.0) {
            return Err(Error::invalid_data(
                "logistic regression needs a 0/1 response",
            ));
        }
        let positives = y.sum();
        if positives == 0.0 || positives == y.len() as f64 {
            return Err(Error::invalid_data(
                "logistic regression needs both 0 and 1 in the response",
            ));
        }
        let design = with_intercept(x);
        let names: Vec<String> = std::iter::once("intercept".to_string())
            .chain(names.iter().cloned())
            .collect();
        let n = design.nrows() as f64;
        let k = design.ncols();
        let mut beta = Array1::<f64>::zeros(k);
        // Start at the base rate so the first step is already well scaled.
        beta[0] = (positives / (n - positives)).ln();
        let mut converged = false;
        let mut objective = penalised_log_likelihood(&design, y, &beta, RIDGE * n);
        for _ in 0..MAX_ITERATIONS {
            let p = probabilities(&design.dot(&beta));
            let w = p.mapv(|v| (v * (1.0 - v)).max(1e-12));
            let weighted = &design * &w.view().insert_axis(Axis(1));
            let mut hessian = weighted.t().dot(&design);
            for j in 0..k {
                hessian[[j, j]] += RIDGE * n;
            }
            let gradient = design.t().dot(&(&y - &p)) - &(&beta * (RIDGE * n));
            let mut step = spd_inverse(&hessian, &names)?.dot(&gradient);
            // Newton's step can overshoot when classes are very unbalanced or nearly
            // separable; halving it until the likelihood improves keeps the fit stable.
            let mut candidate = &beta + &step;
            let mut candidate_objective =
                penalised_log_likelihood(&design, y, &candidate, RIDGE * n);
            let mut halvings = 0;
            while !improves(candidate_objective, objective) && halvings < 40 {
                step *= 0.5;
                candidate = &beta + &step;
                candidate_objective = penalised_log_likelihood(&design, y, &candidate, RIDGE * n);
                halvings += 1;
            }
            if !improves(candidate_objective, objective) {
                break;
            }
            let largest_step = step.iter().fold(0.0f64, |m, s| m.max(s.abs()));
            beta = candidate;
            objective = candidate_objective;
            if largest_step < TOLERANCE * (1.0 + beta.iter().fold(0.0f64, |m, b| m.max(b.abs()))) {
                converged = true;
                break;
            }
        }
        Ok(LogisticFit {
            coefficients: beta,
            converged,
        })
    }

    /// P(y = 1 | x) for each row of `x` (without the intercept column).
    pub fn predict(&self, x: ArrayView2<f64>) -> Array1<f64> {
        probabilities(&with_intercept(x).dot(&self.coefficients))
    }
}

/// Whether a step's objective is at least as good (false for NaN).
fn improves(candidate: f64, current: f64) -> bool {
    candidate >= current
}

/// Σ [y log p + (1 − y) log(1 − p)] − ridge/2 · |β|², computed stably from logits.
fn penalised_log_likelihood(
    design: &ndarray::Array2<f64>,
    y: ArrayView1<f64>,
    beta: &Array1<f64>,
    ridge: f64,
) -> f64 {
    let logits = design.dot(beta);
    let log_likelihood: f64 = logits
        .iter()
        .zip(y.iter())
        .map(|(z, y)| y * z - (z.max(0.0) + (-z.abs()).exp().ln_1p()))
        .sum();
    log_likelihood - 0.5 * ridge * beta.dot(beta)
}

fn probabilities(logits: &Array1<f64>) -> Array1<f64> {
    logits.mapv(|z| 1.0 / (1.0 + (-z.clamp(-MAX_LOGIT, MAX_LOGIT)).exp()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn recovers_coefficients_of_a_known_model() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let n = 20_000;
        let x = Array2::from_shape_fn((n, 2), |_| rng.gen::<f64>() * 2.0 - 1.0);
        let y: Array1<f64> = x
            .rows()
            .into_iter()
            .map(|r| {
                let p = 1.0 / (1.0 + (-(0.5 + 1.5 * r[0] - 2.0 * r[1])).exp());
                f64::from(u8::from(rng.gen::<f64>() < p))
            })
            .collect();
        let fit = LogisticFit::fit(x.view(), y.view(), &["a".into(), "b".into()]).unwrap();
        assert!(fit.converged);
        let expected = [0.5, 1.5, -2.0];
        for (b, e) in fit.coefficients.iter().zip(expected) {
            assert!((b - e).abs() < 0.1, "{b} vs {e}");
        }
    }

    #[test]
    fn refuses_a_single_class() {
        let x = Array2::<f64>::zeros((4, 1));
        let y = Array1::from(vec![1.0; 4]);
        assert!(LogisticFit::fit(x.view(), y.view(), &["a".into()]).is_err());
    }

    #[test]
    fn separable_data_give_extreme_probabilities_without_panicking() {
        let x = Array2::from_shape_vec((6, 1), vec![-3.0, -2.0, -1.0, 1.0, 2.0, 3.0]).unwrap();
        let y = Array1::from(vec![0.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
        let fit = LogisticFit::fit(x.view(), y.view(), &["a".into()]).unwrap();
        let p = fit.predict(x.view());
        assert!(p[0] < 0.01 && p[5] > 0.99, "{p}");
    }
}
