//! Interventions on a fitted [`StructuralModel`]: population means and unit
//! counterfactuals, with bootstrap intervals, path shares and warnings.
//!
//! Both kinds of answer run the same three steps on a set of "particles" — the
//! kept population's rows for an interventional answer, copies of one row for a
//! counterfactual:
//!
//! 1. **abduction**: each particle's noise is recovered from its observed values;
//! 2. **action**: the levers take their new values (on the particles that match an
//!    intervention's condition);
//! 3. **prediction**: every variable downstream of a lever is regenerated from its
//!    mechanism, its new parent values and its own noise.
//!
//! Only variables between a lever and a target are recomputed; everything else
//! keeps its observed values, so with no intervention the answer is the data
//! itself. Intervals come from bootstrap refits: the kept rows are resampled (as
//! multiplicities, nothing is copied), the mechanisms between levers and targets
//! refitted, and steps 1–3 repeated — in parallel and seeded, so an answer is the
//! same on every run and every machine.

use std::borrow::Cow;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::format::number;
use crate::model::{Role, VariableKind};
use crate::progress::{Progress, Silent, Tally};
use crate::scm::mechanism::{Mechanism, MechanismKind};
use crate::scm::paths::path_shares;
use crate::scm::query::{
    AnswerKind, Comparison, ConditionValue, Intervention, Op, TargetEffect, WhatIfResult,
};
use crate::scm::{NodeMechanism, StructuralModel};
use crate::stats::quantile;

/// Options of [`StructuralModel::what_if`].
#[derive(Clone, Debug, PartialEq)]
pub struct WhatIfOptions {
    /// Bootstrap refits for the intervals; 0 gives point answers only.
    pub bootstrap: usize,
    /// Seed of the bootstrap and of the classifiers' noise draws.
    pub seed: u64,
    /// A row of the fitted data (0-based) for a counterfactual; none for the
    /// population's interventional answer.
    pub unit: Option<usize>,
    /// Noise draws per counterfactual when a binary or categorical variable must
    /// be regenerated (its noise is only known up to a slice).
    pub draws: usize,
}

impl Default for WhatIfOptions {
    fn default() -> Self {
        WhatIfOptions {
            bootstrap: 200,
            seed: 0,
            unit: None,
            draws: 200,
        }
    }
}

/// Held-out R² (or McFadden's pseudo-R² for classifiers) below which a mechanism
/// on the way from a lever to a target is called poorly fitted.
const POOR_R_SQUARED: f64 = 0.2;
const POOR_PSEUDO_R_SQUARED: f64 = 0.05;
/// Share of units pushed outside a variable's observed range above which a
/// population answer warns of extrapolation.
const RANGE_SHARE: f64 = 0.01;
/// Fewer successful refits than this give no interval.
const MIN_REFITS: usize = 20;

/// An intervention checked against the model.
#[derive(Clone, Debug)]
struct Resolved {
    node: usize,
    op: Op,
    value: f64,
    condition: Option<(usize, Comparison, f64)>,
    text: String,
}

/// The particles' observed values (one column per variable), the kind of answer,
/// and the noise draws per unit.
type Particles<'a> = (Cow<'a, [Vec<f64>]>, AnswerKind, usize);

/// One number reported per affected target: its mean, or for a categorical target
/// the share of one level.
#[derive(Clone, Debug)]
struct Metric {
    node: usize,
    level: Option<usize>,
    name: String,
}

impl Metric {
    fn value(&self, v: f64) -> f64 {
        match self.level {
            Some(level) => f64::from(u8::from(v as usize == level)),
            None => v,
        }
    }
}

/// What to compute: the checked interventions, the metrics, and the variables to
/// recompute (in topological order).
struct Plan {
    interventions: Vec<Resolved>,
    metrics: Vec<Metric>,
    unaffected: Vec<String>,
    notes: Vec<String>,
    changed: Vec<usize>,
    /// The recomputed variables whose mechanism is used: those with a recomputed
    /// parent (a lever with none only takes its new value).
    regenerated: Vec<usize>,
}

