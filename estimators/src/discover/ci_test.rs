//! Conditional-independence tests: "is x independent of y given the set S?".
//!
//! PC asks thousands of these questions, so they sit behind one small trait,
//! [`CiTest`], with a p-value as the only answer, and two implementations:
//!
//! - [`FisherZ`] for continuous data (and 0/1 columns, read as numbers): the partial
//!   correlation of x and y given S, Fisher's z transform, a normal p-value. The
//!   correlation matrix is computed once; each test then factorises only the small
//!   (|S| + 2)² submatrix, so a test costs microseconds whatever the number of rows.
//! - [`GTest`] for discrete data (binary and categorical columns): the likelihood-ratio
//!   G² statistic of the x × y table within every stratum of S, with degrees of
//!   freedom adjusted for empty rows and columns.
//!
//! [`Memo`] wraps either with a cache keyed canonically by
//! `(min(x, y), max(x, y), sorted(S))` ([`CiKey`]), so the same question asked from
//! x's side and from y's side, or in another order, is computed once. Tests are pure
//! functions of their key, so caching (and the order in which threads fill the cache)
//! never changes an answer.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use ndarray::Array2;

use crate::data::{ColumnType, Dataset};
use crate::error::{Error, Result};
use crate::linalg::{cholesky, cholesky_solve};
use crate::stats::two_sided_p;

/// A test of conditional independence between variables given by index.
pub trait CiTest: Send + Sync {
    /// A short name for reports (`fisher-z`, `g-test`).
    fn name(&self) -> &'static str;

    /// The p-value of the null hypothesis "x is independent of y given `given`".
    /// Large values mean the data show no dependence. `given` never contains `x` or
    /// `y` and may come in any order.
    fn p_value(&self, x: usize, y: usize, given: &[usize]) -> f64;
}

/// The canonical form of one test: the pair in increasing order and the
/// conditioning set sorted, so that equal questions have equal keys.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CiKey {
    /// The smaller of the two variables.
    pub x: usize,
    /// The larger of the two variables.
    pub y: usize,
    /// The conditioning set, sorted.
    pub given: Vec<usize>,
}

impl CiKey {
    /// The key of "x ⫫ y | given", whichever way round it is asked.
    pub fn new(x: usize, y: usize, given: &[usize]) -> Self {
        let mut given = given.to_vec();
        given.sort_unstable();
        CiKey {
            x: x.min(y),
            y: x.max(y),
            given,
        }
    }
}

/// Shards of the cache: threads testing different pairs rarely wait for each other.
const SHARDS: usize = 16;

/// A [`CiTest`] with a memo cache of every answer it has given.
pub struct Memo<T> {
    inner: T,
    shards: Vec<Mutex<HashMap<CiKey, f64>>>,
}

impl<T: CiTest> Memo<T> {
    /// Wraps `inner` with an empty cache.
    pub fn new(inner: T) -> Self {
        Memo {
            inner,
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    /// How many distinct tests were computed (cache hits not counted).
    pub fn distinct_tests(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map_or(0, |m| m.len()))
            .sum()
    }

    fn shard(&self, key: &CiKey) -> &Mutex<HashMap<CiKey, f64>> {
        // SipHash with fixed keys: the same shard for the same key on every run.
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut hasher);
        &self.shards[(hasher.finish() % SHARDS as u64) as usize]
    }
}

impl<T: CiTest> CiTest for Memo<T> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn p_value(&self, x: usize, y: usize, given: &[usize]) -> f64 {
        let key = CiKey::new(x, y, given);
        let shard = self.shard(&key);
        if let Some(p) = shard.lock().ok().and_then(|m| m.get(&key).copied()) {
            return p;
        }
        // Computed outside the lock; two threads may both compute a missing key, and
        // both get the same value, since a test is a pure function of its key.
        let p = self.inner.p_value(key.x, key.y, &key.given);
        if let Ok(mut map) = shard.lock() {
            map.insert(key, p);
        }
        p
    }
}

