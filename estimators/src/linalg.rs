//! Small dense linear algebra shared by the estimators: least squares through the
//! normal equations, and heteroskedasticity- and cluster-robust covariances.
//!
//! Designs in causal estimation are tall and thin (millions of rows, tens of
//! columns), so the work is one Gram matrix `X'X` (a matrix product that
//! `ndarray`'s `matrixmultiply` backend does at near peak speed) and a Cholesky
//! factorisation of a k × k matrix, which is negligible. Columns are scaled to unit
//! length before factorising so that the rank check does not depend on units
//! (dollars vs. years), and a failed pivot names the column that is collinear.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, Slice};

use crate::error::{Error, Result};

/// Relative size below which a Cholesky pivot is taken as zero (a collinear column).
pub(crate) const PIVOT_TOLERANCE: f64 = 1e-10;

/// The lower-triangular Cholesky factor of a symmetric positive-definite matrix, or
/// the index of the first column whose pivot vanished (it is a linear combination of
/// the columns before it).
pub fn cholesky(a: &Array2<f64>) -> std::result::Result<Array2<f64>, usize> {
    let k = a.nrows();
    let mut l = Array2::<f64>::zeros((k, k));
    let scale = (0..k)
        .map(|i| a[[i, i]].abs())
        .fold(0.0, f64::max)
        .max(1e-300);
    for j in 0..k {
        let mut diagonal = a[[j, j]];
        for p in 0..j {
            diagonal -= l[[j, p]] * l[[j, p]];
        }
        // Written so that a NaN pivot also counts as vanished.
        let vanished =
            diagonal.is_nan() || diagonal <= PIVOT_TOLERANCE * scale.max(a[[j, j]].abs());
        if vanished {
            return Err(j);
        }
        let root = diagonal.sqrt();
        l[[j, j]] = root;
        for i in (j + 1)..k {
            let mut value = a[[i, j]];
            for p in 0..j {
                value -= l[[i, p]] * l[[j, p]];
            }
            l[[i, j]] = value / root;
        }
    }
    Ok(l)
}

/// Solves `L L' x = b` for a Cholesky factor `L`.
pub fn cholesky_solve(l: &Array2<f64>, b: ArrayView1<f64>) -> Array1<f64> {
    let k = l.nrows();
    let mut z = b.to_owned();
    for i in 0..k {
        for p in 0..i {
            z[i] -= l[[i, p]] * z[p];
        }
        z[i] /= l[[i, i]];
    }
    for i in (0..k).rev() {
        for p in (i + 1)..k {
            z[i] -= l[[p, i]] * z[p];
        }
        z[i] /= l[[i, i]];
    }
    z
}

/// The inverse of `L L'` from its Cholesky factor.
pub fn cholesky_inverse(l: &Array2<f64>) -> Array2<f64> {
    let k = l.nrows();
    let mut inverse = Array2::zeros((k, k));
    let mut unit = Array1::zeros(k);
    for j in 0..k {
        unit.fill(0.0);
        unit[j] = 1.0;
        inverse
            .column_mut(j)
            .assign(&cholesky_solve(l, unit.view()));
    }
    inverse
}

/// Inverts a symmetric positive-definite matrix, naming the collinear column of
/// `names` on failure.
pub fn spd_inverse(a: &Array2<f64>, names: &[String]) -> Result<Array2<f64>> {
    let (scaled, scale) = unit_diagonal(a);
    let l = cholesky(&scaled).map_err(|j| collinear(names, j))?;
    let mut inverse = cholesky_inverse(&l);
    for ((i, j), value) in inverse.indexed_iter_mut() {
        *value /= scale[i] * scale[j];
    }
    Ok(inverse)
}

/// Rescales a Gram matrix to unit diagonal, returning the scale of each column.
fn unit_diagonal(a: &Array2<f64>) -> (Array2<f64>, Array1<f64>) {
    let scale: Array1<f64> = a
        .diag()
        .iter()
        .map(|d| if *d > 0.0 { d.sqrt() } else { 1.0 })
        .collect();
    let mut scaled = a.clone();
    for ((i, j), value) in scaled.indexed_iter_mut() {
        *value /= scale[i] * scale[j];
    }
    (scaled, scale)
}

