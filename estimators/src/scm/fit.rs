//! Fitting a [`StructuralModel`] on data and a DAG.
//!
//! Each variable is fitted on its parents in the DAG: roots keep their empirical
//! distribution; binary and categorical variables get a multinomial logistic
//! mechanism; continuous ones a linear-Gaussian mechanism, a forest-additive one,
//! or whichever predicts better on held-out rows ([`MechanismChoice::Auto`]: the
//! forest must beat the line by [`AUTO_MARGIN`] in R², since it costs speed and
//! exactness of path shares). Every mechanism's held-out fit is measured on a
//! seeded 20% of the rows before it is refitted on all of them.

use ndarray::{Array1, Axis};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::{ColumnType, Dataset};
use crate::error::{Error, Result};
use crate::graph::CausalGraph;
use crate::learners::forest::ForestParams;
use crate::model::{Role, VariableKind};
use crate::progress::{Progress, Silent};
use crate::scm::mechanism::{check_fittable, held_out_fit, Mechanism, MechanismKind, ParentDesign};
use crate::scm::{EdgeEffect, NodeMechanism, ScmNode, StructuralModel, Support, FORMAT_VERSION};
use crate::stats::{two_sided_p, Z_975};

/// How much higher a forest's held-out R² must be for [`MechanismChoice::Auto`]
/// to prefer it over a line.
pub const AUTO_MARGIN: f64 = 0.01;

/// Which mechanism continuous variables get.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MechanismChoice {
    /// Linear with Gaussian noise (the default: fast, exact path shares).
    Linear,
    /// Linear plus a random forest on the residuals, for every continuous variable.
    Forest,
    /// Per variable, whichever predicts held-out rows better.
    Auto,
}

impl std::str::FromStr for MechanismChoice {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "linear" => Ok(MechanismChoice::Linear),
            "forest" => Ok(MechanismChoice::Forest),
            "auto" => Ok(MechanismChoice::Auto),
            other => Err(Error::invalid_input(format!(
                "unknown mechanism `{other}`; use linear, forest or auto"
            ))),
        }
    }
}

/// Options of [`StructuralModel::fit`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FitOptions {
    /// Mechanism of continuous variables.
    pub mechanism: MechanismChoice,
    /// Hyper-parameters of forest mechanisms.
    pub forest: ForestParams,
    /// Most rows kept as the population that answers are averaged over (and that
    /// is stored with the model); beyond it a seeded sample is kept.
    pub keep_rows: usize,
    /// Seed of the held-out split, the kept sample and the forests.
    pub seed: u64,
    /// Variables the business can change.
    pub levers: Vec<String>,
    /// Outcomes the business watches.
    pub kpis: Vec<String>,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            mechanism: MechanismChoice::Linear,
            forest: ForestParams::default(),
            keep_rows: 20_000,
            seed: 0,
            levers: Vec::new(),
            kpis: Vec::new(),
        }
    }
}

impl StructuralModel {
    /// Fits one mechanism per variable of `graph` on `data`.
    ///
    /// # Errors
    /// A graph with a latent (`<->`) common cause (a structural model needs every
    /// common cause observed), a node without a column, a lever or KPI that is not
    /// in the graph, a variable that never varies, too few rows, or a singular
    /// design.
    pub fn fit(data: &Dataset, graph: &CausalGraph, options: &FitOptions) -> Result<Self> {
        Self::fit_with_progress(data, graph, options, &Silent)
    }

