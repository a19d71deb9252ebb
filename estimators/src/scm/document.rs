//! A fitted [`StructuralModel`] as a model document, and back.
//!
//! The document (GraphML, see [`crate::io::graphml`]) carries what a person or
//! another tool reads: roles, support statistics, each mechanism's kind and
//! parameters, and each edge's direct effect with its interval. The mechanisms
//! themselves — forests, classifiers and the kept population whose noise answers
//! average over — are serialised next to it ("stored alongside") and named by the
//! document's `mechanisms` reference, the SHA-256 of that serialised text, so a
//! store can check that the two belong together and a model read back answers
//! exactly as the one fitted.
//!
//! A document without stored mechanisms (written by hand, or by another tool) can
//! still be rebuilt when every mechanism is parametric (linear-Gaussian or
//! logistic): a seeded synthetic population is drawn from its parameters. Its
//! answers then agree with the original model up to that population's sampling
//! noise, and it says so in its assumptions.
//!
//! Parameter names in documents:
//!
//! | mechanism | parameters |
//! |---|---|
//! | `empirical` | `level:<label>` (code) and `share:<label>` for binary and categorical roots |
//! | `linear-gaussian` | `intercept`, `coef:<column>`, `noise_std`, `held_out_r2` |
//! | `forest-additive` | as linear, plus `trees` (the forest is only in the stored mechanisms) |
//! | `logistic` | `level:<label>`, `coef:<label>:intercept`, `coef:<label>:<column>`, `held_out_log_loss`, `baseline_log_loss` |
//!
//! `<column>` is a parent's name, or `parent=level` for a categorical parent.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::model::{CausalEdge, ModelDocument, Variable, VariableKind};
use crate::scm::classifier::Classifier;
use crate::scm::fit::{FitOptions, MechanismChoice};
use crate::scm::mechanism::{HeldOutFit, Mechanism, ParentDesign};
use crate::scm::{EdgeEffect, NodeMechanism, ScmNode, StructuralModel, Support, FORMAT_VERSION};

/// What a person calls a variable, for the document: label, aliases (any
/// language) and unit.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VariableNotes {
    /// A label for people; the name when none.
    pub label: Option<String>,
    /// Other names people use.
    pub aliases: Vec<String>,
    /// Unit of the values.
    pub unit: Option<String>,
}

/// Rows of the synthetic population drawn when rebuilding from a document alone.
const REBUILT_ROWS: usize = 20_000;

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The `mechanisms` reference of a serialised model: `sha256:<hex>`.
pub fn mechanisms_reference(serialised: &str) -> String {
    format!("sha256:{}", sha256_hex(serialised.as_bytes()))
}

impl StructuralModel {
    /// The model as a document named `name` (version 0 until a store assigns
    /// one), with the serialised mechanisms the document refers to.
    pub fn to_document(
        &self,
        name: &str,
        notes: &BTreeMap<String, VariableNotes>,
        dataset_sha256: &str,
        created_at: &str,
    ) -> Result<(ModelDocument, String)> {
        let serialised = serde_json::to_string(self)
            .map_err(|e| Error::invalid_input(format!("cannot serialise the model: {e}")))?;
        let mut variables = Vec::with_capacity(self.nodes.len());
        let mut edges = Vec::new();
        for (index, node) in self.nodes.iter().enumerate() {
            let mut variable = Variable::new(&node.name, node.role, node.kind);
            if let Some(note) = notes.get(&node.name) {
                if let Some(label) = &note.label {
                    variable.label = label.clone();
                }
                variable.aliases = note.aliases.clone();
                variable.unit = note.unit.clone();
            }
            variable.mean = Some(node.support.mean);
            variable.std = Some(node.support.std);
            variable.min = Some(node.support.min);
            variable.max = Some(node.support.max);
            variable.parameters = self.parameters(index);
            variable.mechanism = Some(match &node.mechanism {
                NodeMechanism::Empirical => "empirical".to_string(),
                NodeMechanism::Fitted { mechanism, .. } => mechanism.kind().name().to_string(),
            });
            if let NodeMechanism::Fitted { edges: effects, .. } = &node.mechanism {
                for (&parent, effect) in node.parents.iter().zip(effects) {
                    edges.push(CausalEdge {
                        effect: effect.effect,
                        ci_low: effect.ci_low,
                        ci_high: effect.ci_high,
                        p_value: effect.p_value,
                        method: Some(effect.method.clone()),
                        ..CausalEdge::new(&self.nodes[parent].name, &node.name)
                    });
                }
            }
            variables.push(variable);
        }
        let document = ModelDocument {
            model_id: format!("{name}@0"),
            name: name.to_string(),
            version: 0,
            created_at: created_at.to_string(),
            dataset_sha256: dataset_sha256.to_string(),
            n_rows: self.n_rows as u64,
            method: format!(
                "scm-{}",
                match self.options.mechanism {
                    MechanismChoice::Linear => "linear",
                    MechanismChoice::Forest => "forest",
                    MechanismChoice::Auto => "auto",
                }
            ),
            assumptions: vec![
                "the causal graph is right and complete: every common cause of two modelled variables is in the model".into(),
                "each variable follows its fitted mechanism from its parents plus its own independent noise".into(),
                "the mechanisms stay the same when a lever is changed".into(),
            ],
            mechanisms: Some(mechanisms_reference(&serialised)),
            variables,
            edges,
            created_by: None,
        };
        Ok((document, serialised))
    }