/// Fisher's z test of zero partial correlation, for (approximately) Gaussian data.
///
/// The partial correlation of x and y given S comes from the correlation submatrix of
/// S, x and y (in that order): its Cholesky factor's last 2 × 2 block is the factor
/// of the conditional covariance of (x, y) given S, so
/// `ρ = L[y,x] / √(L[y,x]² + L[y,y]²)`. That is the same number as
/// `−P[x,y] / √(P[x,x]·P[y,y])` from the inverse `P` of the submatrix, for a third
/// of the work. Then `z = atanh(ρ) · √(n − |S| − 3)` and a two-sided normal p-value.
#[derive(Clone, Debug)]
pub struct FisherZ {
    corr: Array2<f64>,
    n_rows: usize,
}

impl FisherZ {
    /// Computes the correlation matrix of the named columns of `data` once.
    ///
    /// # Errors
    /// [`Error::InvalidData`] for a constant column, or for columns that are
    /// perfectly collinear, naming them (the correlation matrix is singular, so some
    /// partial correlation would be undefined); [`Error::InvalidData`] also for a
    /// categorical column with more than two levels, which has no meaningful
    /// correlation.
    pub fn from_dataset(data: &Dataset, names: &[String]) -> Result<Self> {
        for name in names {
            let column = data.column(name)?;
            if column.kind != ColumnType::Continuous && column.levels.len() < 2 {
                return Err(constant_column(data, name));
            }
            if column.kind == ColumnType::Categorical && column.levels.len() > 2 {
                return Err(Error::invalid_data(format!(
                    "column `{name}` is categorical with {} levels, which Fisher's z test cannot use; use the G-test (--test g-test) on discrete data, or leave the column out",
                    column.levels.len()
                )));
            }
        }
        let (x, _) = data.design(names)?;
        let n = x.nrows();
        let mut z = x;
        for (j, mut column) in z.columns_mut().into_iter().enumerate() {
            let mean = column.sum() / n as f64;
            column.mapv_inplace(|v| v - mean);
            let norm = column.dot(&column).sqrt();
            // Relative to the magnitude of the values, so units do not matter.
            if norm <= 1e-12 * (mean.abs().max(1.0)) * (n as f64).sqrt() {
                return Err(constant_column(data, &names[j]));
            }
            column.mapv_inplace(|v| v / norm);
        }
        let corr = z.t().dot(&z);
        Self::from_correlation(corr, n, names)
    }

    /// A test from a correlation matrix of `n_rows` observations; `names` name its
    /// columns in errors.
    ///
    /// # Errors
    /// [`Error::InvalidData`] naming the columns when the matrix is singular.
    pub fn from_correlation(corr: Array2<f64>, n_rows: usize, names: &[String]) -> Result<Self> {
        if let Err(j) = cholesky(&corr) {
            return Err(collinear_columns(&corr, j, names));
        }
        Ok(FisherZ { corr, n_rows })
    }

    /// The partial correlation of x and y given `given`.
    pub fn partial_correlation(&self, x: usize, y: usize, given: &[usize]) -> f64 {
        let order: Vec<usize> = given.iter().copied().chain([x, y]).collect();
        let k = order.len();
        let mut l = vec![0.0; k * k];
        for j in 0..k {
            let mut diagonal = self.corr[[order[j], order[j]]];
            for p in 0..j {
                diagonal -= l[j * k + p] * l[j * k + p];
            }
            // The whole matrix was checked positive definite, so every principal
            // submatrix is; this only guards against rounding at the edge of it.
            let root = diagonal.max(1e-300).sqrt();
            l[j * k + j] = root;
            for i in (j + 1)..k {
                let mut value = self.corr[[order[i], order[j]]];
                for p in 0..j {
                    value -= l[i * k + p] * l[j * k + p];
                }
                l[i * k + j] = value / root;
            }
        }
        let (off, diag) = (l[(k - 1) * k + k - 2], l[(k - 1) * k + k - 1]);
        off / (off * off + diag * diag).sqrt()
    }
}

impl CiTest for FisherZ {
    fn name(&self) -> &'static str {
        "fisher-z"
    }

    fn p_value(&self, x: usize, y: usize, given: &[usize]) -> f64 {
        let dof = self.n_rows as f64 - given.len() as f64 - 3.0;
        if dof <= 0.0 {
            // Too few rows to say anything: no evidence of dependence.
            return 1.0;
        }
        let r = self
            .partial_correlation(x, y, given)
            .clamp(-1.0 + 1e-15, 1.0 - 1e-15);
        two_sided_p(r.atanh() * dof.sqrt())
    }
}

