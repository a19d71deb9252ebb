//! Difference in differences.
//!
//! Two designs:
//! - **2×2** (no unit column): `treatment` marks the treated group and `time` the
//!   post period (both 0/1); the effect is the interaction coefficient of
//!   `y ~ 1 + group + post + group·post (+ covariates)`, with HC1 errors.
//! - **Two-way fixed effects** (a unit column): `treatment` is 1 where a unit is
//!   treated in that period; unit and period effects are removed by alternating
//!   demeaning (exact for balanced panels, iterated to convergence otherwise) and
//!   errors are clustered by unit. A pre-trend check compares the linear trends of
//!   ever-treated and never-treated units before the first adoption.
//!
//! Both rest on parallel trends, which no estimator can prove; the pre-trend check
//! can only fail to reject it.

use std::collections::BTreeMap;

use ndarray::{Array1, Array2, Axis, Slice};

use super::{binary_treatment, covariates, EffectSpec, Estimate, Method};
use crate::data::{ColumnType, Dataset};
use crate::error::{Error, Result};
use crate::linalg::{cluster_sandwich, design_matrix, LinearFit};
use crate::stats::two_sided_p;

/// Alternating demeaning stops when no value moves more than this (relative).
const DEMEAN_TOLERANCE: f64 = 1e-10;
const DEMEAN_MAX_SWEEPS: usize = 10_000;

pub(super) fn estimate(
    data: &Dataset,
    spec: &EffectSpec,
    time: &str,
    unit: Option<&str>,
) -> Result<Estimate> {
    let d = binary_treatment(data, spec, Method::Did)?;
    for name in std::iter::once(time).chain(unit) {
        if name == spec.treatment
            || name == spec.outcome
            || spec.covariates.iter().any(|c| c == name)
        {
            return Err(Error::invalid_input(format!(
                "`{name}` is used both as the time or unit column and as a model variable"
            )));
        }
    }
    match unit {
        None => two_by_two(data, spec, time, &d),
        Some(unit) => two_way_fixed_effects(data, spec, time, unit, &d),
    }
}

fn two_by_two(
    data: &Dataset,
    spec: &EffectSpec,
    time: &str,
    group: &Array1<f64>,
) -> Result<Estimate> {
    let post = data.numeric(time)?;
    if post.iter().any(|v| *v != 0.0 && *v != 1.0) {
        return Err(Error::invalid_data(format!(
            "without --unit, difference in differences is the 2x2 design and `{time}` must be 0 (before) / 1 (after); for a panel with several periods pass --unit"
        )));
    }
    let y = data.numeric(&spec.outcome)?;
    let mut cells = BTreeMap::new();
    for (g, p) in group.iter().zip(&post) {
        *cells.entry((*g as u8, *p as u8)).or_insert(0usize) += 1;
    }
    for g in 0..2u8 {
        for p in 0..2u8 {
            if !cells.contains_key(&(g, p)) {
                return Err(Error::invalid_data(format!(
                    "the 2x2 design needs rows in every cell, but there are none with `{}` = {g} and `{time}` = {p}",
                    spec.treatment
                )));
            }
        }
    }
    let (x, names) = covariates(data, spec)?;
    let interaction = group * &post;
    let design = design_matrix(&[group.view(), post.view(), interaction.view()], x.view());
    let design_names: Vec<String> = ["intercept", spec.treatment.as_str(), time, "interaction"]
        .into_iter()
        .map(str::to_string)
        .chain(names)
        .collect();
    let fit = LinearFit::fit(design.view(), y.view(), &design_names)?;
    let covariance = fit.hc1_covariance(design.view());
    let mut estimate = Estimate::normal(
        Method::Did,
        spec,
        fit.coefficients[3],
        covariance[[3, 3]].sqrt(),
        y.len(),
    );
    for ((g, p), count) in cells {
        estimate = estimate.diagnostic(&format!("n_group{g}_period{p}"), count as f64);
    }
    estimate.warnings.push(
        "a 2x2 design has one pre-period, so parallel trends cannot be checked; a panel with several pre-periods (--unit) can".into(),
    );
    Ok(estimate)
}

