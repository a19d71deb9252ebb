//! Root causes: which upstream causes made one unit's KPI anomalous, and which
//! changed mechanisms moved a KPI's mean between two periods.
//!
//! Both answers are Shapley values over the variables upstream of the target
//! (its ancestors and itself), as DoWhy's `gcm.attribute_anomalies` and
//! `gcm.distribution_change` compute them:
//!
//! - **anomaly** ([`StructuralModel::attribute_anomaly`]): the players are the noise
//!   terms. A coalition's value is `log P(score ≥ τ)` when the coalition's noises are
//!   fixed to the unit's (recovered by abduction) and the others come from the kept
//!   population; `τ` is the unit's information-theoretic outlier score. Fixing every
//!   noise reproduces the unit (value 0), fixing none gives back the population, so
//!   the contributions add up to the outlier score.
//! - **change** ([`StructuralModel::attribute_change`]): the players are the
//!   mechanisms, refitted on each period with the model's mechanism kinds. A
//!   coalition's value is the target's mean when its members use the after-period
//!   mechanism (with that period's noise) and the others the before-period one.
//!
//! Every coalition is evaluated on the same particles with the same random draws
//! (common random numbers): differences between coalitions are then differences of
//! mechanisms or noises, not of Monte Carlo noise, which is what Shapley values are
//! made of. Up to [`EXACT_PLAYERS`] players every coalition is evaluated; beyond,
//! Shapley values are averaged over seeded random orderings. Coalitions run in
//! parallel, and results do not depend on the number of threads.

use ndarray::Array1;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use crate::data::{Column, ColumnType, Dataset};
use crate::error::{closest_name, Error, Result};
use crate::model::VariableKind;
use crate::scm::mechanism::{Mechanism, MechanismKind, ParentDesign};
use crate::scm::{NodeMechanism, StructuralModel};
use crate::stats::quantile;

/// Most players for which every coalition is evaluated (2¹⁰ = 1024 coalitions).
pub const EXACT_PLAYERS: usize = 10;

/// Options of [`StructuralModel::attribute_anomaly`] and
/// [`StructuralModel::attribute_change`].
///
/// | field | default | meaning |
/// |---|---|---|
/// | `samples` | 2000 | particles each coalition is evaluated on (≥ 1) |
/// | `permutations` | 200 | random orderings when there are more than [`EXACT_PLAYERS`] players (≥ 1) |
/// | `seed` | 0 | seed of the particles, noise draws and orderings |
#[derive(Clone, Debug, PartialEq)]
pub struct RcaOptions {
    /// Particles drawn per coalition.
    pub samples: usize,
    /// Shapley permutations when exact enumeration is too big.
    pub permutations: usize,
    /// Seed of every random draw.
    pub seed: u64,
}

impl Default for RcaOptions {
    fn default() -> Self {
        RcaOptions {
            samples: 2000,
            permutations: 200,
            seed: 0,
        }
    }
}

impl RcaOptions {
    fn check(&self) -> Result<()> {
        if self.samples == 0 {
            return Err(Error::invalid_input("samples must be at least 1"));
        }
        if self.permutations == 0 {
            return Err(Error::invalid_input("permutations must be at least 1"));
        }
        Ok(())
    }
}

/// One variable's share of an anomaly or a change.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Attribution {
    /// The variable (its noise for an anomaly, its mechanism for a change).
    pub variable: String,
    /// Its Shapley value.
    pub contribution: f64,
}

/// Why one unit's value of a target is anomalous.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AnomalyAttribution {
    /// The target variable.
    pub target: String,
    /// The unit's value of the target (a level code for a binary target).
    pub value: f64,
    /// The target's median over the kept population.
    pub baseline_median: f64,
    /// `−log P(|Y − median| ≥ |value − median|)` over the kept population (with
    /// +1 smoothing): about 2.3 for a 1-in-10 value, 6.9 for 1 in 1000.
    pub outlier_score: f64,
    /// The noise of each upstream variable, largest contribution first; they add
    /// up to `outlier_score`.
    pub attributions: Vec<Attribution>,
    /// How the contributions were computed.
    pub method: String,
    /// Caveats.
    pub notes: Vec<String>,
}