    /// The model a stored document describes: from its stored mechanisms when
    /// given (checked against the document's reference), otherwise rebuilt from
    /// the document's parameters. Roles are the document's, so a role changed
    /// in the document after fitting is honoured.
    ///
    /// # Errors
    /// Mechanisms that do not match the document, a document that refers to
    /// mechanisms that are missing, or one whose mechanisms are not parametric.
    pub fn from_stored(document: &ModelDocument, mechanisms: Option<&str>) -> Result<Self> {
        let mut model = match (mechanisms, &document.mechanisms) {
            (Some(serialised), Some(reference)) => {
                if mechanisms_reference(serialised) != *reference {
                    return Err(Error::invalid_data(format!(
                        "the stored mechanisms of `{}` do not match its document (expected {reference}); save the model again",
                        document.model_id
                    )));
                }
                let model: StructuralModel = serde_json::from_str(serialised).map_err(|e| {
                    Error::invalid_data(format!(
                        "the stored mechanisms of `{}` cannot be read ({e}); refit the model",
                        document.model_id
                    ))
                })?;
                model.check()?;
                let names: Vec<&str> = model.nodes.iter().map(|n| n.name.as_str()).collect();
                let documented: Vec<&str> = document.variables.iter().map(|v| v.name.as_str()).collect();
                if names != documented {
                    return Err(Error::invalid_data(format!(
                        "the stored mechanisms of `{}` describe other variables than its document; refit the model",
                        document.model_id
                    )));
                }
                model
            }
            (Some(_), None) => {
                return Err(Error::invalid_data(format!(
                    "`{}` has stored mechanisms but its document does not refer to them; save the model again",
                    document.model_id
                )))
            }
            (None, Some(reference)) => {
                return Err(Error::invalid_data(format!(
                    "the mechanisms of `{}` ({reference}) are missing from the store; import the model with its mechanisms or refit it",
                    document.model_id
                )))
            }
            (None, None) => rebuild(document)?,
        };
        for (node, variable) in model.nodes.iter_mut().zip(&document.variables) {
            node.role = variable.role;
        }
        Ok(model)
    }

