//! The planner: from a question (or a typed query) to an answer, the one path every
//! surface — web chat, JSON API, Slack — goes through.
//!
//! 1. **Resolve the model**: the query's (`retail`, `retail@3`), else the configured
//!    default, else the only stored model.
//! 2. **Translate** the question with the configured [`Translator`] (offline parser
//!    or language model), amending the conversation's last query for follow-ups. A
//!    question that cannot be mapped becomes a clarifying reply, never a guess.
//! 3. **Validate** the query against the model's variables.
//! 4. **Constrained traversal**: the store's fixed "KPIs downstream of the levers"
//!    query, along `CAUSES` edges only, decides which KPIs can move at all.
//! 5. **Compute** with the what-if engine ([`crate::engine::answer`]) on a blocking
//!    thread. The engine's own reachability must agree with the store's traversal;
//!    a disagreement is a bug and is reported as one rather than shown.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use causeway_estimators::model::{ModelDocument, Role};
use causeway_estimators::scm::WhatIfOptions;

use crate::chat::{
    narrative, Conversation, Parsed, QueryError, Translator, TranslatorKind, WhatIfQuery,
};
use crate::engine::{answer, AnswerCache, EngineError, LoadedModel, ModelCache, WhatIfAnswer};
use crate::store::{ModelRef, ModelStore, StoreError, MAX_DEPTH};

/// Questions longer than this are refused before any parsing.
pub const MAX_QUESTION_CHARS: usize = 2_000;

/// What the planner answers.
#[derive(Clone, Debug)]
pub enum Reply {
    /// The engine's answer.
    Answer {
        /// The answer (the JSON of `DESIGN.md`).
        answer: WhatIfAnswer,
        /// Why the configured translator was not the one used, if so.
        note: Option<String>,
    },
    /// A question back to the person: what could not be mapped, and the closest
    /// variables.
    Clarify {
        /// The reply, in the question's language.
        message: String,
        /// Variable names to offer.
        suggestions: Vec<String>,
        /// The translator that asked back.
        translator: TranslatorKind,
        /// Why the configured translator was not the one used, if so.
        note: Option<String>,
    },
}

/// Why a question or query could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The question is empty or too long.
    #[error("{0}")]
    BadQuestion(String),
    /// No model was named and there is no default to use.
    #[error("{0}")]
    NoModel(String),
    /// The store refused (unknown model: a 404) or failed (a 500).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The query does not fit the model.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// The engine refused the query (a unit out of range, …).
    #[error(transparent)]
    Engine(#[from] causeway_estimators::Error),
    /// The engine and the store's traversal disagree: a bug, never shown as an answer.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<EngineError> for PlanError {
    fn from(error: EngineError) -> Self {
        match error {
            EngineError::Store(e) => PlanError::Store(e),
            EngineError::Input(e) => PlanError::Engine(e),
        }
    }
}

/// Answers questions and queries from stored models.
pub struct Planner {
    /// Where models are stored.
    pub store: Arc<dyn ModelStore>,
    /// Question → query.
    pub translator: Arc<dyn Translator>,
    /// Loaded models by id.
    pub cache: ModelCache,
    /// Computed answers by model id and query.
    pub answers: AnswerCache,
    /// Engine computations that may run at once: one per core.
    engine_slots: tokio::sync::Semaphore,
    /// Bootstrap refits and seed of every answer.
    pub options: WhatIfOptions,
    /// The model a question without one is asked of.
    pub default_model: Option<String>,
}