/// Why a target's mean changed between two periods.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChangeAttribution {
    /// The target variable.
    pub target: String,
    /// Its mean in the before data.
    pub before_mean: f64,
    /// Its mean in the after data.
    pub after_mean: f64,
    /// `after_mean − before_mean`.
    pub change: f64,
    /// The change the model attributes: the target's mean with every mechanism
    /// from the after period minus with every one from the before period. The
    /// contributions add up to it; it differs from `change` by sampling error
    /// and by what the mechanisms fail to capture.
    pub modelled_change: f64,
    /// The mechanism of each upstream variable, largest |contribution| first.
    pub attributions: Vec<Attribution>,
    /// How the contributions were computed.
    pub method: String,
    /// Caveats.
    pub notes: Vec<String>,
}

/// How one player's variable is produced in a coalition: a root takes `input` as
/// its values; a fitted variable applies its mechanism to its parents and `input`
/// as its noise.
struct Version<'a> {
    mechanism: Option<(&'a ParentDesign, &'a Mechanism)>,
    input: Vec<f64>,
}

/// The players of an attribution: the target's ancestors and itself (topological
/// order), each with the version used outside (`[0]`) and inside (`[1]`) a
/// coalition, evaluated on `n` particles.
struct Game<'a> {
    model: &'a StructuralModel,
    players: Vec<usize>,
    versions: Vec<[Version<'a>; 2]>,
    target: usize,
    n: usize,
}

impl Game<'_> {
    /// The target's values on every particle when the players in `coalition` use
    /// their inside version.
    fn target_values(&self, coalition: &[bool]) -> Result<Vec<f64>> {
        let mut values: Vec<Vec<f64>> = vec![Vec::new(); self.model.nodes.len()];
        for (p, &node) in self.players.iter().enumerate() {
            let version = &self.versions[p][usize::from(coalition[p])];
            values[node] = match version.mechanism {
                None => version.input.clone(),
                Some((design, mechanism)) => {
                    let columns: Vec<&[f64]> = values.iter().map(Vec::as_slice).collect();
                    let x = design.matrix(&columns, self.n);
                    mechanism.generate(x.view(), &version.input)?
                }
            };
        }
        Ok(std::mem::take(&mut values[self.target]))
    }
}

impl StructuralModel {
    /// One unit's values in the model's codes (model order), read from row `row`
    /// of `data` by column name: numbers as they are, binary and categorical
    /// labels mapped to the model's level codes.
    ///
    /// # Errors
    /// A row out of range, a variable without a column (with the nearest name), a
    /// label the model has no level for, or a text column where the model has a
    /// number.
    pub fn encode_row(&self, data: &Dataset, row: usize) -> Result<Vec<f64>> {
        let n = data.n_rows();
        if row >= n {
            return Err(Error::invalid_input(match n {
                0 => format!("row {row} is out of range: {} has no rows", data.source()),
                _ => format!(
                    "row {row} is out of range: the file has {n} rows (0 to {})",
                    n - 1
                ),
            }));
        }
        (0..self.nodes.len())
            .map(|index| {
                let column = self.column_for(data, index)?;
                self.encode_value(index, column, row)
            })
            .collect()
    }

    /// Every row of `data` for the variables marked in `wanted`, in model codes
    /// (other variables get an empty column).
    fn encode_columns(&self, data: &Dataset, wanted: &[bool]) -> Result<Vec<Vec<f64>>> {
        (0..self.nodes.len())
            .map(|index| {
                if !wanted[index] {
                    return Ok(Vec::new());
                }
                let column = self.column_for(data, index)?;
                (0..data.n_rows())
                    .map(|row| self.encode_value(index, column, row))
                    .collect()
            })
            .collect()
    }

