//! The chat's translator layer: a question in plain words → a typed [`WhatIfQuery`],
//! or a clarifying reply. The planner and the web pages build on it.
//!
//! A language model may only fill in a query; it never computes an answer, names a
//! variable the model lacks, or writes a database query. So the layer is one
//! [`Translator`] trait with two implementations: [`OfflineTranslator`] (the
//! default, a rule-based parser of English and Traditional Chinese, no network) and
//! [`LlmTranslator`] (any OpenAI-compatible endpoint, constrained by a JSON schema
//! that enumerates the model's variables, validated, and falling back to the
//! offline parser when the endpoint fails). Each [`Translation`] says which one
//! produced it.
//!
//! Follow-ups ("and if by 20%?") amend the last query of a [`Conversation`], which
//! the caller keeps per chat session and passes in.

pub mod llm;
pub mod narrative;
pub mod offline;
pub mod parser;
pub mod query;
pub mod vocabulary;

use std::sync::Arc;

use async_trait::async_trait;
use causeway_estimators::model::ModelDocument;
use serde::{Deserialize, Serialize};

pub use llm::LlmTranslator;
pub use offline::OfflineTranslator;
pub use query::{QueryError, WhatIfQuery};

use crate::config::Settings;
use crate::engine::WhatIfAnswer;

/// What a question became: a query to answer, or a question to ask back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Parsed {
    /// A valid query for the model.
    Query(WhatIfQuery),
    /// The question could not be mapped; `message` says why and asks back, and
    /// `suggestions` names the closest variables (model names), never a guess.
    Clarify {
        /// The reply to show, in the question's language.
        message: String,
        /// Variable names to offer (best first); may be empty.
        suggestions: Vec<String>,
    },
}

/// The state a follow-up question needs: the last query answered in this
/// conversation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    /// The last query of the conversation, if any.
    pub last: Option<WhatIfQuery>,
}

impl Conversation {
    /// A new conversation, with no context.
    pub fn new() -> Self {
        Conversation::default()
    }

    /// Remembers a query as the context of the next question; a clarifying reply
    /// leaves the context as it was, so the person can answer and go on.
    pub fn record(&mut self, parsed: &Parsed) {
        if let Parsed::Query(query) = parsed {
            self.last = Some(query.clone());
        }
    }
}

/// Which translator produced a [`Translation`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TranslatorKind {
    /// The rule-based offline parser.
    Offline,
    /// A language model.
    Llm,
}

impl TranslatorKind {
    /// `offline` or `llm`, as answers say it.
    pub fn name(self) -> &'static str {
        match self {
            TranslatorKind::Offline => "offline",
            TranslatorKind::Llm => "llm",
        }
    }
}

/// A translated question, with where it came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Translation {
    /// The query, or the clarifying reply.
    pub parsed: Parsed,
    /// The translator that produced `parsed` (`"translator": "llm"` / `"offline"`).
    pub translator: TranslatorKind,
    /// Why the expected translator was not the one used (the language model timed
    /// out, failed, or replied with malformed JSON), for the answer to show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Turns a question about `model` into a [`Translation`]. Implementations never
/// fail: whatever goes wrong becomes a clarifying reply or a fallback with a note.
#[async_trait]
pub trait Translator: Send + Sync {
    /// Translates `question`, amending `conversation`'s last query for a follow-up.
    async fn translate(
        &self,
        question: &str,
        model: &ModelDocument,
        conversation: &Conversation,
    ) -> Translation;

    /// A few sentences about `answer` for people, written by a language model from
    /// the answer's own numbers and paths (checked by [`narrative::check`] before
    /// anyone sees them); none from a translator without one, or when it fails.
    async fn narrate(
        &self,
        _question: &str,
        _answer: &WhatIfAnswer,
        _model: &ModelDocument,
    ) -> Option<String> {
        None
    }
}

/// The translator the settings name: the language model when `CAUSEWAY_LLM_*` is
/// configured, otherwise the offline parser.
pub fn translator(settings: &Settings) -> Result<Arc<dyn Translator>, llm::LlmError> {
    match &settings.llm {
        Some(llm) => Ok(Arc::new(LlmTranslator::new(llm)?)),
        None => Ok(Arc::new(OfflineTranslator)),
    }
}