pub(crate) fn collinear(names: &[String], index: usize) -> Error {
    let name = names
        .get(index)
        .map_or_else(|| format!("column {}", index + 1), |n| format!("`{n}`"));
    Error::Singular {
        message: format!(
            "{name} is constant or a linear combination of the other columns; drop it or one of the columns it duplicates"
        ),
    }
}

/// An ordinary least-squares fit.
#[derive(Clone, Debug)]
pub struct LinearFit {
    /// Coefficients, one per design column.
    pub coefficients: Array1<f64>,
    /// `(X'X)⁻¹`, the bread of every sandwich covariance.
    pub xtx_inverse: Array2<f64>,
    /// `y − X b`.
    pub residuals: Array1<f64>,
}

impl LinearFit {
    /// Fits `y ≈ X b`; `names` label the columns of `x` for error messages.
    pub fn fit(x: ArrayView2<f64>, y: ArrayView1<f64>, names: &[String]) -> Result<Self> {
        if x.nrows() != y.len() {
            return Err(Error::invalid_input(format!(
                "design has {} rows but the response has {}",
                x.nrows(),
                y.len()
            )));
        }
        if x.nrows() <= x.ncols() {
            return Err(Error::invalid_data(format!(
                "{} rows are too few to fit {} coefficients",
                x.nrows(),
                x.ncols()
            )));
        }
        let gram = x.t().dot(&x);
        let xty = x.t().dot(&y);
        let xtx_inverse = spd_inverse(&gram, names)?;
        let coefficients = xtx_inverse.dot(&xty);
        let residuals = &y - &x.dot(&coefficients);
        Ok(LinearFit {
            coefficients,
            xtx_inverse,
            residuals,
        })
    }

    /// HC1 heteroskedasticity-robust covariance: the White sandwich scaled by
    /// n / (n − k), as Stata's `robust` and statsmodels' `HC1` report it.
    pub fn hc1_covariance(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let (n, k) = x.dim();
        let meat = weighted_gram(x, self.residuals.view());
        let covariance = self.xtx_inverse.dot(&meat).dot(&self.xtx_inverse);
        covariance * (n as f64 / n.saturating_sub(k).max(1) as f64)
    }

    /// Cluster-robust covariance (clusters given as one label per row), with the
    /// small-sample factor G/(G−1) · (n−1)/(n−k) that Stata uses.
    pub fn cluster_covariance(&self, x: ArrayView2<f64>, clusters: &[usize]) -> Array2<f64> {
        cluster_sandwich(x, self.residuals.view(), &self.xtx_inverse, clusters, 0)
    }
}

/// `Σ_i r_i² x_i x_i'` computed as one matrix product.
fn weighted_gram(x: ArrayView2<f64>, residuals: ArrayView1<f64>) -> Array2<f64> {
    let scaled = &x * &residuals.insert_axis(Axis(1));
    scaled.t().dot(&scaled)
}

/// The cluster-robust sandwich with bread `bread` = (X'X)⁻¹. `absorbed` counts
/// parameters that were partialled out before the fit (fixed effects not nested in
/// the clusters) and so enter the degrees-of-freedom correction.
pub fn cluster_sandwich(
    x: ArrayView2<f64>,
    residuals: ArrayView1<f64>,
    bread: &Array2<f64>,
    clusters: &[usize],
    absorbed: usize,
) -> Array2<f64> {
    let (n, columns) = x.dim();
    let k = columns + absorbed;
    let n_clusters = clusters.iter().copied().max().map_or(0, |m| m + 1);
    let mut scores = Array2::<f64>::zeros((n_clusters, columns));
    for (i, &g) in clusters.iter().enumerate() {
        let r = residuals[i];
        scores
            .row_mut(g)
            .zip_mut_with(&x.row(i), |s, xv| *s += r * xv);
    }
    let g = n_clusters as f64;
    let factor = g / (g - 1.0).max(1.0) * (n as f64 - 1.0) / n.saturating_sub(k).max(1) as f64;
    bread.dot(&scores.t().dot(&scores)).dot(bread) * factor
}

/// HC1 sandwich for a generic bread (used by two-stage least squares).
pub fn hc1_sandwich(
    x: ArrayView2<f64>,
    residuals: ArrayView1<f64>,
    bread: &Array2<f64>,
) -> Array2<f64> {
    let (n, k) = x.dim();
    let meat = weighted_gram(x, residuals);
    bread.dot(&meat).dot(bread) * (n as f64 / n.saturating_sub(k).max(1) as f64)
}

