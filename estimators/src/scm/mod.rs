//! Structural causal models: one mechanism per variable of a DAG, fitted on data,
//! answering interventional and counterfactual what-if questions.
//!
//! A [`StructuralModel`] is the DAG plus, for every variable in topological order,
//! either the empirical distribution (a root: no parents in the graph) or a fitted
//! [`mechanism::Mechanism`] with the parents it was fitted on. It keeps a
//! population of rows (all of them up to [`FitOptions::keep_rows`], else a seeded
//! sample) whose noise it recovers, so answers average over real units rather than
//! over assumed noise distributions, and an unchanged world reproduces the data
//! exactly.
//!
//! - [`StructuralModel::fit`] fits it (module [`fit`]).
//! - [`StructuralModel::what_if`] intervenes: population means or one unit's
//!   counterfactual, with bootstrap intervals, path shares and warnings ([`whatif`]).
//! - [`rca`] attributes an anomaly or a shift of a KPI to upstream causes.
//! - [`document`] turns a model into a [`crate::model::ModelDocument`] and back.
//!
//! Models serialise with serde (the "mechanisms" stored alongside a model
//! document), so a model read back answers exactly as the one fitted.

pub mod classifier;
pub mod document;
pub mod fit;
pub mod mechanism;
mod paths;
pub mod query;
pub mod rca;
#[cfg(test)]
mod tests;
pub mod whatif;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{Role, VariableKind};
pub use fit::{FitOptions, MechanismChoice};
use mechanism::{HeldOutFit, Mechanism, ParentDesign};
pub use query::{
    AnswerKind, Comparison, Condition, ConditionValue, Intervention, Op, PathShare, TargetEffect,
    WhatIfResult,
};
pub use whatif::WhatIfOptions;

/// Format of serialised models; bumped when a stored model could be misread.
pub const FORMAT_VERSION: u32 = 1;

/// A fitted structural causal model.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StructuralModel {
    /// [`FORMAT_VERSION`] at serialisation.
    pub format_version: u32,
    /// The variables in topological order (parents before children).
    pub nodes: Vec<ScmNode>,
    /// Rows of the data the mechanisms were fitted on.
    pub n_rows: usize,
    /// The kept population: one column per node (same order), values as in a
    /// [`crate::data::Dataset`] (numbers, 0/1, or level codes).
    pub population: Vec<Vec<f64>>,
    /// For each kept row, its row number (0-based) in the fitted data.
    pub population_rows: Vec<usize>,
    /// Whether the population was drawn from a document's parameters rather than
    /// kept from the data (see [`document`]): answers are then approximate and no
    /// row of the data can be asked about.
    #[serde(default)]
    pub synthetic: bool,
    /// The options the model was fitted with; bootstrap refits reuse them.
    pub options: FitOptions,
}

/// One variable of a [`StructuralModel`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScmNode {
    /// The column name.
    pub name: String,
    /// What the variable is for in what-if questions.
    pub role: Role,
    /// The type of its values.
    pub kind: VariableKind,
    /// For binary and categorical variables, the labels of its level codes.
    pub levels: Vec<String>,
    /// Support statistics over the fitted data.
    pub support: Support,
    /// Its parents (indices into [`StructuralModel::nodes`]), empty for a root.
    pub parents: Vec<usize>,
    /// How it is generated.
    pub mechanism: NodeMechanism,
}

/// Mean, spread and range of a variable over the fitted data (level codes for
/// categorical variables, where only the range is meaningful).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Support {
    /// Mean.
    pub mean: f64,
    /// Standard deviation (n − 1).
    pub std: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

/// How a variable is generated: a root's empirical distribution, or a fitted
/// mechanism of recorded parents.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum NodeMechanism {
    /// A root: values are drawn from the data (the kept population).
    Empirical,
    /// A mechanism fitted on `design` (the parents' columns).
    Fitted {
        /// The design columns, from the parents recorded at fit time.
        design: ParentDesign,
        /// The fitted mechanism.
        mechanism: Mechanism,
        /// Its fit on rows held out from fitting.
        held_out: HeldOutFit,
        /// The direct effect of each parent, in the order of
        /// [`ScmNode::parents`].
        edges: Vec<EdgeEffect>,
    },
}