/// Labels each row with the index of its value in `column` (units or periods),
/// and returns how many distinct values there are.
fn labels(column: &[f64]) -> (Vec<usize>, usize) {
    let mut distinct: Vec<f64> = column.to_vec();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    let labels = column
        .iter()
        .map(|v| distinct.partition_point(|d| d < v))
        .collect();
    (labels, distinct.len())
}

/// Removes unit and period means from each column of `m` by alternating
/// projections (one sweep suffices for a balanced panel).
fn demean_two_way(
    m: &mut Array2<f64>,
    units: &[usize],
    n_units: usize,
    periods: &[usize],
    n_periods: usize,
) -> Result<()> {
    for mut column in m.columns_mut() {
        // Convergence is judged against each column's own size: a shared scale
        // would let a small column (the 0/1 treatment) stop early next to an
        // outcome in millions.
        let scale = column.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        if scale == 0.0 {
            continue;
        }
        let mut converged = false;
        for _ in 0..DEMEAN_MAX_SWEEPS {
            let mut largest_change = 0.0f64;
            for (groups, n_groups) in [(units, n_units), (periods, n_periods)] {
                let mut sums = vec![0.0; n_groups];
                let mut counts = vec![0.0; n_groups];
                for (v, &g) in column.iter().zip(groups) {
                    sums[g] += v;
                    counts[g] += 1.0;
                }
                for (v, &g) in column.iter_mut().zip(groups) {
                    let mean = sums[g] / counts[g];
                    largest_change = largest_change.max(mean.abs());
                    *v -= mean;
                }
            }
            if largest_change <= DEMEAN_TOLERANCE * scale {
                converged = true;
                break;
            }
        }
        if !converged {
            return Err(Error::invalid_data(format!(
                "removing unit and period effects did not converge in {DEMEAN_MAX_SWEEPS} sweeps; the panel is too fragmented (units observed in disjoint periods)"
            )));
        }
    }
    Ok(())
}

fn two_way_fixed_effects(
    data: &Dataset,
    spec: &EffectSpec,
    time: &str,
    unit: &str,
    d: &Array1<f64>,
) -> Result<Estimate> {
    let y = data.numeric(&spec.outcome)?;
    let (units, n_units) = labels(&data.column(unit)?.values);
    let time_column = data.column(time)?;
    let (periods, n_periods) = labels(&time_column.values);
    if n_units < 2 || n_periods < 2 {
        return Err(Error::invalid_data(format!(
            "a panel needs at least two units and two periods; found {n_units} unit(s) and {n_periods} period(s)"
        )));
    }
    let (x, names) = covariates(data, spec)?;
    let mut m = Array2::zeros((y.len(), 2 + x.ncols()));
    m.column_mut(0).assign(&y);
    m.column_mut(1).assign(d);
    m.slice_axis_mut(Axis(1), Slice::from(2..)).assign(&x);
    demean_two_way(&mut m, &units, n_units, &periods, n_periods)?;
    let y_within = m.column(0).to_owned();
    let x_within = m.slice_axis(Axis(1), Slice::from(1..)).to_owned();
    let design_names: Vec<String> = std::iter::once(spec.treatment.clone())
        .chain(names)
        .collect();
    let fit = LinearFit::fit(x_within.view(), y_within.view(), &design_names).map_err(|e| match e {
        Error::Singular { .. } => Error::Singular {
            message: format!(
                "`{}` does not vary within units over time beyond what the unit and period effects absorb (for example every unit is treated in the same periods)",
                spec.treatment
            ),
        },
        other => other,
    })?;
    let covariance = cluster_sandwich(
        x_within.view(),
        fit.residuals.view(),
        &fit.xtx_inverse,
        &units,
        n_periods - 1,
    );
    let mut estimate = Estimate::normal(
        Method::Did,
        spec,
        fit.coefficients[0],
        covariance[[0, 0]].sqrt(),
        y.len(),
    )
    .diagnostic("units", n_units as f64)
    .diagnostic("periods", n_periods as f64);

    let adoption = adoption_periods(d, &units, n_units, &time_column.values);
    let distinct_starts: std::collections::BTreeSet<u64> =
        adoption.iter().flatten().map(|t| t.to_bits()).collect();
    if distinct_starts.len() > 1 {
        estimate.warnings.push(
            "units start treatment at different times: two-way fixed effects then average over comparisons that can be biased when effects change over time (Goodman-Bacon 2021)".into(),
        );
    }
    if time_column.kind == ColumnType::Categorical {
        estimate.warnings.push(format!(
            "`{time}` is not numeric, so periods cannot be ordered and the pre-trend check is skipped"
        ));
        return Ok(estimate);
    }
    match pre_trend(&y, &adoption, &units, n_units, &time_column.values)? {
        Some((slope, p_value)) => {
            estimate = estimate
                .diagnostic("pretrend_slope_difference", slope)
                .diagnostic("pretrend_p_value", p_value);
            if p_value < 0.05 {
                estimate.warnings.push(format!(
                    "before treatment, treated units trended differently from untreated ones (difference in slope {slope:.4} per period, p = {p_value:.3}): parallel trends is doubtful"
                ));
            }
        }
        None => estimate.warnings.push(
            "fewer than two pre-treatment periods with both treated and untreated units: parallel trends cannot be checked".into(),
        ),
    }
    Ok(estimate)
}