impl StructuralModel {
    /// The answer to "what if `interventions`?" for `targets` (default: every KPI;
    /// without KPIs, every variable downstream of the levers).
    ///
    /// # Errors
    /// An unknown variable (with the closest name), an operation the variable's
    /// kind does not allow (scaling a category), an unknown level, two
    /// interventions on one variable, or a unit outside the data.
    pub fn what_if(
        &self,
        interventions: &[Intervention],
        targets: Option<&[String]>,
        options: &WhatIfOptions,
    ) -> Result<WhatIfResult> {
        self.what_if_with_progress(interventions, targets, options, &Silent)
    }

    /// [`StructuralModel::what_if`], reporting the bootstrap refits to `progress`
    /// (stage "bootstrap refits": 0 before the first, then one step per finished
    /// refit) and stopping between refits when it cancels. The answer is the same
    /// as without it: the reports take no part in the seeded draws.
    ///
    /// # Errors
    /// As [`StructuralModel::what_if`], and [`Error::Cancelled`] from `progress`.
    pub fn what_if_with_progress(
        &self,
        interventions: &[Intervention],
        targets: Option<&[String]>,
        options: &WhatIfOptions,
        progress: &dyn Progress,
    ) -> Result<WhatIfResult> {
        let plan = self.plan(interventions, targets)?;
        let (observed, kind, draws) = self.particles(&plan, options)?;
        let observed_refs: Vec<&[f64]> = observed.iter().map(Vec::as_slice).collect();
        let n = observed_refs.first().map_or(0, |c| c.len());
        let mechanisms: Vec<Option<&Mechanism>> = self
            .nodes
            .iter()
            .map(|node| match &node.mechanism {
                NodeMechanism::Fitted { mechanism, .. } => Some(mechanism),
                NodeMechanism::Empirical => None,
            })
            .collect();
        let new = self.evaluate(
            &plan,
            &mechanisms,
            &observed_refs,
            None,
            n,
            options.seed,
            Vec::new(),
        )?;

        let (changes, failures) = self.bootstrap(&plan, &observed_refs, kind, options, progress)?;
        let mut warnings = plan.notes.clone();
        warnings.extend(self.range_warnings(&plan, &new, kind));
        warnings.extend(self.fit_warnings(&plan));
        if options.bootstrap > 0 && failures > 0 {
            warnings.push(format!(
                "{failures} of {} bootstrap refits failed (a resample without enough variation); the interval uses the others",
                options.bootstrap
            ));
        }
        let refits = options.bootstrap - failures;
        if options.bootstrap > 0 && refits < MIN_REFITS {
            warnings.push(format!(
                "only {refits} bootstrap refits succeeded; no interval is given"
            ));
        }

        // A lever is recomputed only when some target is downstream of it; when
        // none is (every target unaffected) there is nothing to share out.
        let lever_deltas: Vec<(usize, f64)> = plan
            .interventions
            .iter()
            .filter_map(|r| {
                let after = new[r.node].as_ref()?;
                Some((r.node, mean(after) - mean(observed_refs[r.node])))
            })
            .collect();
        let mut effects = Vec::with_capacity(plan.metrics.len());
        for (m, metric) in plan.metrics.iter().enumerate() {
            let after = new[metric.node].as_ref().expect("targets are recomputed");
            let baseline = mean_of(observed_refs[metric.node], metric);
            let intervened = mean_of(after, metric);
            let change = intervened - baseline;
            let (ci_low, ci_high) = if refits >= MIN_REFITS && options.bootstrap > 0 {
                let mut values: Vec<f64> = changes.iter().map(|c| c[m]).collect();
                (
                    Some(quantile(&mut values, 0.025)),
                    Some(quantile(&mut values, 0.975)),
                )
            } else {
                (None, None)
            };
            let (paths, path_method) = match metric.level {
                None => path_shares(self, &plan.changed, &lever_deltas, metric.node),
                Some(_) => (
                    Vec::new(),
                    "no path shares for a level of a categorical variable".to_string(),
                ),
            };
            effects.push(TargetEffect {
                target: metric.name.clone(),
                baseline,
                intervened,
                change,
                change_pct: (baseline != 0.0).then(|| 100.0 * change / baseline.abs()),
                ci_low,
                ci_high,
                paths,
                path_method,
            });
        }
        Ok(WhatIfResult {
            kind,
            unit: options.unit,
            effects,
            unaffected: plan.unaffected,
            warnings,
            assumptions: self.assumptions(kind, options, draws, refits),
        })
    }

