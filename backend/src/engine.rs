//! The what-if engine as the CLI, the web and Slack use it: load a fitted model
//! (from the store or from files), answer interventions with it, and shape the
//! answer as the `WhatIfAnswer` of `DESIGN.md`.
//!
//! Every surface answers through [`answer`], so a number shown in the chat, in
//! Slack and by `causeway whatif` comes from the same computation. Loaded models are
//! kept in a [`ModelCache`] by model id: a stored version never changes, so a cached
//! model is never stale, and deserialising a model's mechanisms is far slower than
//! answering a question with them.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use causeway_estimators::format::number;
use causeway_estimators::io::graphml::{read_model, write_model};
use causeway_estimators::model::ModelDocument;
use causeway_estimators::progress::{Progress, Silent};
use causeway_estimators::scm::{
    AnswerKind, Intervention, StructuralModel, TargetEffect, WhatIfOptions, WhatIfResult,
};
use causeway_estimators::Error;
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::chat::narrative::CheckedNarrative;
use crate::chat::WhatIfQuery;
use crate::store::{ModelRef, ModelStore, StoreError};

/// Why a model could not be loaded or asked.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The model, the files or the question are wrong in a way the user can fix.
    #[error(transparent)]
    Input(#[from] Error),
}

/// A fitted model with the document it was read from.
#[derive(Debug)]
pub struct LoadedModel {
    /// The document (labels, aliases, roles, effects).
    pub document: ModelDocument,
    /// The structural model that answers questions.
    pub model: StructuralModel,
}

/// Loaded models by model id (`name@version`).
#[derive(Debug, Default)]
pub struct ModelCache {
    models: Mutex<HashMap<String, Arc<LoadedModel>>>,
}

/// Models kept in a cache at most; beyond it the cache starts afresh (versions are
/// few in practice, and each holds its population).
const CACHED_MODELS: usize = 32;