fn constant_column(data: &Dataset, name: &str) -> Error {
    let value = data
        .column(name)
        .ok()
        .and_then(|c| c.values.first().map(|v| (c, *v)))
        .map(|(c, v)| {
            c.levels
                .get(v as usize)
                .filter(|_| c.kind != ColumnType::Continuous)
                .cloned()
                .unwrap_or_else(|| crate::format::number(v))
        })
        .unwrap_or_default();
    Error::invalid_data(format!(
        "column `{name}` is constant (every value is {value}); a constant can neither cause nor be caused, so leave it out"
    ))
}

/// The error for a singular correlation matrix whose pivot `j` vanished: column `j`
/// is a linear combination of earlier columns; the regression of `j` on them names
/// which.
fn collinear_columns(corr: &Array2<f64>, j: usize, names: &[String]) -> Error {
    let name = |i: usize| format!("`{}`", names.get(i).map_or("?", String::as_str));
    let partners: Vec<usize> = if j == 0 {
        Vec::new()
    } else {
        let mut leading = Array2::zeros((j, j));
        for a in 0..j {
            for b in 0..j {
                leading[[a, b]] = corr[[a, b]];
            }
        }
        let rhs: ndarray::Array1<f64> = (0..j).map(|a| corr[[a, j]]).collect();
        match cholesky(&leading) {
            Ok(l) => {
                let beta = cholesky_solve(&l, rhs.view());
                (0..j).filter(|&a| beta[a].abs() > 1e-6).collect()
            }
            Err(_) => Vec::new(),
        }
    };
    let message = if partners.is_empty() {
        format!(
            "column {} is a linear combination of other columns (perfectly collinear); leave one of them out",
            name(j)
        )
    } else {
        let list: Vec<String> = partners.iter().map(|&a| name(a)).collect();
        format!(
            "columns {} and {} are perfectly collinear ({} is a linear combination of {}); leave one of them out",
            list.join(", "),
            name(j),
            name(j),
            list.join(" and ")
        )
    };
    Error::invalid_data(message)
}

/// Most cells a dense count table may have before the test counts strata in a map.
const DENSE_CELLS: usize = 1 << 20;

/// Rows per degree of freedom below which a G-test is not trusted.
const ROWS_PER_DOF: f64 = 10.0;

/// The G-test (likelihood-ratio χ² test) of conditional independence for discrete data.
///
/// Within each stratum (one combination of the levels of S) the x × y table of counts
/// gives `G² = 2 Σ O ln(O / E)` with `E` from that stratum's margins; the strata add
/// up. Degrees of freedom are adjusted for sparse data as in Tetrad and causal-learn:
/// each stratum contributes `(r − 1)(c − 1)` where `r` and `c` count only the levels
/// of x and y that occur in it, so empty strata, and strata where x or y takes one
/// value, contribute nothing (they carry no evidence either way). When the data are
/// too sparse for the χ² approximation — fewer than 10 rows per adjusted degree of
/// freedom, or no degree of freedom at all — the test returns p = 1: too little data
/// to show dependence counts as independence, the heuristic of Spirtes, Glymour and
/// Scheines for PC on discrete data. Deep conditioning sets on small data therefore
/// remove edges; limit the depth when that matters.
#[derive(Clone, Debug)]
pub struct GTest {
    codes: Vec<Vec<u32>>,
    levels: Vec<usize>,
    n_rows: usize,
}

impl GTest {
    /// Reads the named columns of `data` as level codes.
    ///
    /// # Errors
    /// [`Error::InvalidData`] for a continuous column (discretise it first) or a
    /// column with a single level (a constant).
    pub fn from_dataset(data: &Dataset, names: &[String]) -> Result<Self> {
        let mut codes = Vec::with_capacity(names.len());
        let mut levels = Vec::with_capacity(names.len());
        for name in names {
            let column = data.column(name)?;
            if column.kind == ColumnType::Continuous {
                return Err(Error::invalid_data(format!(
                    "column `{name}` is continuous; the G-test needs binary or categorical columns (use --test fisher-z, or --type {name}=categorical if its values are labels)"
                )));
            }
            let code: Vec<u32> = column.values.iter().map(|v| *v as u32).collect();
            let first = code.first().copied();
            if code.iter().all(|c| Some(*c) == first) {
                return Err(constant_column(data, name));
            }
            levels.push(column.levels.len().max(2));
            codes.push(code);
        }
        Ok(GTest {
            codes,
            levels,
            n_rows: data.n_rows(),
        })
    }