    /// The column of `data` for variable `index`, or an error naming the file.
    fn column_for<'d>(&self, data: &'d Dataset, index: usize) -> Result<&'d Column> {
        let name = &self.nodes[index].name;
        data.columns()
            .iter()
            .find(|c| &c.name == name)
            .ok_or_else(|| {
                let hint = closest_name(name, data.columns().iter().map(|c| c.name.as_str()))
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                Error::invalid_input(format!(
                    "{} has no column `{name}`, which the model needs{hint}",
                    data.source()
                ))
            })
    }

    /// Row `row` of `column` in the codes of variable `index`.
    fn encode_value(&self, index: usize, column: &Column, row: usize) -> Result<f64> {
        let node = &self.nodes[index];
        let raw = column.values[row];
        match node.kind {
            VariableKind::Continuous if column.kind == ColumnType::Categorical => {
                Err(Error::invalid_input(format!(
                    "`{}` is a number in the model, but its column holds text (`{}` in row {row})",
                    node.name,
                    data_label(column, raw)
                )))
            }
            VariableKind::Continuous => Ok(raw),
            VariableKind::Binary | VariableKind::Categorical => {
                let label = data_label(column, raw);
                node.levels
                    .iter()
                    .position(|l| *l == label)
                    .or_else(|| {
                        node.levels
                            .iter()
                            .position(|l| l.eq_ignore_ascii_case(&label))
                    })
                    .map(|code| code as f64)
                    .ok_or_else(|| {
                        Error::invalid_input(format!(
                            "`{}` is `{label}` in row {row}, which is not one of the levels the model knows ({})",
                            node.name,
                            node.levels.join(", ")
                        ))
                    })
            }
        }
    }

    /// The index of `target` and the players upstream of it, refusing a
    /// categorical target (its mean and its distance from a median mean nothing).
    fn players_of(&self, target: &str, what: &str) -> Result<(usize, Vec<usize>)> {
        let index = self.index_of(target)?;
        if self.nodes[index].kind == VariableKind::Categorical {
            return Err(Error::invalid_input(format!(
                "`{target}` is categorical: {what} is defined for numbers and 0/1 variables; ask about a numeric variable it drives"
            )));
        }
        let upstream = self.ancestors_or_self(&[index]);
        Ok((
            index,
            (0..self.nodes.len()).filter(|&i| upstream[i]).collect(),
        ))
    }

    /// Attributes the anomalous value of `target` in `unit` (values in model
    /// codes and order, as from [`StructuralModel::encode_row`]) to the noise
    /// terms of the target and its ancestors.
    ///
    /// The outlier score is `−log P(|Y − median| ≥ |y − median|)` over the kept
    /// population. A coalition's value is `log P(score ≥ τ)` with its noises fixed
    /// to the unit's abducted noise and the others taken from `samples` rows of the
    /// kept population (+1 smoothing); Shapley values over it add up to the
    /// outlier score. Exact for up to [`EXACT_PLAYERS`] players, else averaged over
    /// `permutations` random orderings.
    ///
    /// # Errors
    /// An unknown or categorical target, a unit of the wrong length or with a
    /// value that is not finite, or zero samples or permutations.
    pub fn attribute_anomaly(
        &self,
        target: &str,
        unit: &[f64],
        options: &RcaOptions,
    ) -> Result<AnomalyAttribution> {
        options.check()?;
        let (target_index, players) = self.players_of(target, "an anomaly score")?;
        if unit.len() != self.nodes.len() {
            return Err(Error::invalid_input(format!(
                "the unit has {} values but the model has {} variables",
                unit.len(),
                self.nodes.len()
            )));
        }
        if let Some(bad) = unit.iter().position(|v| !v.is_finite()) {
            return Err(Error::invalid_input(format!(
                "the unit's `{}` is not a finite number",
                self.nodes[bad].name
            )));
        }

        // The scorer: distances from the population median.
        let population_target = &self.population[target_index];
        let median = quantile(&mut population_target.clone(), 0.5);
        let value = unit[target_index];
        let distance = (value - median).abs();
        // Regenerating the unit from its own noise can differ from its value in the
        // last bits; such a particle must still count as "as far out".
        let threshold = distance - 1e-9 * (distance + median.abs() + 1.0);
        let as_far = |values: &[f64]| {
            values
                .iter()
                .filter(|v| (*v - median).abs() >= threshold)
                .count()
        };
        let rows = population_target.len();
        let outlier_score = -(((as_far(population_target) + 1) as f64) / ((rows + 1) as f64)).ln();

        // Particles: joint rows of the kept population, whose abducted noises are
        // the "others drawn from the population"; with no noise fixed they
        // reproduce those rows.
        let n = options.samples;
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        let sample: Vec<usize> = (0..n).map(|_| rng.gen_range(0..rows)).collect();
        let particles: Vec<Vec<f64>> = self
            .population
            .iter()
            .map(|column| sample.iter().map(|&r| column[r]).collect())
            .collect();
        let particle_refs: Vec<&[f64]> = particles.iter().map(Vec::as_slice).collect();
        let unit_columns: Vec<[f64; 1]> = unit.iter().map(|&v| [v]).collect();
        let unit_refs: Vec<&[f64]> = unit_columns.iter().map(|c| c.as_slice()).collect();

        let mut versions = Vec::with_capacity(players.len());
        let mut classified = Vec::new();
        for &node in &players {
            let (mechanism, population_noise, unit_noise) = match &self.nodes[node].mechanism {
                NodeMechanism::Empirical => (None, particles[node].clone(), unit[node]),
                NodeMechanism::Fitted {
                    design, mechanism, ..
                } => {
                    let mut draws = ChaCha8Rng::seed_from_u64(options.seed);
                    draws.set_stream(node as u64 + 1);
                    let uniforms: Vec<f64> = (0..=n).map(|_| draws.gen::<f64>()).collect();
                    let x = design.matrix(&particle_refs, n);
                    let population_noise =
                        mechanism.abduct(x.view(), &particles[node], &uniforms[1..])?;
                    let x_unit = design.matrix(&unit_refs, 1);
                    let unit_noise =
                        mechanism.abduct(x_unit.view(), &[unit[node]], &uniforms[..1])?[0];
                    if mechanism.kind() == MechanismKind::Logistic {
                        classified.push(self.nodes[node].name.clone());
                    }
                    (Some((design, mechanism)), population_noise, unit_noise)
                }
            };
            versions.push([
                Version {
                    mechanism,
                    input: population_noise,
                },
                Version {
                    mechanism,
                    input: vec![unit_noise; n],
                },
            ]);
        }
        let game = Game {
            model: self,
            players: players.clone(),
            versions,
            target: target_index,
            n,
        };
        let worth = |coalition: &[bool]| -> Result<f64> {
            let values = game.target_values(coalition)?;
            Ok((((as_far(&values) + 1) as f64) / ((n + 1) as f64)).ln())
        };
        let (shapley, method) = shapley(players.len(), options, &worth)?;

        let mut notes = Vec::new();
        let sampled_total: f64 = shapley.iter().sum();
        // The sampled total estimates the outlier score from `samples` particles (it
        // cannot exceed log(samples + 1)); scaling keeps the shares and makes the
        // contributions add up to the score computed on the whole population.
        let scale = if sampled_total > 1e-12 {
            outlier_score / sampled_total
        } else {
            1.0
        };
        if (scale - 1.0).abs() > 1e-9 {
            notes.push(format!(
                "the sampled contributions added up to {sampled_total:.3}; they are scaled by {scale:.3} to add up to the outlier score over all {rows} kept rows"
            ));
        }
        if outlier_score < 1.0 {
            notes.push(format!(
                "`{target}` = {value} is not unusual (outlier score {outlier_score:.2}: about 1 in {:.0} units are as far from the median); the attributions explain little",
                outlier_score.exp()
            ));
        }
        if !classified.is_empty() {
            notes.push(format!(
                "the noise of {} (binary or categorical) is known only up to the range that gave the unit's level; one seeded draw from that range is used",
                classified.join(", ")
            ));
        }
        let mut attributions: Vec<Attribution> = players
            .iter()
            .zip(&shapley)
            .map(|(&node, &phi)| Attribution {
                variable: self.nodes[node].name.clone(),
                contribution: phi * scale,
            })
            .collect();
        attributions.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
        Ok(AnomalyAttribution {
            target: target.to_string(),
            value,
            baseline_median: median,
            outlier_score,
            attributions,
            method: format!("Shapley values over the noise terms of `{target}` and its ancestors, {method}, {n} particles from the kept population"),
            notes,
        })
    }

    /// Attributes the change of `target`'s mean between `before` and `after` to
    /// the mechanisms of the target and its ancestors.
    ///
    /// Each mechanism is refitted on each period with the model's mechanism kind
    /// (roots: each period's empirical distribution). A coalition's value is the
    /// target's mean over `samples` particles generated with its members' after-
    /// period mechanisms and noise (residuals of that period's fit; uniform draws
    /// for classifiers) and the others' before-period ones. The contributions add
    /// up to [`ChangeAttribution::modelled_change`], reported next to the observed
    /// change.
    ///
    /// # Errors
    /// An unknown or categorical target, a column missing in either period (named
    /// with the file), a label the model does not know, or a mechanism that
    /// cannot be fitted on a period (too few rows, a constant column).
    pub fn attribute_change(
        &self,
        before: &Dataset,
        after: &Dataset,
        target: &str,
        options: &RcaOptions,
    ) -> Result<ChangeAttribution> {
        options.check()?;
        let (target_index, players) = self.players_of(target, "a change of the mean")?;
        let mut wanted = vec![false; self.nodes.len()];
        for &p in &players {
            wanted[p] = true;
        }
        let periods = [
            self.encode_columns(before, &wanted)?,
            self.encode_columns(after, &wanted)?,
        ];
        for (data, name) in [(before, "before"), (after, "after")] {
            if data.n_rows() < 10 {
                return Err(Error::invalid_data(format!(
                    "the {name} data ({}) has {} rows; at least 10 are needed to fit its mechanisms",
                    data.source(),
                    data.n_rows()
                )));
            }
        }

        // Mechanisms and noise of each period.
        struct Fitted {
            mechanism: Mechanism,
            residuals: Option<Vec<f64>>,
        }
        let fitted: Vec<[Option<Fitted>; 2]> = players
            .par_iter()
            .map(|&node| {
                let model_node = &self.nodes[node];
                let NodeMechanism::Fitted {
                    design, mechanism, ..
                } = &model_node.mechanism
                else {
                    return Ok([None, None]);
                };
                let fit = |period: usize| -> Result<Option<Fitted>> {
                    let columns: Vec<&[f64]> = periods[period].iter().map(Vec::as_slice).collect();
                    let n = columns[node].len();
                    let x = design.matrix(&columns, n);
                    let y = Array1::from(columns[node].to_vec());
                    let refit = Mechanism::fit(
                        mechanism.kind(),
                        x.view(),
                        y.view(),
                        None,
                        &design.names(),
                        model_node.levels.len(),
                        &self.options.forest,
                    )
                    .map_err(|e| {
                        Error::invalid_data(format!(
                            "the mechanism of `{}` cannot be fitted on the {} data: {e}",
                            model_node.name,
                            ["before", "after"][period]
                        ))
                    })?;
                    let residuals = match refit.kind() {
                        MechanismKind::Logistic => None,
                        _ => Some(refit.abduct(x.view(), columns[node], &[])?),
                    };
                    Ok(Some(Fitted {
                        mechanism: refit,
                        residuals,
                    }))
                };
                Ok([fit(0)?, fit(1)?])
            })
            .collect::<Result<_>>()?;

        // One uniform per particle and player, shared by both versions and every
        // coalition (common random numbers): it picks the row of a root's value or
        // of a residual, or is a classifier's noise.
        let n = options.samples;
        let mut versions = Vec::with_capacity(players.len());
        for (p, &node) in players.iter().enumerate() {
            let mut draws = ChaCha8Rng::seed_from_u64(options.seed);
            draws.set_stream(node as u64 + 1);
            let uniforms: Vec<f64> = (0..n).map(|_| draws.gen::<f64>()).collect();
            let version = |period: usize| -> Version<'_> {
                let pick = |values: &[f64]| -> Vec<f64> {
                    let len = values.len();
                    uniforms
                        .iter()
                        .map(|u| values[((u * len as f64) as usize).min(len - 1)])
                        .collect()
                };
                match (&self.nodes[node].mechanism, &fitted[p][period]) {
                    (NodeMechanism::Fitted { design, .. }, Some(f)) => Version {
                        mechanism: Some((design, &f.mechanism)),
                        input: match &f.residuals {
                            Some(residuals) => pick(residuals),
                            None => uniforms.clone(),
                        },
                    },
                    _ => Version {
                        mechanism: None,
                        input: pick(&periods[period][node]),
                    },
                }
            };
            versions.push([version(0), version(1)]);
        }
        let game = Game {
            model: self,
            players: players.clone(),
            versions,
            target: target_index,
            n,
        };
        let worth = |coalition: &[bool]| -> Result<f64> {
            let values = game.target_values(coalition)?;
            Ok(values.iter().sum::<f64>() / n as f64)
        };
        let (shapley, method) = shapley(players.len(), options, &worth)?;
        let modelled_change: f64 = shapley.iter().sum();

        let mean = |column: &[f64]| column.iter().sum::<f64>() / column.len() as f64;
        let before_mean = mean(&periods[0][target_index]);
        let after_mean = mean(&periods[1][target_index]);
        let change = after_mean - before_mean;
        let mut notes = Vec::new();
        let spread = self.nodes[target_index].support.std;
        if (modelled_change - change).abs() > 0.1 * change.abs().max(0.1 * spread) {
            notes.push(format!(
                "the mechanisms account for a change of {modelled_change:.4} where the data show {change:.4}: the fitted mechanisms or the {n} particles miss part of it"
            ));
        }
        let mut attributions: Vec<Attribution> = players
            .iter()
            .zip(&shapley)
            .map(|(&node, &phi)| Attribution {
                variable: self.nodes[node].name.clone(),
                contribution: phi,
            })
            .collect();
        attributions.sort_by(|a, b| b.contribution.abs().total_cmp(&a.contribution.abs()));
        Ok(ChangeAttribution {
            target: target.to_string(),
            before_mean,
            after_mean,
            change,
            modelled_change,
            attributions,
            method: format!("Shapley values over the mechanisms of `{target}` and its ancestors (refitted on each period), {method}, {n} particles with common random numbers"),
            notes,
        })
    }
}