impl Planner {
    /// A planner with the engine's default options.
    pub fn new(
        store: Arc<dyn ModelStore>,
        translator: Arc<dyn Translator>,
        default_model: Option<String>,
    ) -> Self {
        Planner {
            store,
            translator,
            cache: ModelCache::default(),
            answers: AnswerCache::default(),
            engine_slots: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
            ),
            options: WhatIfOptions::default(),
            default_model,
        }
    }

    /// The model `requested` names, or the default one.
    pub async fn resolve(&self, requested: Option<&str>) -> Result<ModelRef, PlanError> {
        if let Some(name) = requested.filter(|n| !n.trim().is_empty()) {
            return Ok(ModelRef::parse(name)?);
        }
        if let Some(name) = &self.default_model {
            return Ok(ModelRef::parse(name)?);
        }
        let models = self.store.list().await?;
        match models.as_slice() {
            [only] => Ok(ModelRef::parse(&only.name)?),
            [] => Err(PlanError::NoModel(
                "no models are stored yet; fit one with `causeway fit` or start `causeway demo`"
                    .into(),
            )),
            several => Err(PlanError::NoModel(format!(
                "which model? name one of: {}",
                several
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// The model `requested` names (or the default), loaded.
    pub async fn model(&self, requested: Option<&str>) -> Result<Arc<LoadedModel>, PlanError> {
        let reference = self.resolve(requested).await?;
        Ok(self.cache.load(self.store.as_ref(), &reference).await?)
    }

    /// Answers a question in plain words about `model` (or the default), as part of
    /// `conversation`, which it updates for follow-ups.
    pub async fn ask(
        &self,
        model: Option<&str>,
        question: &str,
        conversation: &mut Conversation,
    ) -> Result<Reply, PlanError> {
        let question = question.trim();
        if question.is_empty() {
            return Err(PlanError::BadQuestion(
                "the question is empty; ask e.g. \"If we cut TV ads by 10%, what happens to store sales?\"".into(),
            ));
        }
        let length = question.chars().count();
        if length > MAX_QUESTION_CHARS {
            return Err(PlanError::BadQuestion(format!(
                "the question is {length} characters long; ask in at most {MAX_QUESTION_CHARS}"
            )));
        }
        let loaded = self.model(model).await?;
        let translation = self
            .translator
            .translate(question, &loaded.document, conversation)
            .await;
        match translation.parsed {
            Parsed::Clarify {
                message,
                suggestions,
            } => Ok(Reply::Clarify {
                message,
                suggestions,
                translator: translation.translator,
                note: translation.note,
            }),
            Parsed::Query(mut query) => {
                query.model = Some(loaded.document.model_id.clone());
                let mut answer = self
                    .answer_with(&loaded, query.clone(), Some(translation.translator))
                    .await?;
                // Only a language model that read the question writes about the
                // answer; after a fallback it is likely down, and the answer should
                // not wait for it a second time.
                if translation.translator == TranslatorKind::Llm {
                    if let Some(text) = self
                        .translator
                        .narrate(question, &answer, &loaded.document)
                        .await
                    {
                        answer.narrative =
                            Some(Box::new(narrative::check(&text, &loaded.document, &answer)));
                    }
                }
                conversation.record(&Parsed::Query(query));
                Ok(Reply::Answer {
                    answer,
                    note: translation.note,
                })
            }
        }
    }

    /// Answers a typed query (the JSON API's other form).
    pub async fn answer(&self, query: WhatIfQuery) -> Result<WhatIfAnswer, PlanError> {
        let loaded = self.model(query.model.as_deref()).await?;
        self.answer_with(&loaded, query, None).await
    }

    async fn answer_with(
        &self,
        loaded: &Arc<LoadedModel>,
        mut query: WhatIfQuery,
        translator: Option<TranslatorKind>,
    ) -> Result<WhatIfAnswer, PlanError> {
        let document = &loaded.document;
        query.validate(document)?;
        query.model = Some(document.model_id.clone());
        let reference = ModelRef::parse(&document.model_id)?;
        let levers: Vec<String> = query
            .interventions
            .iter()
            .map(|i| i.variable.clone())
            .collect();
        let reachable: BTreeSet<String> = self
            .store
            .downstream_kpis(&reference, &levers, MAX_DEPTH)
            .await?
            .into_iter()
            .collect();
        let key = AnswerCache::key(&document.model_id, &query, &self.options);
        let translator = translator.map(|t| t.name().to_string());
        let computed = self
            .answers
            .get_or_compute(key, || async {
                let mut result = self.compute(loaded, &query, &levers, &reachable).await?;
                result.query = query.clone();
                Ok::<_, PlanError>(result)
            })
            .await?;
        let mut answer = WhatIfAnswer::clone(&computed);
        answer.translator = translator;
        Ok(answer)
    }

    /// The engine's answer to `query`, checked against the store's traversal
    /// (`reachable`: the KPIs downstream of `levers`).
    async fn compute(
        &self,
        loaded: &Arc<LoadedModel>,
        query: &WhatIfQuery,
        levers: &[String],
        reachable: &BTreeSet<String>,
    ) -> Result<WhatIfAnswer, PlanError> {
        let kpis = kpis_of(&loaded.document);
        let engine_query = WhatIfQuery {
            targets: query
                .targets
                .clone()
                .or_else(|| (!kpis.is_empty()).then(|| kpis.clone())),
            ..query.clone()
        };
        let loaded = Arc::clone(loaded);
        let options = self.options.clone();
        // The engine's bootstrap already uses every core; computations beyond one
        // per core only share them out, so later askers wait in line (first come,
        // first served) instead of slowing every answer in progress.
        let _slot = self
            .engine_slots
            .acquire()
            .await
            .map_err(|e| PlanError::Internal(format!("the engine queue closed: {e}")))?;
        let result =
            tokio::task::spawn_blocking(move || answer(&loaded, engine_query, &options, None))
                .await
                .map_err(|e| PlanError::Internal(format!("the engine task failed: {e}")))??;
        for kpi in &kpis {
            let engine_moves = result
                .effects
                .iter()
                .any(|e| e.target == *kpi || e.target.starts_with(&format!("{kpi}=")));
            let asked = result.unaffected.contains(kpi) || engine_moves;
            if asked && engine_moves != (reachable.contains(kpi) || levers.contains(kpi)) {
                return Err(PlanError::Internal(format!(
                    "the engine and the store's traversal disagree on whether `{kpi}` is downstream of {}",
                    levers.join(", ")
                )));
            }
        }
        Ok(result)
    }
}

/// The model's KPIs, in model order.
pub fn kpis_of(document: &ModelDocument) -> Vec<String> {
    document
        .variables
        .iter()
        .filter(|v| v.role == Role::Kpi)
        .map(|v| v.name.clone())
        .collect()
}

/// Each variable's label for people (its name when it has none).
pub fn labels_of(document: &ModelDocument) -> BTreeMap<String, String> {
    document
        .variables
        .iter()
        .map(|v| (v.name.clone(), v.label.clone()))
        .collect()
}