/// The first period in which each unit is treated, if ever.
fn adoption_periods(
    d: &Array1<f64>,
    units: &[usize],
    n_units: usize,
    time: &[f64],
) -> Vec<Option<f64>> {
    let mut first: Vec<Option<f64>> = vec![None; n_units];
    for ((&treated, &u), &t) in d.iter().zip(units).zip(time) {
        if treated == 1.0 && first[u].is_none_or(|f| t < f) {
            first[u] = Some(t);
        }
    }
    first
}

/// Before the earliest adoption, regresses the outcome (unit and period effects
/// removed) on ever-treated × time, clustered by unit. Returns the slope difference
/// and its p-value, or `None` with too few pre-periods or no never-treated units.
fn pre_trend(
    y: &Array1<f64>,
    adoption: &[Option<f64>],
    units: &[usize],
    n_units: usize,
    time: &[f64],
) -> Result<Option<(f64, f64)>> {
    let Some(earliest) = adoption.iter().flatten().copied().min_by(f64::total_cmp) else {
        return Ok(None);
    };
    let rows: Vec<usize> = (0..y.len()).filter(|&i| time[i] < earliest).collect();
    let pre_times: Vec<f64> = rows.iter().map(|&i| time[i]).collect();
    let (periods, n_periods) = labels(&pre_times);
    let ever: Vec<bool> = rows.iter().map(|&i| adoption[units[i]].is_some()).collect();
    if n_periods < 2 || ever.iter().all(|e| *e) || ever.iter().all(|e| !*e) {
        return Ok(None);
    }
    let pre_units: Vec<usize> = rows.iter().map(|&i| units[i]).collect();
    let mut m = Array2::zeros((rows.len(), 2));
    for (r, &i) in rows.iter().enumerate() {
        m[[r, 0]] = y[i];
        m[[r, 1]] = if ever[r] { time[i] - earliest } else { 0.0 };
    }
    demean_two_way(&mut m, &pre_units, n_units, &periods, n_periods)?;
    let x = m.slice_axis(Axis(1), Slice::from(1..)).to_owned();
    let Ok(fit) = LinearFit::fit(x.view(), m.column(0), &["pre-trend".to_string()]) else {
        return Ok(None);
    };
    let covariance = cluster_sandwich(
        x.view(),
        fit.residuals.view(),
        &fit.xtx_inverse,
        &pre_units,
        n_periods - 1,
    );
    let slope = fit.coefficients[0];
    let p_value = two_sided_p(slope / covariance[[0, 0]].sqrt());
    Ok(Some((slope, p_value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demeaning_a_balanced_panel_removes_both_effects() {
        // y = unit effect + period effect exactly: nothing is left after demeaning.
        let units = vec![0, 0, 0, 1, 1, 1];
        let periods = vec![0, 1, 2, 0, 1, 2];
        let mut m = Array2::from_shape_vec((6, 1), vec![1.0, 3.0, 4.0, 11.0, 13.0, 14.0]).unwrap();
        demean_two_way(&mut m, &units, 2, &periods, 3).unwrap();
        assert!(m.iter().all(|v| v.abs() < 1e-12), "{m}");
    }

    #[test]
    fn labels_follow_sorted_values() {
        assert_eq!(
            labels(&[2010.0, 2008.0, 2010.0, 2009.0]),
            (vec![2, 0, 2, 1], 3)
        );
    }
}