impl ModelCache {
    /// The model `reference` names, from the cache or the store.
    pub async fn load(
        &self,
        store: &dyn ModelStore,
        reference: &ModelRef,
    ) -> Result<Arc<LoadedModel>, EngineError> {
        let document = store.get(reference).await?;
        if let Some(found) = self.lock().get(&document.model_id) {
            return Ok(Arc::clone(found));
        }
        let mechanisms = store.mechanisms(reference).await?;
        let id = document.model_id.clone();
        let loaded = tokio::task::spawn_blocking(move || -> Result<LoadedModel, Error> {
            let model = StructuralModel::from_stored(&document, mechanisms.as_deref())?;
            Ok(LoadedModel { document, model })
        })
        .await
        .map_err(|e| StoreError::Backend(format!("loading model `{id}`: {e}")))??;
        let loaded = Arc::new(loaded);
        let mut models = self.lock();
        if models.len() >= CACHED_MODELS {
            models.clear();
        }
        models.insert(id, Arc::clone(&loaded));
        Ok(loaded)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<LoadedModel>>> {
        // A panic while holding the lock cannot leave the map half-updated (inserts
        // and clears are single calls), so a poisoned lock is safe to use.
        self.models
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Answers already computed, by model id and typed query.
///
/// An answer is a function of the model version (immutable once stored), the query
/// and the engine options (seed included), so a repeated question — the suggested
/// questions, the same question from many managers — is answered from memory with
/// the same numbers, without the bootstrap refits. Concurrent askers of a question
/// not yet answered wait for one computation rather than each starting their own.
#[derive(Debug, Default)]
pub struct AnswerCache {
    answers: Mutex<HashMap<AnswerKey, Arc<OnceCell<Arc<WhatIfAnswer>>>>>,
}

/// Model id, and the query with the options as text.
type AnswerKey = (String, String);

/// Answers kept at most; beyond it the cache starts afresh, as [`ModelCache`] does.
const CACHED_ANSWERS: usize = 4096;

impl AnswerCache {
    /// The key of `query` on `model_id` under `options`: the query as canonical
    /// JSON (its fields in declaration order), so two phrasings of one question
    /// share an entry, and the options, so a change of them is never answered
    /// from an older computation.
    pub fn key(model_id: &str, query: &WhatIfQuery, options: &WhatIfOptions) -> AnswerKey {
        let query = serde_json::to_string(query).expect("a query serialises");
        (model_id.to_string(), format!("{query} {options:?}"))
    }

    /// The answer stored under `key`, or the one `compute` gives, stored. An error
    /// is returned to every waiter and not stored: the next asker computes again.
    pub async fn get_or_compute<E, F, Fut>(
        &self,
        key: AnswerKey,
        compute: F,
    ) -> Result<Arc<WhatIfAnswer>, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<WhatIfAnswer, E>>,
    {
        let cell = {
            let mut answers = self.lock();
            if answers.len() >= CACHED_ANSWERS && !answers.contains_key(&key) {
                answers.clear();
            }
            Arc::clone(answers.entry(key).or_default())
        };
        cell.get_or_try_init(|| async { compute().await.map(Arc::new) })
            .await
            .cloned()
    }

    /// How many answers are kept.
    pub fn len(&self) -> usize {
        self.lock().values().filter(|c| c.initialized()).count()
    }

    /// Whether no answer is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<AnswerKey, Arc<OnceCell<Arc<WhatIfAnswer>>>>> {
        // As in ModelCache: inserts and clears are single calls, so a poisoned lock
        // holds a consistent map.
        self.answers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The file next to a model document that holds its mechanisms:
/// `retail.graphml` → `retail.mechanisms.json`.
pub fn mechanisms_path(document: &Path) -> PathBuf {
    document.with_extension("mechanisms.json")
}

/// Reads a model document and, when it refers to mechanisms, the file next to it
/// that holds them.
pub fn load_model_file(path: &Path) -> Result<LoadedModel, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let document = read_model(&text, &path.display().to_string())?;
    let mechanisms = match &document.mechanisms {
        Some(_) => {
            let sidecar = mechanisms_path(path);
            Some(
                std::fs::read_to_string(&sidecar).map_err(|source| Error::Io {
                    path: sidecar,
                    source,
                })?,
            )
        }
        None => None,
    };
    let model = StructuralModel::from_stored(&document, mechanisms.as_deref())?;
    Ok(LoadedModel { document, model })
}

/// Writes a model document and, when given, its mechanisms next to it.
pub fn write_model_files(
    path: &Path,
    document: &ModelDocument,
    mechanisms: Option<&str>,
) -> Result<(), Error> {
    let io = |path: &Path, source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(path, write_model(document)?).map_err(|e| io(path, e))?;
    if let Some(text) = mechanisms {
        let sidecar = mechanisms_path(path);
        std::fs::write(&sidecar, text).map_err(|e| io(&sidecar, e))?;
    }
    Ok(())
}

/// The answer to a what-if question (`DESIGN.md`, "WhatIfQuery and WhatIfAnswer").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WhatIfAnswer {
    /// The model version that answered, `name@version`.
    pub model: String,
    /// Population (interventional) or one unit (counterfactual).
    pub kind: AnswerKind,
    /// What turned the question into a query (`offline`, `llm`); none when the
    /// query was given as such.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub translator: Option<String>,
    /// The question as a typed query.
    pub query: WhatIfQuery,
    /// The targets a lever reaches, with their changes.
    pub effects: Vec<TargetEffect>,
    /// Targets no directed path from a lever reaches.
    pub unaffected: Vec<String>,
    /// Where the answer is on thin ice.
    pub warnings: Vec<String>,
    /// What the answer rests on.
    pub assumptions: Vec<String>,
    /// A few sentences by a language model, after every causal claim and number
    /// in them was checked against the model; only when one is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub narrative: Option<Box<CheckedNarrative>>,
}

/// Answers `query` with `loaded` (CPU work: call it from a blocking context).
pub fn answer(
    loaded: &LoadedModel,
    query: WhatIfQuery,
    options: &WhatIfOptions,
    translator: Option<&str>,
) -> Result<WhatIfAnswer, Error> {
    answer_with_progress(loaded, query, options, translator, &Silent)
}

/// [`answer`], reporting the bootstrap refits to `progress`
/// ([`StructuralModel::what_if_with_progress`]).
pub fn answer_with_progress(
    loaded: &LoadedModel,
    query: WhatIfQuery,
    options: &WhatIfOptions,
    translator: Option<&str>,
    progress: &dyn Progress,
) -> Result<WhatIfAnswer, Error> {
    let options = WhatIfOptions {
        unit: query.unit,
        ..options.clone()
    };
    let WhatIfResult {
        kind,
        effects,
        unaffected,
        warnings,
        assumptions,
        ..
    } = loaded.model.what_if_with_progress(
        &query.interventions,
        query.targets.as_deref(),
        &options,
        progress,
    )?;
    Ok(WhatIfAnswer {
        model: loaded.document.model_id.clone(),
        kind,
        translator: translator.map(str::to_string),
        query,
        effects,
        unaffected,
        warnings,
        assumptions,
        narrative: None,
    })
}

impl WhatIfAnswer {
    /// One sentence for people: the interventions and the largest change, with its
    /// interval; `label` gives a variable's name for people.
    pub fn headline(&self, label: &dyn Fn(&str) -> String) -> String {
        let action = self
            .query
            .interventions
            .iter()
            .map(|i| describe_action(i, label))
            .collect::<Vec<_>>()
            .join(" and ");
        let whom = match self.kind {
            AnswerKind::Interventional => String::new(),
            AnswerKind::Counterfactual => format!(
                " for unit {}",
                self.query.unit.map_or_else(String::new, |u| u.to_string())
            ),
        };
        let Some(main) = self
            .effects
            .iter()
            .max_by(|a, b| relative(a).total_cmp(&relative(b)))
        else {
            return capitalised(&format!(
                "{action}{whom} moves none of the KPIs asked about: no causal path leads to {}.",
                self.unaffected
                    .iter()
                    .map(|u| label(u))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        let direction = if main.change > 0.0 {
            "raises"
        } else if main.change < 0.0 {
            "lowers"
        } else {
            "leaves unchanged"
        };
        let size = match main.change_pct {
            Some(pct) => format!(
                "{} ({}{:.1}%)",
                number(main.change.abs()),
                if main.change < 0.0 { "−" } else { "+" },
                pct.abs()
            ),
            None => number(main.change.abs()),
        };
        let interval = match (main.ci_low, main.ci_high) {
            (Some(low), Some(high)) => format!(", 95% CI {} to {}", number(low), number(high)),
            _ => String::new(),
        };
        let mut sentence = format!(
            "{action}{whom} {direction} {} by {size}{interval}",
            label(&main.target)
        );
        if self.effects.len() > 1 {
            sentence.push_str(&format!(
                "; {} other KPI(s) move too",
                self.effects.len() - 1
            ));
        }
        sentence.push('.');
        capitalised(&sentence)
    }

    /// The answer as text for a terminal.
    pub fn write_text(&self, out: &mut impl Write) -> std::io::Result<()> {
        let name = |n: &str| n.to_string();
        writeln!(out, "{}", self.headline(&name))?;
        let what = match self.kind {
            AnswerKind::Interventional => {
                "interventional: the average over the population".to_string()
            }
            AnswerKind::Counterfactual => format!(
                "counterfactual: what this one unit (row {}) would have shown",
                self.query.unit.unwrap_or_default()
            ),
        };
        writeln!(out, "model {} · {what}", self.model)?;
        writeln!(out)?;
        if !self.effects.is_empty() {
            writeln!(
                out,
                "{:<24} {:>12} {:>12} {:>12} {:>9}  95% CI",
                "target", "baseline", "after", "change", "change %"
            )?;
        }
        for effect in &self.effects {
            let interval = match (effect.ci_low, effect.ci_high) {
                (Some(low), Some(high)) => format!("{} to {}", number(low), number(high)),
                _ => "—".to_string(),
            };
            writeln!(
                out,
                "{:<24} {:>12} {:>12} {:>12} {:>9}  {interval}",
                effect.target,
                number(effect.baseline),
                number(effect.intervened),
                number(effect.change),
                effect
                    .change_pct
                    .map_or_else(|| "—".into(), |p| format!("{p:+.1}%")),
            )?;
            for path in &effect.paths {
                let share = path
                    .share
                    .map_or_else(|| "—".into(), |s| format!("{:.0}%", 100.0 * s));
                writeln!(out, "    {share:>5}  {}", path.nodes.join(" → "))?;
            }
            if !effect.paths.is_empty() {
                writeln!(out, "           ({})", effect.path_method)?;
            }
        }
        if !self.unaffected.is_empty() {
            writeln!(
                out,
                "\nunaffected (no causal path from the change): {}",
                self.unaffected.join(", ")
            )?;
        }
        if !self.warnings.is_empty() {
            writeln!(out, "\nwarnings:")?;
            for warning in &self.warnings {
                writeln!(out, "  - {warning}")?;
            }
        }
        writeln!(out, "\nassumptions:")?;
        for assumption in &self.assumptions {
            writeln!(out, "  - {assumption}")?;
        }
        Ok(())
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The size of a change relative to its baseline, for picking the headline KPI.
fn relative(effect: &TargetEffect) -> f64 {
    effect.change_pct.map_or(effect.change.abs(), f64::abs)
}

/// "cutting TV ads by 10%", "raising price by 2", "setting promo to 1".
fn describe_action(intervention: &Intervention, label: &dyn Fn(&str) -> String) -> String {
    use causeway_estimators::scm::Op;
    let name = label(&intervention.variable);
    let mut text = match (intervention.op, &intervention.label) {
        (_, Some(level)) => format!("setting {name} to {level}"),
        (Op::Set, None) => format!("setting {name} to {}", number(intervention.value)),
        (Op::Scale, None) => {
            // Rounded so that ×0.9 reads "10%", not "10.000%" (0.9 − 1 is not exact).
            let pct = (100.0 * (intervention.value - 1.0) * 1e6).round() / 1e6;
            let verb = if pct < 0.0 { "cutting" } else { "raising" };
            format!("{verb} {name} by {}%", number(pct.abs()))
        }
        (Op::Shift, None) => {
            let verb = if intervention.value < 0.0 {
                "lowering"
            } else {
                "raising"
            };
            format!("{verb} {name} by {}", number(intervention.value.abs()))
        }
    };
    if let Some(condition) = &intervention.only_where {
        use causeway_estimators::scm::ConditionValue;
        let value = match &condition.value {
            ConditionValue::Number(x) => number(*x),
            ConditionValue::Label(l) => l.clone(),
        };
        text.push_str(&format!(
            " where {} {} {value}",
            label(&condition.variable),
            condition.comparison.symbol()
        ));
    }
    text
}