/// The design `[1, leading…, x]`: an intercept, the given columns, then `x`.
pub fn design_matrix(leading: &[ArrayView1<f64>], x: ArrayView2<f64>) -> Array2<f64> {
    let first = leading.len() + 1;
    let mut out = Array2::ones((x.nrows(), first + x.ncols()));
    for (j, column) in leading.iter().enumerate() {
        out.column_mut(j + 1).assign(column);
    }
    out.slice_axis_mut(Axis(1), Slice::from(first..)).assign(&x);
    out
}

/// Prepends a column of ones to `x`.
pub fn with_intercept(x: ArrayView2<f64>) -> Array2<f64> {
    let mut out = Array2::ones((x.nrows(), x.ncols() + 1));
    out.slice_axis_mut(Axis(1), Slice::from(1..)).assign(&x);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use ndarray::array;

    fn names(k: usize) -> Vec<String> {
        (0..k).map(|i| format!("x{i}")).collect()
    }

    #[test]
    fn solves_an_exact_system() {
        let x = array![[1.0, 0.0], [1.0, 1.0], [1.0, 2.0], [1.0, 3.0]];
        let y = array![1.0, 3.0, 5.0, 7.0];
        let fit = LinearFit::fit(x.view(), y.view(), &names(2)).unwrap();
        assert_abs_diff_eq!(fit.coefficients[0], 1.0, epsilon = 1e-10);
        assert_abs_diff_eq!(fit.coefficients[1], 2.0, epsilon = 1e-10);
    }

    #[test]
    fn hc1_matches_the_sandwich_written_out() {
        let x = array![[1.0, 1.0], [1.0, 2.0], [1.0, 3.0], [1.0, 4.0], [1.0, 5.0]];
        let y = array![1.0, 3.0, 2.0, 5.0, 4.0];
        let fit = LinearFit::fit(x.view(), y.view(), &names(2)).unwrap();
        let se: Vec<f64> = fit
            .hc1_covariance(x.view())
            .diag()
            .iter()
            .map(|v| v.sqrt())
            .collect();
        // The fit is y = 0.6 + 0.8 x; residuals, bread and meat by hand.
        let r = [-0.4, 0.8, -1.0, 1.2, -0.6];
        let xtx_inv = array![[1.1, -0.3], [-0.3, 0.1]];
        let mut meat = Array2::<f64>::zeros((2, 2));
        for (i, ri) in r.iter().enumerate() {
            let xi = x.row(i);
            for a in 0..2 {
                for b in 0..2 {
                    meat[[a, b]] += ri * ri * xi[a] * xi[b];
                }
            }
        }
        let expected = xtx_inv.dot(&meat).dot(&xtx_inv) * (5.0 / 3.0);
        assert_abs_diff_eq!(se[0], expected[[0, 0]].sqrt(), epsilon = 1e-10);
        assert_abs_diff_eq!(se[1], expected[[1, 1]].sqrt(), epsilon = 1e-10);
    }

    #[test]
    fn collinear_column_is_named() {
        let x = array![
            [1.0, 2.0, 4.0],
            [1.0, 3.0, 6.0],
            [1.0, 5.0, 10.0],
            [1.0, 1.0, 2.0]
        ];
        let y = array![1.0, 2.0, 3.0, 4.0];
        let err = LinearFit::fit(x.view(), y.view(), &names(3)).unwrap_err();
        assert!(err.to_string().contains("`x2`"), "{err}");
    }

    #[test]
    fn rank_check_ignores_units() {
        // A column in millions next to one in units is not "collinear".
        let x = array![[1.0, 1e6], [1.0, 2e6], [1.0, 4e6], [1.0, 3e6]];
        let y = array![1.0, 2.0, 4.0, 3.0];
        let fit = LinearFit::fit(x.view(), y.view(), &names(2)).unwrap();
        assert_abs_diff_eq!(fit.coefficients[1], 1e-6, epsilon = 1e-15);
    }

    #[test]
    fn inverse_times_matrix_is_identity() {
        let a = array![[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]];
        let inverse = spd_inverse(&a, &names(3)).unwrap();
        let identity = a.dot(&inverse);
        for ((i, j), v) in identity.indexed_iter() {
            assert_abs_diff_eq!(*v, f64::from(u8::from(i == j)), epsilon = 1e-12);
        }
    }
}
