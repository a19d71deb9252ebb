//! Distribution functions the estimators need for intervals and p-values.
//!
//! Only the standard normal is needed: every interval Causeway reports is a Wald
//! interval from an asymptotically normal estimator (or a bootstrap percentile).

/// The 97.5% quantile of the standard normal, for two-sided 95% intervals.
pub const Z_975: f64 = 1.959_963_984_540_054;

/// The standard normal cumulative distribution function.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// Two-sided p-value of a z statistic.
pub fn two_sided_p(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    erfc(z.abs() / std::f64::consts::SQRT_2).min(1.0)
}

/// The complementary error function (musl's implementation, through `libm`,
/// accurate to about one unit in the last place).
pub fn erfc(x: f64) -> f64 {
    libm::erfc(x)
}

/// Sample mean and (n − 1) variance.
pub fn mean_and_variance(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    let (mut n, mut mean, mut m2) = (0.0, 0.0, 0.0);
    for v in values {
        n += 1.0;
        let delta = v - mean;
        mean += delta / n;
        m2 += delta * (v - mean);
    }
    (mean, if n > 1.0 { m2 / (n - 1.0) } else { 0.0 })
}

/// The q-quantile (0 ≤ q ≤ 1) of `values` by linear interpolation, as numpy's
/// default; `values` is sorted in place.
pub fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let position = q.clamp(0.0, 1.0) * (values.len() - 1) as f64;
    let lower = position.floor() as usize;
    let upper = position.ceil() as usize;
    values[lower] + (values[upper] - values[lower]) * (position - lower as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    #[test]
    fn normal_cdf_matches_tables() {
        assert_abs_diff_eq!(normal_cdf(0.0), 0.5, epsilon = 1e-12);
        assert_abs_diff_eq!(normal_cdf(Z_975), 0.975, epsilon = 1e-7);
        assert_abs_diff_eq!(normal_cdf(-1.0), 0.158_655_253_931_457, epsilon = 1e-7);
        assert_abs_diff_eq!(two_sided_p(1.959_963_984_540_054), 0.05, epsilon = 1e-7);
        assert_abs_diff_eq!(two_sided_p(-3.0), 0.002_699_796_063_260, epsilon = 1e-8);
    }

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let mut v = vec![4.0, 1.0, 3.0, 2.0];
        assert_abs_diff_eq!(quantile(&mut v, 0.5), 2.5);
        assert_abs_diff_eq!(quantile(&mut v, 0.25), 1.75);
    }

    #[test]
    fn mean_and_variance_are_unbiased() {
        let (m, v) = mean_and_variance([1.0, 2.0, 3.0, 4.0]);
        assert_abs_diff_eq!(m, 2.5);
        assert_abs_diff_eq!(v, 5.0 / 3.0, epsilon = 1e-12);
    }
}