    /// [`StructuralModel::fit`], reporting one step per variable to `progress`
    /// (stage "fitting `NAME`", before that variable's mechanism is fitted) and
    /// stopping between variables when it cancels.
    ///
    /// # Errors
    /// As [`StructuralModel::fit`], and [`Error::Cancelled`] from `progress`.
    pub fn fit_with_progress(
        data: &Dataset,
        graph: &CausalGraph,
        options: &FitOptions,
        progress: &dyn Progress,
    ) -> Result<Self> {
        if let Some(latent) = graph.latent_names().first() {
            return Err(Error::invalid_input(format!(
                "the graph declares a hidden common cause (`{latent}`, from a `<->` edge); a structural model needs every common cause observed — add it as a column or remove the edge"
            )));
        }
        graph.check_columns(&data.column_names())?;
        if options.keep_rows == 0 {
            return Err(Error::invalid_input("keep_rows must be at least 1"));
        }
        let order: Vec<String> = graph
            .topological_order()
            .into_iter()
            .map(String::from)
            .collect();
        for name in options.levers.iter().chain(&options.kpis) {
            if !order.contains(name) {
                return Err(Error::unknown_variable(
                    name,
                    order.iter().map(String::as_str),
                ));
            }
        }
        let n = data.n_rows();
        if n < 10 {
            return Err(Error::invalid_data(format!(
                "{n} rows are too few to fit a structural model; at least 10 are needed"
            )));
        }

        let columns: Vec<&crate::data::Column> = order
            .iter()
            .map(|name| data.column(name))
            .collect::<Result<_>>()?;
        let kinds: Vec<VariableKind> = columns.iter().map(|c| variable_kind(&c.kind)).collect();
        let levels: Vec<Vec<String>> = columns.iter().map(|c| c.levels.clone()).collect();
        let values: Vec<&[f64]> = columns.iter().map(|c| c.values.as_slice()).collect();
        let parents: Vec<Vec<usize>> = order
            .iter()
            .map(|name| {
                let mut indices: Vec<usize> = graph
                    .parents(name)?
                    .into_iter()
                    .map(|p| order.iter().position(|o| o == p).expect("parent is a node"))
                    .collect();
                indices.sort_unstable();
                Ok(indices)
            })
            .collect::<Result<_>>()?;

        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        let mut shuffled: Vec<usize> = (0..n).collect();
        shuffled.shuffle(&mut rng);
        let n_test = (n / 5).max(1);
        let (test_rows, train_rows) = shuffled.split_at(n_test);
        let kept_rows: Vec<usize> = if n <= options.keep_rows {
            (0..n).collect()
        } else {
            let mut sample = shuffled.clone();
            sample.shuffle(&mut rng);
            sample.truncate(options.keep_rows);
            sample.sort_unstable();
            sample
        };

        let mut nodes = Vec::with_capacity(order.len());
        for (index, name) in order.iter().enumerate() {
            progress.step(&format!("fitting `{name}`"), index, order.len())?;
            let y = Array1::from(values[index].to_vec());
            let support = support(values[index]);
            let mechanism = if parents[index].is_empty() {
                NodeMechanism::Empirical
            } else {
                let design = ParentDesign::new(&parents[index], &order, &kinds, &levels);
                let x = design.matrix(&values, n);
                check_fittable(name, kinds[index], levels[index].len(), n, x.ncols())?;
                let names = design.names();
                let n_levels = levels[index].len();
                let fit_on = |kind: MechanismKind, rows: &[usize]| {
                    Mechanism::fit(
                        kind,
                        x.select(Axis(0), rows).view(),
                        y.select(Axis(0), rows).view(),
                        None,
                        &names,
                        n_levels,
                        &options.forest,
                    )
                };
                let held_out_of = |mechanism: &Mechanism| {
                    held_out_fit(
                        mechanism,
                        x.select(Axis(0), test_rows).view(),
                        y.select(Axis(0), test_rows).view(),
                        y.select(Axis(0), train_rows).view(),
                    )
                };
                let (kind, held_out) = match (kinds[index], options.mechanism) {
                    (VariableKind::Binary | VariableKind::Categorical, _) => {
                        let kind = MechanismKind::Logistic;
                        (kind, held_out_of(&fit_on(kind, train_rows)?)?)
                    }
                    (VariableKind::Continuous, MechanismChoice::Linear) => {
                        let kind = MechanismKind::LinearGaussian;
                        (kind, held_out_of(&fit_on(kind, train_rows)?)?)
                    }
                    (VariableKind::Continuous, MechanismChoice::Forest) => {
                        let kind = MechanismKind::ForestAdditive;
                        (kind, held_out_of(&fit_on(kind, train_rows)?)?)
                    }
                    (VariableKind::Continuous, MechanismChoice::Auto) => {
                        let line =
                            held_out_of(&fit_on(MechanismKind::LinearGaussian, train_rows)?)?;
                        let forest =
                            held_out_of(&fit_on(MechanismKind::ForestAdditive, train_rows)?)?;
                        if forest.score() > line.score() + AUTO_MARGIN {
                            (MechanismKind::ForestAdditive, forest)
                        } else {
                            (MechanismKind::LinearGaussian, line)
                        }
                    }
                };
                let mechanism = Mechanism::fit(
                    kind,
                    x.view(),
                    y.view(),
                    None,
                    &names,
                    n_levels,
                    &options.forest,
                )?;
                NodeMechanism::Fitted {
                    design,
                    mechanism,
                    held_out,
                    edges: Vec::new(),
                }
            };
            nodes.push(ScmNode {
                name: name.clone(),
                role: Role::Context,
                kind: kinds[index],
                levels: levels[index].clone(),
                support,
                parents: parents[index].clone(),
                mechanism,
            });
        }

        let population: Vec<Vec<f64>> = values
            .iter()
            .map(|column| kept_rows.iter().map(|&i| column[i]).collect())
            .collect();
        let mut model = StructuralModel {
            format_version: FORMAT_VERSION,
            nodes,
            n_rows: n,
            population,
            population_rows: kept_rows,
            synthetic: false,
            options: options.clone(),
        };
        progress.step("computing edge effects", order.len(), order.len())?;
        assign_roles(&mut model, &options.levers, &options.kpis)?;
        for index in 0..model.nodes.len() {
            let edges = edge_effects(&model, index)?;
            if let NodeMechanism::Fitted { edges: slot, .. } = &mut model.nodes[index].mechanism {
                *slot = edges;
            }
        }
        Ok(model)
    }
}