    /// Checks the interventions and targets and works out what to recompute.
    fn plan(&self, interventions: &[Intervention], targets: Option<&[String]>) -> Result<Plan> {
        if interventions.is_empty() {
            return Err(Error::invalid_input(
                "a what-if needs at least one intervention, such as `tv_spend*=0.9`",
            ));
        }
        let mut resolved: Vec<Resolved> = interventions
            .iter()
            .map(|i| self.resolve(i))
            .collect::<Result<_>>()?;
        resolved.sort_by_key(|r| r.node);
        if let Some(pair) = resolved.windows(2).find(|w| w[0].node == w[1].node) {
            return Err(Error::invalid_input(format!(
                "`{}` is changed twice; give one intervention per variable",
                self.nodes[pair[0].node].name
            )));
        }
        let levers: Vec<usize> = resolved.iter().map(|r| r.node).collect();

        let target_nodes: Vec<usize> = match targets {
            Some(names) if !names.is_empty() => {
                let mut nodes: Vec<usize> = names
                    .iter()
                    .map(|t| self.index_of(t))
                    .collect::<Result<_>>()?;
                nodes.dedup();
                nodes
            }
            _ => {
                let kpis: Vec<usize> = (0..self.nodes.len())
                    .filter(|&i| self.nodes[i].role == Role::Kpi)
                    .collect();
                if kpis.is_empty() {
                    let below = self.descendants_of(&levers);
                    (0..self.nodes.len())
                        .filter(|&i| below[i] && !levers.contains(&i))
                        .collect()
                } else {
                    kpis
                }
            }
        };
        let below_levers = self.descendants_of(&levers);
        let above_levers = self.ancestors_or_self(&levers);
        let mut affected = Vec::new();
        let mut unaffected = Vec::new();
        let mut notes = Vec::new();
        for &target in &target_nodes {
            if below_levers[target] || levers.contains(&target) {
                affected.push(target);
            } else {
                let name = &self.nodes[target].name;
                unaffected.push(name.clone());
                if above_levers[target] {
                    let lever_names: Vec<&str> = levers
                        .iter()
                        .map(|&l| self.nodes[l].name.as_str())
                        .collect();
                    notes.push(format!(
                        "`{name}` is upstream of {}: no causal path leads from the change to it, so it cannot move",
                        lever_names.join(", ")
                    ));
                }
            }
        }
        let toward_targets = self.ancestors_or_self(&affected);
        let changed: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| (below_levers[i] || levers.contains(&i)) && toward_targets[i])
            .collect();
        let regenerated: Vec<usize> = changed
            .iter()
            .copied()
            .filter(|&i| self.nodes[i].parents.iter().any(|p| changed.contains(p)))
            .collect();
        let mut metrics = Vec::new();
        for &target in &affected {
            let node = &self.nodes[target];
            if node.kind == VariableKind::Categorical {
                for (level, label) in node.levels.iter().enumerate() {
                    metrics.push(Metric {
                        node: target,
                        level: Some(level),
                        name: format!("{}={label}", node.name),
                    });
                }
            } else {
                metrics.push(Metric {
                    node: target,
                    level: None,
                    name: node.name.clone(),
                });
            }
        }
        Ok(Plan {
            interventions: resolved,
            metrics,
            unaffected,
            notes,
            changed,
            regenerated,
        })
    }

    /// Checks one intervention against the variable's kind and levels.
    fn resolve(&self, intervention: &Intervention) -> Result<Resolved> {
        let node_index = self.index_of(&intervention.variable)?;
        let node = &self.nodes[node_index];
        let name = &node.name;
        let value = match (node.kind, intervention.op, &intervention.label) {
            (VariableKind::Continuous, _, Some(label)) => {
                return Err(Error::invalid_input(format!(
                    "`{name}` is a number; `{label}` is not one"
                )))
            }
            (VariableKind::Continuous, _, None) => intervention.value,
            (_, Op::Set, Some(label)) => level_code(name, &node.levels, label)? as f64,
            (VariableKind::Binary, Op::Set, None)
                if intervention.value == 0.0 || intervention.value == 1.0 =>
            {
                intervention.value
            }
            (VariableKind::Binary, Op::Set, None) => {
                return Err(Error::invalid_input(format!(
                    "`{name}` is binary: set it to 0 or 1 (or {})",
                    node.levels.join(" or ")
                )))
            }
            (VariableKind::Categorical, Op::Set, None) => {
                return Err(Error::invalid_input(format!(
                    "`{name}` is categorical: set it to one of its levels ({})",
                    node.levels.join(", ")
                )))
            }
            (_, op, _) => {
                return Err(Error::invalid_input(format!(
                    "`{name}` is {}: it cannot be {}; set it to one of {} instead",
                    node.kind.name(),
                    match op {
                        Op::Scale => "scaled",
                        Op::Shift => "shifted",
                        Op::Set => "set",
                    },
                    node.levels.join(", ")
                )))
            }
        };
        if !value.is_finite() {
            return Err(Error::invalid_input(format!(
                "the value of the intervention on `{name}` is not a finite number"
            )));
        }
        let condition = match &intervention.only_where {
            None => None,
            Some(condition) => {
                let index = self.index_of(&condition.variable)?;
                let target = &self.nodes[index];
                let value = match (&condition.value, target.kind) {
                    (
                        ConditionValue::Label(label),
                        VariableKind::Categorical | VariableKind::Binary,
                    ) => {
                        if !matches!(condition.comparison, Comparison::Eq | Comparison::Ne) {
                            return Err(Error::invalid_input(format!(
                                "`{}` has labels, which can only be compared with == or !=",
                                target.name
                            )));
                        }
                        level_code(&target.name, &target.levels, label)? as f64
                    }
                    (ConditionValue::Label(label), VariableKind::Continuous) => {
                        return Err(Error::invalid_input(format!(
                            "`{}` is a number; compare it with a number, not `{label}`",
                            target.name
                        )))
                    }
                    (ConditionValue::Number(_), VariableKind::Categorical) => {
                        return Err(Error::invalid_input(format!(
                            "`{}` is categorical; compare it with one of its levels ({})",
                            target.name,
                            target.levels.join(", ")
                        )))
                    }
                    (ConditionValue::Number(x), _) => *x,
                };
                Some((index, condition.comparison, value))
            }
        };
        Ok(Resolved {
            node: node_index,
            op: intervention.op,
            value,
            condition,
            text: intervention.describe(),
        })
    }

    /// The particles' observed values, the kind of answer, and the noise draws per
    /// unit.
    fn particles(&self, plan: &Plan, options: &WhatIfOptions) -> Result<Particles<'_>> {
        let Some(unit) = options.unit else {
            // Borrowed: a copy of the population would cost more than the answer.
            return Ok((
                Cow::Borrowed(self.population.as_slice()),
                AnswerKind::Interventional,
                1,
            ));
        };
        if self.synthetic {
            return Err(Error::invalid_input(
                "this model was rebuilt from its document without the data it was fitted on, so it cannot answer for one row; use a model saved with its mechanisms",
            ));
        }
        if unit >= self.n_rows {
            return Err(Error::invalid_input(format!(
                "row {unit} is out of range: the model was fitted on {} rows (0 to {})",
                self.n_rows,
                self.n_rows - 1
            )));
        }
        let Some(position) = self.population_rows.iter().position(|&r| r == unit) else {
            return Err(Error::invalid_input(format!(
                "row {unit} is not among the {} rows the model kept (of {}); refit with a larger keep_rows to ask about it",
                self.population_rows.len(),
                self.n_rows
            )));
        };
        let regenerates_a_level = plan.regenerated.iter().any(|&i| {
            matches!(&self.nodes[i].mechanism, NodeMechanism::Fitted { mechanism, .. } if mechanism.kind() == MechanismKind::Logistic)
        });
        let draws = if regenerates_a_level {
            options.draws.max(1)
        } else {
            1
        };
        let observed = self
            .population
            .iter()
            .map(|column| vec![column[position]; draws])
            .collect();
        Ok((Cow::Owned(observed), AnswerKind::Counterfactual, draws))
    }

    /// Abduction, action and prediction for every particle; returns the new values
    /// of the recomputed variables (none for the others). `observed_designs`, when
    /// given, are the design matrices of `plan.regenerated` on `observed`, built
    /// once for every bootstrap replicate instead of once per replicate. `spare`
    /// holds the vectors of an earlier answer (or nothing), whose buffers are
    /// reused.
    #[allow(clippy::too_many_arguments)]
    fn evaluate(
        &self,
        plan: &Plan,
        mechanisms: &[Option<&Mechanism>],
        observed: &[&[f64]],
        observed_designs: Option<&[ndarray::Array2<f64>]>,
        n: usize,
        seed: u64,
        mut spare: Vec<Option<Vec<f64>>>,
    ) -> Result<Vec<Option<Vec<f64>>>> {
        spare.resize(self.nodes.len(), None);
        let mut new: Vec<Option<Vec<f64>>> = vec![None; self.nodes.len()];
        for &index in &plan.changed {
            let node = &self.nodes[index];
            let parent_changed = node.parents.iter().any(|&p| new[p].is_some());
            let mut values = spare[index].take().unwrap_or_default();
            values.clear();
            match (&node.mechanism, mechanisms[index]) {
                (
                    NodeMechanism::Fitted { design, .. },
                    Some(Mechanism::LinearGaussian { coefficients, .. }),
                ) if parent_changed => {
                    // Additive noise is the unit's exact residual, so the new value
                    // is the observed one plus the change of the linear part, which
                    // only the changed parents' columns make.
                    values.extend_from_slice(observed[index]);
                    for (column, slope) in design.columns.iter().zip(&coefficients[1..]) {
                        let Some(after) = new[column.parent].as_deref() else {
                            continue;
                        };
                        let rows = values.iter_mut().zip(after).zip(observed[column.parent]);
                        match column.level {
                            None => rows.for_each(|((v, a), b)| *v += slope * (a - b)),
                            Some(code) => {
                                let indicator = |v: f64| f64::from(u8::from(v as usize == code));
                                rows.for_each(|((v, &a), &b)| {
                                    *v += slope * (indicator(a) - indicator(b));
                                });
                            }
                        }
                    }
                }
                (NodeMechanism::Fitted { design, .. }, Some(mechanism)) if parent_changed => {
                    let built;
                    let x_observed = match observed_designs.and_then(|designs| {
                        let position = plan.regenerated.iter().position(|&r| r == index)?;
                        designs.get(position)
                    }) {
                        Some(x) => x,
                        None => {
                            built = design.matrix(observed, n);
                            &built
                        }
                    };
                    // Only a classifier's abduction reads them; additive noise is exact.
                    let uniforms = if mechanism.kind() == MechanismKind::Logistic {
                        uniforms(seed, index, n)
                    } else {
                        Vec::new()
                    };
                    let noise = mechanism.abduct(x_observed.view(), observed[index], &uniforms)?;
                    let current: Vec<&[f64]> = (0..self.nodes.len())
                        .map(|i| new[i].as_deref().unwrap_or(observed[i]))
                        .collect();
                    let x_new = design.matrix(&current, n);
                    values = mechanism.generate(x_new.view(), &noise)?;
                }
                _ => values.extend_from_slice(observed[index]),
            }
            if let Some(intervention) = plan.interventions.iter().find(|r| r.node == index) {
                for (i, value) in values.iter_mut().enumerate() {
                    let applies = intervention
                        .condition
                        .is_none_or(|(c, comparison, target)| {
                            compare(observed[c][i], comparison, target)
                        });
                    if applies {
                        *value = intervention.op.apply(*value, intervention.value);
                    }
                }
            }
            new[index] = Some(values);
        }
        Ok(new)
    }

    /// The change of each metric under bootstrap refits, and how many refits failed.
    ///
    /// Replicates run in parallel; each thread reuses its multiplicities and its
    /// recomputed columns from one replicate to the next, so memory stays at a few
    /// replicates' worth whatever the number of refits. A refit that fails is
    /// counted; a cancel from `progress` stops them all.
    fn bootstrap(
        &self,
        plan: &Plan,
        observed: &[&[f64]],
        kind: AnswerKind,
        options: &WhatIfOptions,
        progress: &dyn Progress,
    ) -> Result<(Vec<Vec<f64>>, usize)> {
        if options.bootstrap == 0 {
            return Ok((Vec::new(), 0));
        }
        let rows = self.population_rows.len();
        let population: Vec<&[f64]> = self.population.iter().map(Vec::as_slice).collect();
        let refitted = &plan.regenerated;
        let designs: Vec<ndarray::Array2<f64>> = refitted
            .iter()
            .map(|&i| match &self.nodes[i].mechanism {
                NodeMechanism::Fitted { design, .. } => design.matrix(&population, rows),
                NodeMechanism::Empirical => unreachable!("filtered to fitted nodes"),
            })
            .collect();
        let names: Vec<Vec<String>> = refitted
            .iter()
            .map(|&i| match &self.nodes[i].mechanism {
                NodeMechanism::Fitted { design, .. } => design.names(),
                NodeMechanism::Empirical => unreachable!("filtered to fitted nodes"),
            })
            .collect();
        let n = observed.first().map_or(0, |c| c.len());
        // One replicate: its refits, then the change of each metric.
        let one = |counts: &mut Vec<f64>,
                   spare: &mut Vec<Option<Vec<f64>>>,
                   replicate: usize|
         -> Result<Vec<f64>> {
            let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
            rng.set_stream(replicate as u64 + 1);
            counts.fill(0.0);
            for _ in 0..rows {
                counts[rng.gen_range(0..rows)] += 1.0;
            }
            let mut fitted: Vec<Option<Mechanism>> = vec![None; self.nodes.len()];
            for ((&index, x), names) in refitted.iter().zip(&designs).zip(&names) {
                let node = &self.nodes[index];
                let NodeMechanism::Fitted { mechanism, .. } = &node.mechanism else {
                    unreachable!("filtered to fitted nodes")
                };
                let y = ndarray::ArrayView1::from(population[index]);
                fitted[index] = Some(Mechanism::fit(
                    mechanism.kind(),
                    x.view(),
                    y,
                    Some(counts),
                    names,
                    node.levels.len(),
                    &self.options.forest,
                )?);
            }
            let mechanisms: Vec<Option<&Mechanism>> = self
                .nodes
                .iter()
                .enumerate()
                .map(|(i, node)| match (&fitted[i], &node.mechanism) {
                    (Some(refit), _) => Some(refit),
                    (None, NodeMechanism::Fitted { mechanism, .. }) => Some(mechanism),
                    (None, NodeMechanism::Empirical) => None,
                })
                .collect();
            // For a population answer the particles are the kept rows, whose
            // designs were built above.
            let observed_designs =
                (kind == AnswerKind::Interventional).then_some(designs.as_slice());
            let new = self.evaluate(
                plan,
                &mechanisms,
                observed,
                observed_designs,
                n,
                options.seed,
                std::mem::take(spare),
            )?;
            let weights = (kind == AnswerKind::Interventional).then_some(counts.as_slice());
            let changes = plan
                .metrics
                .iter()
                .map(|metric| {
                    let after = new[metric.node].as_ref().expect("targets are recomputed");
                    weighted_mean(after, metric, weights)
                        - weighted_mean(observed[metric.node], metric, weights)
                })
                .collect();
            *spare = new;
            Ok(changes)
        };
        let tally = Tally::start(progress, "bootstrap refits", options.bootstrap)?;
        // The outer result is the cancel, which stops every replicate; the inner one
        // is a replicate's own failure, which only that replicate pays for.
        let outcomes: Vec<Result<Vec<f64>>> = (0..options.bootstrap)
            .into_par_iter()
            .map_init(
                || (vec![0.0; rows], Vec::new()),
                |(counts, spare), replicate| {
                    tally.check()?;
                    let outcome = one(counts, spare, replicate);
                    tally.finished()?;
                    Ok(outcome)
                },
            )
            .collect::<Result<_>>()?;
        let failures = outcomes.iter().filter(|o| o.is_err()).count();
        Ok((
            outcomes.into_iter().filter_map(Result::ok).collect(),
            failures,
        ))
    }

    /// Warnings for variables pushed outside the range they were observed in.
    fn range_warnings(
        &self,
        plan: &Plan,
        new: &[Option<Vec<f64>>],
        kind: AnswerKind,
    ) -> Vec<String> {
        let mut warnings = Vec::new();
        for &index in &plan.changed {
            let node = &self.nodes[index];
            let (Some(values), VariableKind::Continuous) = (&new[index], node.kind) else {
                continue;
            };
            let support = node.support;
            let slack = 1e-9 * (support.max.abs() + support.min.abs() + 1.0);
            let n = values.len().max(1) as f64;
            let above = values.iter().filter(|v| **v > support.max + slack).count() as f64 / n;
            let below = values.iter().filter(|v| **v < support.min - slack).count() as f64 / n;
            let lever = plan.interventions.iter().find(|r| r.node == index);
            let cause = match lever {
                Some(r) => format!("`{}`", r.text),
                None => "the change".to_string(),
            };
            for (share, side, bound) in [
                (above, "above the largest", support.max),
                (below, "below the smallest", support.min),
            ] {
                let report = match kind {
                    AnswerKind::Interventional => share > RANGE_SHARE,
                    AnswerKind::Counterfactual => share > 0.0,
                };
                if report {
                    let whom = match kind {
                        AnswerKind::Interventional => format!("{:.0}% of units", 100.0 * share),
                        AnswerKind::Counterfactual => "this unit".to_string(),
                    };
                    warnings.push(format!(
                        "{cause} puts {whom} {side} observed `{}` ({}): the model extrapolates there",
                        node.name,
                        number(bound)
                    ));
                }
            }
        }
        warnings
    }

    /// Warnings for poorly fitted mechanisms and for direct effects that cannot be
    /// told from zero, on the way from the levers to the targets.
    fn fit_warnings(&self, plan: &Plan) -> Vec<String> {
        let mut warnings = Vec::new();
        let on_path = |i: usize| plan.changed.contains(&i);
        for &index in &plan.regenerated {
            let node = &self.nodes[index];
            let NodeMechanism::Fitted {
                held_out, edges, ..
            } = &node.mechanism
            else {
                continue;
            };
            let poor = match held_out {
                crate::scm::mechanism::HeldOutFit::RSquared(r2) => *r2 < POOR_R_SQUARED,
                _ => held_out.score() < POOR_PSEUDO_R_SQUARED,
            };
            if poor {
                warnings.push(format!(
                    "the mechanism of `{}` predicts it poorly ({}): answers through it are uncertain",
                    node.name,
                    held_out.describe()
                ));
            }
            for (&parent, edge) in node.parents.iter().zip(edges) {
                if !on_path(parent) {
                    continue;
                }
                if let (Some(low), Some(high)) = (edge.ci_low, edge.ci_high) {
                    if low <= 0.0 && high >= 0.0 {
                        warnings.push(format!(
                            "the direct effect of `{}` on `{}` cannot be told from zero (95% CI {} to {})",
                            self.nodes[parent].name,
                            node.name,
                            number(low),
                            number(high)
                        ));
                    }
                }
            }
        }
        warnings
    }

    fn assumptions(
        &self,
        kind: AnswerKind,
        options: &WhatIfOptions,
        draws: usize,
        refits: usize,
    ) -> Vec<String> {
        let mut out = vec![
            "the causal graph is right and complete: every common cause of two modelled variables is in the model".to_string(),
            "each variable follows its fitted mechanism from its parents plus its own independent noise, and the mechanisms stay the same when a lever is changed".to_string(),
        ];
        match kind {
            AnswerKind::Interventional if self.synthetic => out.push(format!(
                "the answer averages over {} units drawn from the document's parameters (the fitted data was not stored with it), so it is approximate",
                self.population_rows.len()
            )),
            AnswerKind::Interventional => out.push(format!(
                "the answer averages over {} units of the data (of {} fitted), each with its own noise recovered from its values",
                self.population_rows.len(),
                self.n_rows
            )),
            AnswerKind::Counterfactual => {
                out.push("this unit's noise is recovered from its observed values: the answer is what this unit would have shown, not an average".to_string());
                if draws > 1 {
                    out.push(format!(
                        "a binary or categorical variable's noise is known only up to the range that gave its observed level, so the answer averages {draws} draws from it (a monotone response)"
                    ));
                }
            }
        }
        if options.bootstrap > 0 && refits >= MIN_REFITS {
            out.push(format!(
                "95% intervals are percentiles of {refits} bootstrap refits of the mechanisms between the levers and the targets"
            ));
        } else {
            out.push("no interval: bootstrap refits were not run".to_string());
        }
        out
    }
}