    /// The document parameters of one node (see the module table).
    fn parameters(&self, index: usize) -> BTreeMap<String, f64> {
        let node = &self.nodes[index];
        let mut out = BTreeMap::new();
        if node.kind != VariableKind::Continuous {
            for (code, label) in node.levels.iter().enumerate() {
                out.insert(format!("level:{label}"), code as f64);
            }
        }
        match &node.mechanism {
            NodeMechanism::Empirical => {
                if node.kind != VariableKind::Continuous {
                    let column = &self.population[index];
                    let n = column.len().max(1) as f64;
                    for (code, label) in node.levels.iter().enumerate() {
                        let count = column.iter().filter(|&&v| v as usize == code).count();
                        out.insert(format!("share:{label}"), count as f64 / n);
                    }
                }
            }
            NodeMechanism::Fitted {
                design,
                mechanism,
                held_out,
                ..
            } => {
                let names = design.names();
                match mechanism {
                    Mechanism::LinearGaussian {
                        coefficients,
                        noise_std,
                        ..
                    }
                    | Mechanism::ForestAdditive {
                        coefficients,
                        noise_std,
                        ..
                    } => {
                        out.insert("intercept".into(), coefficients[0]);
                        for (name, value) in names.iter().zip(&coefficients[1..]) {
                            out.insert(format!("coef:{name}"), *value);
                        }
                        out.insert("noise_std".into(), *noise_std);
                        if let Mechanism::ForestAdditive { forest, .. } = mechanism {
                            out.insert("trees".into(), forest.n_trees() as f64);
                        }
                    }
                    Mechanism::Logistic(classifier) => {
                        for (row, label) in classifier
                            .coefficients
                            .iter()
                            .zip(node.levels.iter().skip(1))
                        {
                            out.insert(format!("coef:{label}:intercept"), row[0]);
                            for (name, value) in names.iter().zip(&row[1..]) {
                                out.insert(format!("coef:{label}:{name}"), *value);
                            }
                        }
                    }
                }
                match held_out {
                    HeldOutFit::RSquared(r2) => {
                        out.insert("held_out_r2".into(), *r2);
                    }
                    HeldOutFit::LogLoss { log_loss, baseline } => {
                        out.insert("held_out_log_loss".into(), *log_loss);
                        out.insert("baseline_log_loss".into(), *baseline);
                    }
                }
            }
        }
        out
    }
}