/// The estimated direct effect of one parent on a variable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EdgeEffect {
    /// Change of the child per unit of the parent (the coefficient of a linear
    /// mechanism, otherwise the average slope); none where a single number does
    /// not describe it (a categorical parent or child).
    pub effect: Option<f64>,
    /// 95% interval (linear mechanisms: HC1 standard errors).
    pub ci_low: Option<f64>,
    /// Upper end of the interval.
    pub ci_high: Option<f64>,
    /// p-value for "no direct effect".
    pub p_value: Option<f64>,
    /// How `effect` was computed.
    pub method: String,
}

impl StructuralModel {
    /// The index of a variable, or an error naming the closest one.
    pub fn index_of(&self, name: &str) -> Result<usize> {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .ok_or_else(|| {
                Error::unknown_variable(name, self.nodes.iter().map(|n| n.name.as_str()))
            })
    }

    /// The variable called `name`.
    pub fn node(&self, name: &str) -> Result<&ScmNode> {
        Ok(&self.nodes[self.index_of(name)?])
    }

    /// Names of the variables with a role, in model order.
    pub fn names_with_role(&self, role: Role) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|n| n.role == role)
            .map(|n| n.name.clone())
            .collect()
    }

    /// The children of each node.
    fn children(&self) -> Vec<Vec<usize>> {
        let mut children = vec![Vec::new(); self.nodes.len()];
        for (child, node) in self.nodes.iter().enumerate() {
            for &parent in &node.parents {
                children[parent].push(child);
            }
        }
        children
    }

    /// Every node reachable from `start` by directed edges (`start` excluded), as a
    /// membership vector.
    fn descendants_of(&self, start: &[usize]) -> Vec<bool> {
        let children = self.children();
        let mut seen = vec![false; self.nodes.len()];
        let mut stack: Vec<usize> = start.iter().flat_map(|&s| children[s].clone()).collect();
        while let Some(node) = stack.pop() {
            if !seen[node] {
                seen[node] = true;
                stack.extend(children[node].iter().copied());
            }
        }
        seen
    }

    /// Every node from which `end` is reachable, `end` included.
    fn ancestors_or_self(&self, end: &[usize]) -> Vec<bool> {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack: Vec<usize> = end.to_vec();
        while let Some(node) = stack.pop() {
            if !seen[node] {
                seen[node] = true;
                stack.extend(self.nodes[node].parents.iter().copied());
            }
        }
        seen
    }

    /// Checks a deserialised model before use: the format, that parents come
    /// before their children, and that every column has one value per kept row.
    pub fn check(&self) -> Result<()> {
        if self.format_version != FORMAT_VERSION {
            return Err(Error::invalid_data(format!(
                "the stored mechanisms have format {}, this Causeway reads format {FORMAT_VERSION}; refit the model",
                self.format_version
            )));
        }
        let rows = self.population_rows.len();
        if self.population.len() != self.nodes.len()
            || self.population.iter().any(|c| c.len() != rows)
            || rows == 0
        {
            return Err(Error::invalid_data(
                "the stored mechanisms' population is damaged (columns of different lengths); refit the model",
            ));
        }
        for (index, node) in self.nodes.iter().enumerate() {
            if node.parents.iter().any(|&p| p >= index) {
                return Err(Error::invalid_data(format!(
                    "the stored mechanisms list `{}` before one of its parents; refit the model",
                    node.name
                )));
            }
            match &node.mechanism {
                NodeMechanism::Empirical if !node.parents.is_empty() => {
                    return Err(Error::invalid_data(format!(
                        "`{}` has parents but no mechanism in the stored model; refit the model",
                        node.name
                    )))
                }
                NodeMechanism::Fitted { design, edges, .. } => {
                    let uses_known_parents = design
                        .columns
                        .iter()
                        .all(|c| node.parents.contains(&c.parent));
                    if !uses_known_parents || edges.len() != node.parents.len() {
                        return Err(Error::invalid_data(format!(
                            "the mechanism of `{}` does not match its recorded parents; refit the model",
                            node.name
                        )));
                    }
                }
                NodeMechanism::Empirical => {}
            }
        }
        Ok(())
    }
}