    /// A test from level codes (`codes[v][row] < levels[v]`).
    pub fn from_codes(codes: Vec<Vec<u32>>, levels: Vec<usize>) -> Self {
        let n_rows = codes.first().map_or(0, Vec::len);
        GTest {
            codes,
            levels,
            n_rows,
        }
    }

    /// The G² statistic and its adjusted degrees of freedom.
    pub fn statistic(&self, x: usize, y: usize, given: &[usize]) -> (f64, usize) {
        let (lx, ly) = (self.levels[x], self.levels[y]);
        let strata = given
            .iter()
            .try_fold(1usize, |acc, &s| acc.checked_mul(self.levels[s]));
        let stratum_of = |row: usize| -> usize {
            given.iter().fold(0usize, |acc, &s| {
                acc.wrapping_mul(self.levels[s])
                    .wrapping_add(self.codes[s][row] as usize)
            })
        };
        let cells = lx * ly;
        let (xs, ys) = (&self.codes[x], &self.codes[y]);
        let mut total = (0.0, 0usize);
        match strata.filter(|s| s.saturating_mul(cells) <= DENSE_CELLS.max(self.n_rows)) {
            Some(strata) => {
                let mut counts = vec![0u32; strata * cells];
                for row in 0..self.n_rows {
                    counts[stratum_of(row) * cells + xs[row] as usize * ly + ys[row] as usize] += 1;
                }
                for table in counts.chunks(cells) {
                    add_stratum(table, lx, ly, &mut total);
                }
            }
            None => {
                // Too many combinations for a dense table: only the strata that occur.
                let mut tables: HashMap<Vec<u32>, Vec<u32>> = HashMap::new();
                for row in 0..self.n_rows {
                    let key: Vec<u32> = given.iter().map(|&s| self.codes[s][row]).collect();
                    tables.entry(key).or_insert_with(|| vec![0; cells])
                        [xs[row] as usize * ly + ys[row] as usize] += 1;
                }
                let mut keys: Vec<&Vec<u32>> = tables.keys().collect();
                // Summation order fixed, so the statistic is the same on every run.
                keys.sort();
                for key in keys {
                    add_stratum(&tables[key], lx, ly, &mut total);
                }
            }
        }
        total
    }
}

/// Adds one stratum's G² and adjusted degrees of freedom to `total`.
fn add_stratum(table: &[u32], lx: usize, ly: usize, total: &mut (f64, usize)) {
    let row_sums: Vec<f64> = (0..lx)
        .map(|i| {
            table[i * ly..(i + 1) * ly]
                .iter()
                .map(|&c| f64::from(c))
                .sum()
        })
        .collect();
    let col_sums: Vec<f64> = (0..ly)
        .map(|j| (0..lx).map(|i| f64::from(table[i * ly + j])).sum())
        .collect();
    let n: f64 = row_sums.iter().sum();
    if n == 0.0 {
        return;
    }
    let rows = row_sums.iter().filter(|&&r| r > 0.0).count();
    let cols = col_sums.iter().filter(|&&c| c > 0.0).count();
    total.1 += rows.saturating_sub(1) * cols.saturating_sub(1);
    for i in 0..lx {
        for j in 0..ly {
            let observed = f64::from(table[i * ly + j]);
            if observed > 0.0 {
                let expected = row_sums[i] * col_sums[j] / n;
                total.0 += 2.0 * observed * (observed / expected).ln();
            }
        }
    }
}

impl CiTest for GTest {
    fn name(&self) -> &'static str {
        "g-test"
    }

    fn p_value(&self, x: usize, y: usize, given: &[usize]) -> f64 {
        let (g, dof) = self.statistic(x, y, given);
        if dof == 0 || (self.n_rows as f64) < ROWS_PER_DOF * dof as f64 {
            return 1.0;
        }
        chi_square_sf(g.max(0.0), dof as f64)
    }
}