/// The code of `label` among `levels`, or an error listing them.
fn level_code(name: &str, levels: &[String], label: &str) -> Result<usize> {
    levels
        .iter()
        .position(|l| l == label || l.eq_ignore_ascii_case(label))
        .ok_or_else(|| {
            Error::invalid_input(format!(
                "`{name}` has no level `{label}`; its levels are {}",
                levels.join(", ")
            ))
        })
}

fn compare(value: f64, comparison: Comparison, target: f64) -> bool {
    match comparison {
        Comparison::Eq => value == target,
        Comparison::Ne => value != target,
        Comparison::Lt => value < target,
        Comparison::Le => value <= target,
        Comparison::Gt => value > target,
        Comparison::Ge => value >= target,
    }
}

/// One uniform draw in `[0, 1)` per particle for node `index`'s noise, the same
/// for every refit so that bootstrap replicates differ only by their data.
fn uniforms(seed: u64, index: usize, n: usize) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_0fc0_ffee);
    rng.set_stream(index as u64);
    (0..n).map(|_| rng.gen::<f64>()).collect()
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

fn mean_of(values: &[f64], metric: &Metric) -> f64 {
    weighted_mean(values, metric, None)
}

fn weighted_mean(values: &[f64], metric: &Metric, weights: Option<&[f64]>) -> f64 {
    match weights {
        None => values.iter().map(|&v| metric.value(v)).sum::<f64>() / values.len().max(1) as f64,
        Some(w) => {
            let (sum, total) = values.iter().zip(w).fold((0.0, 0.0), |(s, t), (&v, &w)| {
                (s + w * metric.value(v), t + w)
            });
            sum / total.max(f64::MIN_POSITIVE)
        }
    }
}