/// A value's label in its column: the level for a binary or categorical column,
/// else the number as text (so a 0/1 number column matches levels "0" and "1").
fn data_label(column: &Column, raw: f64) -> String {
    match column.kind {
        ColumnType::Continuous => format!("{raw}"),
        _ => column
            .levels
            .get(raw as usize)
            .cloned()
            .unwrap_or_else(|| format!("{raw}")),
    }
}

/// Shapley values of `players` for the coalition value `worth`, and the method in
/// words. Exact up to [`EXACT_PLAYERS`]; else the average marginal contribution
/// over seeded random orderings, each of which adds up to `worth(all) −
/// worth(none)` exactly.
fn shapley(
    players: usize,
    options: &RcaOptions,
    worth: &(dyn Fn(&[bool]) -> Result<f64> + Sync),
) -> Result<(Vec<f64>, String)> {
    if players <= EXACT_PLAYERS {
        let coalitions = 1usize << players;
        let values: Vec<f64> = (0..coalitions)
            .into_par_iter()
            .map(|mask| {
                let members: Vec<bool> = (0..players).map(|p| mask >> p & 1 == 1).collect();
                worth(&members)
            })
            .collect::<Result<_>>()?;
        // weight[s] = s! (k − s − 1)! / k! for a coalition of size s without the player.
        let k = players as f64;
        let mut weight = vec![0.0; players];
        for (s, w) in weight.iter_mut().enumerate() {
            *w = 1.0 / (k * binomial(players - 1, s));
        }
        let mut phi = vec![0.0; players];
        for (p, value) in phi.iter_mut().enumerate() {
            for mask in (0..coalitions).filter(|m| m >> p & 1 == 0) {
                let size = (mask as u64).count_ones() as usize;
                *value += weight[size] * (values[mask | 1 << p] - values[mask]);
            }
        }
        return Ok((phi, format!("exact over {coalitions} coalitions")));
    }
    let marginals: Vec<Vec<f64>> = (0..options.permutations)
        .into_par_iter()
        .map(|permutation| {
            let mut rng = ChaCha8Rng::seed_from_u64(options.seed ^ 0x05a4_b1e7);
            rng.set_stream(permutation as u64);
            let mut order: Vec<usize> = (0..players).collect();
            order.shuffle(&mut rng);
            let mut members = vec![false; players];
            let mut previous = worth(&members)?;
            let mut marginal = vec![0.0; players];
            for &p in &order {
                members[p] = true;
                let value = worth(&members)?;
                marginal[p] = value - previous;
                previous = value;
            }
            Ok(marginal)
        })
        .collect::<Result<_>>()?;
    let count = marginals.len() as f64;
    let phi = (0..players)
        .map(|p| marginals.iter().map(|m| m[p]).sum::<f64>() / count)
        .collect();
    Ok((
        phi,
        format!(
            "{} random orderings of {players} players",
            options.permutations
        ),
    ))
}

