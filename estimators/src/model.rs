//! The model document: a fitted causal model as the rest of Causeway sees it.
//!
//! It is what estimators write, what the stores keep (as GraphML, see
//! [`crate::io::graphml`]) and what the chat reads: the causal graph with, on each
//! variable, its role, kind, unit, support statistics and mechanism, and on each edge
//! the estimated direct effect with its interval. Field names follow the GraphML keys
//! of the contract in `graph_schema/`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A fitted causal model, one version of a named model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModelDocument {
    /// Unique id of this version, `name@version`.
    pub model_id: String,
    /// The model's name, shared by all its versions (`retail`).
    pub name: String,
    /// Version number, 1, 2, 3, … per name; 0 before the store assigns one.
    pub version: u32,
    /// When the model was fitted, RFC 3339 in UTC.
    pub created_at: String,
    /// SHA-256 of the data set the model was fitted on, hex.
    pub dataset_sha256: String,
    /// Rows of that data set.
    pub n_rows: u64,
    /// How the model was fitted (`scm-linear`, `dml`, …).
    pub method: String,
    /// The assumptions the model rests on, in plain words.
    pub assumptions: Vec<String>,
    /// Reference to the fitted mechanisms stored alongside the document (forests,
    /// classifiers, the kept population): `sha256:` and the hex digest of their
    /// serialised form. None when the document's parameters are all there is.
    #[serde(default)]
    pub mechanisms: Option<String>,
    /// The variables, in a stable order (the graph's topological order).
    pub variables: Vec<Variable>,
    /// The direct causes, in a stable order.
    pub edges: Vec<CausalEdge>,
    /// Who saved this version: the label (or id) of the token that saved it over
    /// the API, or the CLI's `--author`. None when not recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

/// What a variable is for in a what-if question.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Something the business can change (TV spend, safety stock).
    Lever,
    /// An outcome the business watches (sales, returns).
    Kpi,
    /// A common cause of levers and KPIs.
    Confounder,
    /// On the path from a lever to a KPI.
    Mediator,
    /// Anything else the model needs (season, region).
    Context,
}

impl Role {
    /// Every role, in the order documents list them.
    pub const ALL: [Role; 5] = [
        Role::Lever,
        Role::Kpi,
        Role::Confounder,
        Role::Mediator,
        Role::Context,
    ];

    /// The role's name in documents.
    pub fn name(self) -> &'static str {
        match self {
            Role::Lever => "lever",
            Role::Kpi => "kpi",
            Role::Confounder => "confounder",
            Role::Mediator => "mediator",
            Role::Context => "context",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        Role::ALL
            .into_iter()
            .find(|r| r.name() == text.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                Error::invalid_input(format!(
                    "unknown role `{text}`; use one of {}",
                    Role::ALL.map(Role::name).join(", ")
                ))
            })
    }
}

/// The type of a variable's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum VariableKind {
    /// Real numbers.
    Continuous,
    /// 0 or 1.
    Binary,
    /// A finite set of labels.
    Categorical,
}

impl VariableKind {
    /// Every kind, in the order documents list them.
    pub const ALL: [VariableKind; 3] = [
        VariableKind::Continuous,
        VariableKind::Binary,
        VariableKind::Categorical,
    ];

    /// The kind's name in documents.
    pub fn name(self) -> &'static str {
        match self {
            VariableKind::Continuous => "continuous",
            VariableKind::Binary => "binary",
            VariableKind::Categorical => "categorical",
        }
    }
}

impl std::str::FromStr for VariableKind {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        VariableKind::ALL
            .into_iter()
            .find(|k| k.name() == text.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                Error::invalid_input(format!(
                    "unknown variable kind `{text}`; use one of {}",
                    VariableKind::ALL.map(VariableKind::name).join(", ")
                ))
            })
    }
}

/// One variable (a node of the model graph).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Variable {
    /// The column name, unique in the model (`tv_spend`).
    pub name: String,
    /// A label for people (`TV advertising spend`).
    pub label: String,
    /// Other names people use, in any language (`TV ads`, `電視廣告`).
    pub aliases: Vec<String>,
    /// What the variable is for.
    pub role: Role,
    /// The type of its values.
    pub kind: VariableKind,
    /// Its unit (`USD`, `units`), if any.
    pub unit: Option<String>,
    /// Mean over the data the model was fitted on.
    pub mean: Option<f64>,
    /// Standard deviation over that data.
    pub std: Option<f64>,
    /// Smallest observed value.
    pub min: Option<f64>,
    /// Largest observed value.
    pub max: Option<f64>,
    /// The mechanism that generates it (`empirical`, `linear-gaussian`, …), if fitted.
    pub mechanism: Option<String>,
    /// The mechanism's parameters by name (intercept, one coefficient per parent,
    /// noise scale, …).
    pub parameters: BTreeMap<String, f64>,
}

impl Variable {
    /// A variable with only a name, role and kind; the label is the name.
    pub fn new(name: &str, role: Role, kind: VariableKind) -> Self {
        Variable {
            name: name.to_string(),
            label: name.to_string(),
            aliases: Vec::new(),
            role,
            kind,
            unit: None,
            mean: None,
            std: None,
            min: None,
            max: None,
            mechanism: None,
            parameters: BTreeMap::new(),
        }
    }
}

/// One direct cause (an edge of the model graph) with its estimated effect.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CausalEdge {
    /// The cause's variable name.
    pub source: String,
    /// The effect's variable name.
    pub target: String,
    /// Estimated direct effect of one unit of `source` on `target`.
    pub effect: Option<f64>,
    /// Lower end of its 95% interval.
    pub ci_low: Option<f64>,
    /// Upper end of its 95% interval.
    pub ci_high: Option<f64>,
    /// p-value for "no direct effect".
    pub p_value: Option<f64>,
    /// How the effect was estimated.
    pub method: Option<String>,
}

impl CausalEdge {
    /// An edge without an estimate.
    pub fn new(source: &str, target: &str) -> Self {
        CausalEdge {
            source: source.to_string(),
            target: target.to_string(),
            effect: None,
            ci_low: None,
            ci_high: None,
            p_value: None,
            method: None,
        }
    }
}