/// The upper tail `P(χ²_k > x)` of the chi-square distribution with `k` degrees of
/// freedom: the regularized upper incomplete gamma function `Q(k/2, x/2)`.
pub fn chi_square_sf(x: f64, k: f64) -> f64 {
    gamma_q(k / 2.0, x / 2.0)
}

/// `Q(a, x)` by its series below `x = a + 1` and its continued fraction above
/// (Numerical Recipes §6.2), each converging fast on its side.
fn gamma_q(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let log_prefactor = -x + a * x.ln() - libm::lgamma(a);
    if x < a + 1.0 {
        let (mut sum, mut term, mut ap) = (1.0 / a, 1.0 / a, a);
        for _ in 0..10_000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        (1.0 - sum * log_prefactor.exp()).clamp(0.0, 1.0)
    } else {
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..10_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (log_prefactor.exp() * h).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::StandardNormal;

    fn dataset(columns: Vec<(&str, Vec<f64>)>) -> (Dataset, Vec<String>) {
        let names: Vec<String> = columns.iter().map(|(n, _)| n.to_string()).collect();
        let data = Dataset::from_columns(
            "test",
            columns
                .into_iter()
                .map(|(n, v)| (n.to_string(), v))
                .collect(),
        )
        .unwrap();
        (data, names)
    }

    /// x → z → y plus an independent w: x ⫫ y | z, x ⫫ w, but x and y dependent.
    fn chain(n: usize, seed: u64) -> (Dataset, Vec<String>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut normal = || -> f64 { rng.sample(StandardNormal) };
        let (mut x, mut z, mut y, mut w) = (vec![], vec![], vec![], vec![]);
        for _ in 0..n {
            let xv = normal();
            let zv = 0.8 * xv + normal();
            let yv = 0.8 * zv + normal();
            x.push(xv);
            z.push(zv);
            y.push(yv);
            w.push(normal());
        }
        dataset(vec![("x", x), ("z", z), ("y", y), ("w", w)])
    }

    #[test]
    fn fisher_z_separates_a_chain_by_its_middle() {
        let (data, names) = chain(5_000, 1);
        let test = FisherZ::from_dataset(&data, &names).unwrap();
        assert!(test.p_value(0, 2, &[]) < 1e-10, "x and y are dependent");
        assert!(test.p_value(0, 2, &[1]) > 0.01, "x ⫫ y | z");
        assert!(test.p_value(0, 3, &[]) > 0.01, "x ⫫ w");
        assert!(
            test.p_value(0, 1, &[2, 3]) < 1e-10,
            "x and z stay dependent"
        );
        // The partial correlation matches the inverse-matrix formula.
        let corr = &test.corr;
        let idx = [0usize, 2, 1];
        let sub = Array2::from_shape_fn((3, 3), |(a, b)| corr[[idx[a], idx[b]]]);
        let inv = crate::linalg::spd_inverse(&sub, &names).unwrap();
        let expected = -inv[[0, 1]] / (inv[[0, 0]] * inv[[1, 1]]).sqrt();
        assert_abs_diff_eq!(
            test.partial_correlation(0, 2, &[1]),
            expected,
            epsilon = 1e-12
        );
    }

    #[test]
    fn fisher_z_is_calibrated_under_independence() {
        // Under independence p-values are uniform: about 5% fall below 0.05.
        let mut rejections = 0;
        for seed in 0..200 {
            let (data, names) = chain(300, 100 + seed);
            let test = FisherZ::from_dataset(&data, &names).unwrap();
            if test.p_value(0, 3, &[1]) < 0.05 {
                rejections += 1;
            }
        }
        assert!(
            (3..=20).contains(&rejections),
            "{rejections} of 200 rejected"
        );
    }

    #[test]
    fn fisher_z_names_constant_and_collinear_columns() {
        let (data, names) = dataset(vec![
            ("a", vec![1.0, 2.0, 3.0, 5.0, 4.0]),
            ("b", vec![2.0, 2.0, 2.0, 2.0, 2.0]),
        ]);
        let error = FisherZ::from_dataset(&data, &names)
            .unwrap_err()
            .to_string();
        assert!(error.contains("`b` is constant"), "{error}");

        let (data, names) = dataset(vec![
            ("a", vec![1.0, 2.0, 3.0, 5.0, 4.0, 7.0]),
            ("c", vec![0.0, 1.0, 0.0, 1.0, 1.0, 3.0]),
            ("noise", vec![0.3, -1.0, 0.2, 0.1, 0.9, -0.4]),
            ("d", vec![1.0, 4.0, 3.0, 7.0, 6.0, 13.0]),
        ]);
        let error = FisherZ::from_dataset(&data, &names)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "columns `a`, `c` and `d` are perfectly collinear (`d` is a linear combination of `a` and `c`); leave one of them out"
        );
    }

    #[test]
    fn chi_square_tail_matches_tables() {
        assert_abs_diff_eq!(
            chi_square_sf(3.841_458_820_694_124, 1.0),
            0.05,
            epsilon = 1e-9
        );
        assert_abs_diff_eq!(
            chi_square_sf(5.991_464_547_107_979, 2.0),
            0.05,
            epsilon = 1e-12
        );
        assert_abs_diff_eq!(
            chi_square_sf(18.307_038_053_275_146, 10.0),
            0.05,
            epsilon = 1e-9
        );
        assert_abs_diff_eq!(
            chi_square_sf(0.5, 3.0),
            0.918_891_411_654_676,
            epsilon = 1e-9
        );
        assert_abs_diff_eq!(chi_square_sf(0.0, 3.0), 1.0);
    }

    /// Binary x → z → y with noise, and a three-level w independent of all.
    fn discrete_chain(n: usize, seed: u64) -> GTest {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (mut x, mut z, mut y, mut w) = (vec![], vec![], vec![], vec![]);
        for _ in 0..n {
            let xv = u32::from(rng.gen::<f64>() < 0.5);
            let zv = if rng.gen::<f64>() < 0.8 { xv } else { 1 - xv };
            let yv = if rng.gen::<f64>() < 0.8 { zv } else { 1 - zv };
            x.push(xv);
            z.push(zv);
            y.push(yv);
            w.push(rng.gen_range(0..3u32));
        }
        GTest::from_codes(vec![x, z, y, w], vec![2, 2, 2, 3])
    }

    #[test]
    fn g_test_separates_a_discrete_chain() {
        let test = discrete_chain(4_000, 2);
        assert!(test.p_value(0, 2, &[]) < 1e-10);
        assert!(test.p_value(0, 2, &[1]) > 0.01);
        assert!(test.p_value(0, 3, &[]) > 0.01);
        assert!(test.p_value(1, 2, &[0, 3]) < 1e-10);
        let (_, dof) = test.statistic(0, 3, &[1]);
        // Two strata of z, each (2 − 1)(3 − 1).
        assert_eq!(dof, 4);
    }

    #[test]
    fn g_test_adjusts_degrees_of_freedom_and_refuses_sparse_tables() {
        // In the stratum s = 1, x never varies: that stratum adds no degree of freedom.
        let x = vec![0, 1, 0, 1, 0, 0, 0, 0];
        let y = vec![0, 1, 1, 0, 0, 1, 0, 1];
        let s = vec![0, 0, 0, 0, 1, 1, 1, 1];
        let test = GTest::from_codes(vec![x, y, s], vec![2, 2, 2]);
        let (_, dof) = test.statistic(0, 1, &[2]);
        assert_eq!(dof, 1);
        // Eight rows for one degree of freedom: too few to trust, so no dependence.
        assert_eq!(test.p_value(0, 1, &[2]), 1.0);
    }

    #[test]
    fn memo_answers_each_canonical_question_once() {
        let (data, names) = chain(500, 3);
        let memo = Memo::new(FisherZ::from_dataset(&data, &names).unwrap());
        let a = memo.p_value(0, 2, &[3, 1]);
        let b = memo.p_value(2, 0, &[1, 3]);
        assert_eq!(a, b);
        assert_eq!(memo.distinct_tests(), 1);
        assert_eq!(CiKey::new(5, 2, &[9, 1]), CiKey::new(2, 5, &[1, 9]));
    }
}