fn binomial(n: usize, k: usize) -> f64 {
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::StandardNormal;

    use super::*;
    use crate::graph::CausalGraph;
    use crate::scm::FitOptions;

    const LINEAR_NAMES: [&str; 5] = ["z", "x", "m", "y", "w"];
    const LINEAR_GRAPH: &str = "z->x\nx->m\nm->y\nx->y\nz->y\ny->w";

    /// The linear ground truth z → x → m → y ← x, z → y, y → w, from its five
    /// standard-normal noises; `x_to_m` is the coefficient of x in m and
    /// `m_shift` is added to m's intercept.
    fn linear_row(e: [f64; 5], x_to_m: f64, m_shift: f64) -> [f64; 5] {
        let z = 10.0 + e[0];
        let x = 5.0 + 0.8 * z + e[1];
        let m = 1.0 + m_shift + x_to_m * x + e[2];
        let y = 2.0 + 0.5 * x + 2.0 * m + 0.5 * z + e[3];
        let w = 3.0 + 0.3 * y + e[4];
        [z, x, m, y, w]
    }

    fn noises<const K: usize>(rng: &mut ChaCha8Rng) -> [f64; K] {
        std::array::from_fn(|_| rng.sample(StandardNormal))
    }

    fn dataset<const K: usize>(names: [&str; K], rows: &[[f64; K]]) -> Dataset {
        let columns = names
            .iter()
            .enumerate()
            .map(|(j, name)| (name.to_string(), rows.iter().map(|r| r[j]).collect()))
            .collect();
        Dataset::from_columns("test", columns).unwrap()
    }

    fn linear_data(n: usize, seed: u64, x_to_m: f64, m_shift: f64) -> Dataset {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let rows: Vec<[f64; 5]> = (0..n)
            .map(|_| linear_row(noises(&mut rng), x_to_m, m_shift))
            .collect();
        dataset(LINEAR_NAMES, &rows)
    }

    fn fit(data: &Dataset, graph: &str) -> StructuralModel {
        let graph = CausalGraph::parse_edge_list(graph).unwrap();
        StructuralModel::fit(data, &graph, &FitOptions::default()).unwrap()
    }

    fn sigmoid(z: f64) -> f64 {
        1.0 / (1.0 + (-z).exp())
    }

    const MIXED_NAMES: [&str; 4] = ["z", "promo", "demand", "sales"];
    const MIXED_GRAPH: &str = "z->promo\nz->demand\npromo->demand\ndemand->sales";

    /// z → promo (binary, logistic in z) → demand ← z, demand → sales; `u` is
    /// promo's uniform noise, `demand_shift` is added to demand's intercept.
    fn mixed_row(e: [f64; 3], u: f64, demand_shift: f64) -> [f64; 4] {
        let z = e[0];
        let promo = f64::from(u8::from(u < sigmoid(0.3 + z)));
        let demand = 50.0 + demand_shift + 10.0 * promo + 2.0 * z + 3.0 * e[1];
        let sales = 10.0 + 1.5 * demand + 2.0 * e[2];
        [z, promo, demand, sales]
    }

    fn mixed_data(n: usize, seed: u64, demand_shift: f64) -> Dataset {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let rows: Vec<[f64; 4]> = (0..n)
            .map(|_| {
                let e = noises(&mut rng);
                mixed_row(e, rng.gen(), demand_shift)
            })
            .collect();
        dataset(MIXED_NAMES, &rows)
    }

    #[track_caller]
    fn assert_sums(attributions: &[Attribution], total: f64) {
        let sum: f64 = attributions.iter().map(|a| a.contribution).sum();
        assert!(
            (sum - total).abs() < 1e-9 * (1.0 + total.abs()),
            "{sum} vs {total}"
        );
    }

    #[test]
    fn an_anomaly_in_a_mediators_noise_is_ranked_first() {
        let data = linear_data(5_000, 1, 1.5, 0.0);
        let model = fit(&data, LINEAR_GRAPH);
        // Every noise at its mean but m's, 6 standard deviations up.
        let unit = dataset(
            LINEAR_NAMES,
            &[linear_row([0.0, 0.0, 6.0, 0.0, 0.0], 1.5, 0.0)],
        );
        let unit = model.encode_row(&unit, 0).unwrap();
        let result = model
            .attribute_anomaly("y", &unit, &RcaOptions::default())
            .unwrap();
        assert_eq!(result.attributions[0].variable, "m", "{result:#?}");
        assert!(result.outlier_score > 3.0, "{result:#?}");
        assert_sums(&result.attributions, result.outlier_score);
        // Only the target and its ancestors take part; w is downstream.
        let mut players: Vec<&str> = result
            .attributions
            .iter()
            .map(|a| a.variable.as_str())
            .collect();
        players.sort_unstable();
        assert_eq!(players, ["m", "x", "y", "z"]);
        // Seeded: the same answer every time.
        let again = model
            .attribute_anomaly("y", &unit, &RcaOptions::default())
            .unwrap();
        assert_eq!(result, again);
    }

    #[test]
    fn an_anomaly_with_a_binary_variable_upstream_is_ranked_first() {
        let data = mixed_data(5_000, 2, 0.0);
        let model = fit(&data, MIXED_GRAPH);
        let row = mixed_row([0.5, 6.0, 0.0], 0.1, 0.0);
        let unit = model.encode_row(&dataset(MIXED_NAMES, &[row]), 0).unwrap();
        let result = model
            .attribute_anomaly("sales", &unit, &RcaOptions::default())
            .unwrap();
        assert_eq!(result.attributions[0].variable, "demand", "{result:#?}");
        assert_sums(&result.attributions, result.outlier_score);
        assert!(
            result.notes.iter().any(|n| n.contains("promo")),
            "{:?}",
            result.notes
        );
    }

    #[test]
    fn more_than_ten_players_are_sampled_by_permutations() {
        // A chain v0 → v1 → … → v11; v5's noise is 6 standard deviations up.
        let names: [&str; 12] = std::array::from_fn(|i| {
            [
                "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11",
            ][i]
        });
        let chain = |e: [f64; 12]| -> [f64; 12] {
            let mut v = [0.0; 12];
            for i in 0..12 {
                v[i] = if i == 0 { e[0] } else { 0.7 * v[i - 1] + e[i] };
            }
            v
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let rows: Vec<[f64; 12]> = (0..3_000).map(|_| chain(noises(&mut rng))).collect();
        let graph: Vec<String> = (1..12).map(|i| format!("v{}->v{i}", i - 1)).collect();
        let model = fit(&dataset(names, &rows), &graph.join("\n"));
        let mut e = [0.0; 12];
        e[9] = 6.0;
        let unit = model.encode_row(&dataset(names, &[chain(e)]), 0).unwrap();
        let options = RcaOptions {
            samples: 1_000,
            permutations: 40,
            seed: 5,
        };
        let result = model.attribute_anomaly("v11", &unit, &options).unwrap();
        assert!(
            result.method.contains("40 random orderings"),
            "{}",
            result.method
        );
        assert_eq!(result.attributions[0].variable, "v9", "{result:#?}");
        assert_sums(&result.attributions, result.outlier_score);
    }

    #[test]
    fn a_doubled_edge_between_periods_is_the_top_attribution() {
        let before = linear_data(4_000, 4, 1.5, 0.0);
        let after = linear_data(4_000, 5, 3.0, 0.0);
        let model = fit(&before, LINEAR_GRAPH);
        let result = model
            .attribute_change(&before, &after, "y", &RcaOptions::default())
            .unwrap();
        assert_eq!(result.attributions[0].variable, "m", "{result:#?}");
        assert_sums(&result.attributions, result.modelled_change);
        // Truth: m rises by 1.5 × E[x] = 1.5 × 13, y by twice that.
        assert!((result.change - 39.0).abs() < 1.0, "{result:#?}");
        assert!(
            (result.modelled_change - result.change).abs() < 0.05 * result.change,
            "{result:#?}"
        );
        let others: f64 = result.attributions[1..]
            .iter()
            .map(|a| a.contribution.abs())
            .sum();
        assert!(others < 0.05 * result.change, "{result:#?}");
    }

    #[test]
    fn an_intercept_shift_with_a_binary_variable_is_the_top_attribution() {
        let before = mixed_data(4_000, 6, 0.0);
        let after = mixed_data(4_000, 7, 5.0);
        let model = fit(&before, MIXED_GRAPH);
        let result = model
            .attribute_change(&before, &after, "sales", &RcaOptions::default())
            .unwrap();
        assert_eq!(result.attributions[0].variable, "demand", "{result:#?}");
        assert_sums(&result.attributions, result.modelled_change);
        // Truth: sales rise by 1.5 × 5.
        let top = result.attributions[0].contribution;
        assert!((top - 7.5).abs() < 1.0, "{result:#?}");
        assert!(
            (result.modelled_change - result.change).abs() < 1.0,
            "{result:#?}"
        );
    }

    #[test]
    fn bad_requests_get_clear_errors() {
        let data = linear_data(500, 8, 1.5, 0.0);
        let model = fit(&data, LINEAR_GRAPH);
        let unit = model.encode_row(&data, 0).unwrap();
        let options = RcaOptions::default();
        let message = model
            .attribute_anomaly("yy", &unit, &options)
            .unwrap_err()
            .to_string();
        assert!(message.contains("did you mean `y`"), "{message}");
        let message = model
            .attribute_change(&data, &data, "ww", &options)
            .unwrap_err()
            .to_string();
        assert!(message.contains("did you mean `w`"), "{message}");
        let message = model.encode_row(&data, 500).unwrap_err().to_string();
        assert!(
            message.contains("row 500 is out of range: the file has 500 rows (0 to 499)"),
            "{message}"
        );
        let without_m = Dataset::from_columns(
            "after.csv",
            ["z", "x", "y", "w"]
                .iter()
                .map(|name| (name.to_string(), data.column(name).unwrap().values.clone()))
                .collect(),
        )
        .unwrap();
        for (before, after) in [(&without_m, &data), (&data, &without_m)] {
            let message = model
                .attribute_change(before, after, "y", &options)
                .unwrap_err()
                .to_string();
            assert!(message.contains("after.csv has no column `m`"), "{message}");
        }
        let message = model
            .attribute_anomaly("y", &unit[..3], &options)
            .unwrap_err()
            .to_string();
        assert!(message.contains("5 variables"), "{message}");
    }
}