fn variable_kind(kind: &ColumnType) -> VariableKind {
    match kind {
        ColumnType::Continuous => VariableKind::Continuous,
        ColumnType::Binary => VariableKind::Binary,
        ColumnType::Categorical => VariableKind::Categorical,
    }
}

fn support(values: &[f64]) -> Support {
    let (mean, variance) = crate::stats::mean_and_variance(values.iter().copied());
    Support {
        mean,
        std: variance.sqrt(),
        min: values.iter().copied().fold(f64::INFINITY, f64::min),
        max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    }
}

/// Levers and KPIs as declared; the rest by position: a common ancestor of a lever
/// and a KPI is a confounder, a node between a lever and a KPI a mediator, anything
/// else context.
fn assign_roles(model: &mut StructuralModel, levers: &[String], kpis: &[String]) -> Result<()> {
    let lever_indices: Vec<usize> = levers
        .iter()
        .map(|l| model.index_of(l))
        .collect::<Result<_>>()?;
    let kpi_indices: Vec<usize> = kpis
        .iter()
        .map(|k| model.index_of(k))
        .collect::<Result<_>>()?;
    if let Some(both) = lever_indices.iter().find(|l| kpi_indices.contains(l)) {
        return Err(Error::invalid_input(format!(
            "`{}` is declared both a lever and a KPI; a variable has one role",
            model.nodes[*both].name
        )));
    }
    let below_levers = model.descendants_of(&lever_indices);
    let above_kpis = model.ancestors_or_self(&kpi_indices);
    let above_levers = model.ancestors_or_self(&lever_indices);
    for index in 0..model.nodes.len() {
        model.nodes[index].role = if lever_indices.contains(&index) {
            Role::Lever
        } else if kpi_indices.contains(&index) {
            Role::Kpi
        } else if below_levers[index] && above_kpis[index] {
            Role::Mediator
        } else if above_levers[index] && above_kpis[index] {
            Role::Confounder
        } else {
            Role::Context
        };
    }
    Ok(())
}

/// The direct effect of each parent of `index`: the coefficient (with its HC1
/// interval) for a linear mechanism and a numeric parent; otherwise the average
/// slope over the kept population — the mean change of the child's expected value
/// when the parent moves by a tenth of its standard deviation (from 0 to 1 for a
/// binary parent), per unit of the parent.
fn edge_effects(model: &StructuralModel, index: usize) -> Result<Vec<EdgeEffect>> {
    let node = &model.nodes[index];
    let NodeMechanism::Fitted {
        design, mechanism, ..
    } = &node.mechanism
    else {
        return Ok(Vec::new());
    };
    let rows = model.population_rows.len();
    let columns: Vec<&[f64]> = model.population.iter().map(Vec::as_slice).collect();
    let mut effects = Vec::with_capacity(node.parents.len());
    for &parent in &node.parents {
        let parent_node = &model.nodes[parent];
        if parent_node.kind == VariableKind::Categorical || node.kind == VariableKind::Categorical {
            effects.push(EdgeEffect {
                effect: None,
                ci_low: None,
                ci_high: None,
                p_value: None,
                method: "categorical: one parameter per level, see the mechanism".into(),
            });
            continue;
        }
        let position = design
            .columns
            .iter()
            .position(|c| c.parent == parent)
            .expect("a numeric parent has one design column");
        if let Mechanism::LinearGaussian {
            coefficients,
            std_errors,
            ..
        } = mechanism
        {
            let effect = coefficients[position + 1];
            let se = std_errors[position + 1];
            effects.push(EdgeEffect {
                effect: Some(effect),
                ci_low: Some(effect - Z_975 * se),
                ci_high: Some(effect + Z_975 * se),
                p_value: Some(if se > 0.0 {
                    two_sided_p(effect / se)
                } else {
                    0.0
                }),
                method: "linear coefficient, HC1 interval".into(),
            });
            continue;
        }
        let (low, high, step) = if parent_node.kind == VariableKind::Binary {
            (0.0, 1.0, 1.0)
        } else {
            let step = 0.1 * parent_node.support.std;
            (0.0, step, step)
        };
        let effect = if step > 0.0 {
            let mut x = design.matrix(&columns, rows);
            x.column_mut(position).mapv_inplace(|v| v + low);
            if parent_node.kind == VariableKind::Binary {
                x.column_mut(position).fill(low);
            }
            let before = mechanism.predict_mean(x.view())?;
            if parent_node.kind == VariableKind::Binary {
                x.column_mut(position).fill(high);
            } else {
                x.column_mut(position).mapv_inplace(|v| v + high);
            }
            let after = mechanism.predict_mean(x.view())?;
            Some((&after - &before).mean().unwrap_or(0.0) / step)
        } else {
            None
        };
        effects.push(EdgeEffect {
            effect,
            ci_low: None,
            ci_high: None,
            p_value: None,
            method: if node.kind == VariableKind::Binary {
                "average slope of the probability of 1".into()
            } else {
                "average slope".into()
            },
        });
    }
    Ok(effects)
}