/// Rebuilds a parametric model from a document alone, with a seeded synthetic
/// population drawn from its parameters.
fn rebuild(document: &ModelDocument) -> Result<StructuralModel> {
    let missing = |variable: &str, what: &str| {
        Error::invalid_data(format!(
            "the document of `{}` has no stored mechanisms and `{variable}` lacks {what}; refit the model to answer questions with it",
            document.model_id
        ))
    };
    let graph_edges: Vec<(String, String)> = document
        .edges
        .iter()
        .map(|e| (e.source.clone(), e.target.clone()))
        .collect();
    let graph = crate::graph::CausalGraph::from_edges(&graph_edges, &[])?;
    let order: Vec<String> = document.variables.iter().map(|v| v.name.clone()).collect();
    let position = |name: &str| order.iter().position(|o| o == name);
    let kinds: Vec<VariableKind> = document.variables.iter().map(|v| v.kind).collect();
    let levels: Vec<Vec<String>> = document
        .variables
        .iter()
        .map(|v| {
            let mut coded: Vec<(f64, String)> = v
                .parameters
                .iter()
                .filter_map(|(k, code)| k.strip_prefix("level:").map(|l| (*code, l.to_string())))
                .collect();
            coded.sort_by(|a, b| a.0.total_cmp(&b.0));
            coded.into_iter().map(|(_, l)| l).collect()
        })
        .collect();

    let rows = (document.n_rows as usize).clamp(1, REBUILT_ROWS);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut population: Vec<Vec<f64>> = Vec::with_capacity(order.len());
    let mut nodes: Vec<ScmNode> = Vec::with_capacity(order.len());
    for (index, variable) in document.variables.iter().enumerate() {
        let name = variable.name.as_str();
        let mut parents: Vec<usize> = if graph.contains(name) {
            graph
                .parents(name)?
                .into_iter()
                .map(|p| {
                    position(p)
                        .ok_or_else(|| Error::unknown_variable(p, order.iter().map(String::as_str)))
                })
                .collect::<Result<_>>()?
        } else {
            Vec::new()
        };
        parents.sort_unstable();
        if parents.iter().any(|&p| p >= index) {
            return Err(Error::invalid_data(format!(
                "the document of `{}` lists `{name}` before one of its causes; variables must be in causal order",
                document.model_id
            )));
        }
        if kinds[index] != VariableKind::Continuous && levels[index].len() < 2 {
            return Err(missing(name, "its levels (`level:<label>` parameters)"));
        }
        let support = Support {
            mean: variable.mean.ok_or_else(|| missing(name, "a mean"))?,
            std: variable
                .std
                .ok_or_else(|| missing(name, "a standard deviation"))?,
            min: variable.min.ok_or_else(|| missing(name, "a minimum"))?,
            max: variable.max.ok_or_else(|| missing(name, "a maximum"))?,
        };
        let parameter = |key: &str| {
            variable
                .parameters
                .get(key)
                .copied()
                .ok_or_else(|| missing(name, &format!("the parameter `{key}`")))
        };
        let (mechanism, values) = if parents.is_empty() {
            let values: Vec<f64> = match kinds[index] {
                VariableKind::Continuous => (0..rows)
                    .map(|_| support.mean + support.std * rng.sample::<f64, _>(StandardNormal))
                    .collect(),
                _ => {
                    let shares: Vec<f64> = levels[index]
                        .iter()
                        .map(|l| parameter(&format!("share:{l}")))
                        .collect::<Result<_>>()?;
                    (0..rows)
                        .map(|_| draw_level(&shares, rng.gen::<f64>()) as f64)
                        .collect()
                }
            };
            (NodeMechanism::Empirical, values)
        } else {
            let design = ParentDesign::new(&parents, &order, &kinds, &levels);
            let names = design.names();
            let kind = variable.mechanism.as_deref().unwrap_or("");
            let (mechanism, held_out) = match kind {
                "linear-gaussian" => {
                    let mut coefficients = vec![parameter("intercept")?];
                    for column in &names {
                        coefficients.push(parameter(&format!("coef:{column}"))?);
                    }
                    (
                        Mechanism::LinearGaussian {
                            coefficients,
                            std_errors: Vec::new(),
                            noise_std: parameter("noise_std")?,
                        },
                        HeldOutFit::RSquared(parameter("held_out_r2")?),
                    )
                }
                "logistic" => {
                    let mut coefficients = Vec::new();
                    for label in levels[index].iter().skip(1) {
                        let mut row = vec![parameter(&format!("coef:{label}:intercept"))?];
                        for column in &names {
                            row.push(parameter(&format!("coef:{label}:{column}"))?);
                        }
                        coefficients.push(row);
                    }
                    (
                        Mechanism::Logistic(Classifier {
                            n_levels: levels[index].len(),
                            coefficients,
                            converged: true,
                        }),
                        HeldOutFit::LogLoss {
                            log_loss: parameter("held_out_log_loss")?,
                            baseline: parameter("baseline_log_loss")?,
                        },
                    )
                }
                other => {
                    return Err(Error::invalid_data(format!(
                        "the document of `{}` has no stored mechanisms and `{name}` has the mechanism `{other}`, which its parameters cannot rebuild; refit the model",
                        document.model_id
                    )))
                }
            };
            let columns: Vec<&[f64]> = population.iter().map(Vec::as_slice).collect();
            let x = design.matrix(&columns, rows);
            let noise: Vec<f64> = match &mechanism {
                Mechanism::LinearGaussian { noise_std, .. } => (0..rows)
                    .map(|_| noise_std * rng.sample::<f64, _>(StandardNormal))
                    .collect(),
                _ => (0..rows).map(|_| rng.gen::<f64>()).collect(),
            };
            let values = mechanism.generate(x.view(), &noise)?;
            let effects = parents
                .iter()
                .map(|&p| {
                    let edge = document
                        .edges
                        .iter()
                        .find(|e| e.source == order[p] && e.target == name);
                    EdgeEffect {
                        effect: edge.and_then(|e| e.effect),
                        ci_low: edge.and_then(|e| e.ci_low),
                        ci_high: edge.and_then(|e| e.ci_high),
                        p_value: edge.and_then(|e| e.p_value),
                        method: edge.and_then(|e| e.method.clone()).unwrap_or_default(),
                    }
                })
                .collect();
            (
                NodeMechanism::Fitted {
                    design,
                    mechanism,
                    held_out,
                    edges: effects,
                },
                values,
            )
        };
        population.push(values);
        nodes.push(ScmNode {
            name: name.to_string(),
            role: variable.role,
            kind: kinds[index],
            levels: levels[index].clone(),
            support,
            parents,
            mechanism,
        });
    }
    let model = StructuralModel {
        format_version: FORMAT_VERSION,
        nodes,
        n_rows: rows,
        population,
        population_rows: (0..rows).collect(),
        synthetic: true,
        options: FitOptions {
            mechanism: MechanismChoice::Linear,
            ..FitOptions::default()
        },
    };
    model.check()?;
    Ok(model)
}

fn draw_level(shares: &[f64], u: f64) -> usize {
    let total: f64 = shares.iter().sum();
    let mut cumulative = 0.0;
    for (level, share) in shares.iter().enumerate() {
        cumulative += share / total.max(f64::MIN_POSITIVE);
        if u < cumulative {
            return level;
        }
    }
    shares.len() - 1
}
