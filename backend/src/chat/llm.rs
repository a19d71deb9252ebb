//! [`LlmTranslator`]: a language model fills in the query, and nothing else.
//!
//! The question goes to any OpenAI-compatible chat-completions endpoint through
//! `async-openai`, with one function the model must call, `whatif_query`, whose JSON
//! schema enumerates this model's variable names and the three operations. The
//! reply is then treated as untrusted input:
//!
//! - a variable or operation outside the enumeration (a model may ignore the
//!   schema; servers without strict mode do not enforce it) is refused with a
//!   clarifying reply that lists the closest real variables — never mapped to a
//!   guess;
//! - the query is checked with [`WhatIfQuery::validate`] like any other;
//! - a timeout, an HTTP or API error, or a reply that is not the expected JSON makes
//!   the offline parser answer instead, with a note saying why.
//!
//! The request itself (client from [`LlmSettings`], transport, forced function
//! call) is [`LlmClient`]'s, shared with `causeway draft`.

use async_trait::async_trait;
use causeway_estimators::error::closest_name;
use causeway_estimators::model::{ModelDocument, Role};
use causeway_estimators::scm::{Intervention, Op};
use serde::Deserialize;
use serde_json::{json, Value};

use super::offline::OfflineTranslator;
use super::query::{QueryError, WhatIfQuery};
use super::vocabulary::Vocabulary;
use super::{Conversation, Parsed, Translation, Translator, TranslatorKind};
use crate::config::LlmSettings;
use crate::engine::WhatIfAnswer;
pub use crate::llm::LlmError;
use crate::llm::{CallError, FunctionSpec, LlmClient};

/// The one function the language model is asked to call.
pub const FUNCTION: &str = "whatif_query";

/// Translates with a language model behind an OpenAI-compatible API.
#[derive(Clone, Debug)]
pub struct LlmTranslator {
    pub(super) client: LlmClient,
}

impl LlmTranslator {
    /// A translator for the endpoint, key, model and timeout in `settings`.
    pub fn new(settings: &LlmSettings) -> Result<Self, LlmError> {
        Ok(LlmTranslator {
            client: LlmClient::new(settings)?,
        })
    }

    /// Asks the model; `Err` carries the reason to fall back to the offline parser.
    async fn ask(
        &self,
        question: &str,
        model: &ModelDocument,
        conversation: &Conversation,
    ) -> Result<Parsed, String> {
        let function = FunctionSpec {
            name: FUNCTION.into(),
            description: "The typed what-if query the question asks, or a clarifying question."
                .into(),
            parameters: schema(model),
        };
        let arguments = self
            .client
            .call_function(&instructions(model, conversation), question, &function)
            .await
            .map_err(|e| match e {
                CallError::NoCall { .. } => {
                    "the language model did not call the query function".to_string()
                }
                other => other.to_string(),
            })?;
        let reply: Reply = serde_json::from_str(arguments.trim())
            .map_err(|_| "the language model's reply was malformed JSON".to_string())?;
        Ok(interpret(reply, model, conversation))
    }
}

#[async_trait]
impl Translator for LlmTranslator {
    async fn translate(
        &self,
        question: &str,
        model: &ModelDocument,
        conversation: &Conversation,
    ) -> Translation {
        match self.ask(question, model, conversation).await {
            Ok(parsed) => Translation {
                parsed,
                translator: TranslatorKind::Llm,
                note: None,
            },
            Err(reason) => {
                tracing::info!(%reason, "falling back to the offline parser");
                Translation {
                    note: Some(format!("{reason}; answered by the offline parser")),
                    ..OfflineTranslator.translate_now(question, model, conversation)
                }
            }
        }
    }

    async fn narrate(
        &self,
        question: &str,
        answer: &WhatIfAnswer,
        model: &ModelDocument,
    ) -> Option<String> {
        match super::narrative::write(self, question, answer, model).await {
            Ok(text) => Some(text),
            Err(reason) => {
                tracing::info!(%reason, "no narrative");
                None
            }
        }
    }
}

/// The arguments of a `whatif_query` call as the model wrote them; `op` and the
/// names are plain strings here so that an invented one can be refused by name.
#[derive(Debug, Deserialize)]
struct Reply {
    interventions: Vec<ReplyIntervention>,
    #[serde(default)]
    targets: Option<Vec<String>>,
    #[serde(default)]
    clarify: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ReplyIntervention {
    variable: String,
    op: String,
    value: f64,
}

/// The reply, checked: only names of the model and the three operations pass.
fn interpret(reply: Reply, model: &ModelDocument, conversation: &Conversation) -> Parsed {
    let names = || model.variables.iter().map(|v| v.name.as_str());
    let levers: Vec<String> = Vocabulary::from_model(model).names_with_role(Role::Lever);
    if reply.interventions.is_empty() {
        let message = reply
            .clarify
            .filter(|m| !m.trim().is_empty())
            .unwrap_or_else(|| "Which lever should change, and by how much?".to_string());
        return Parsed::Clarify {
            message,
            suggestions: levers,
        };
    }
    let mut interventions = Vec::new();
    for item in reply.interventions {
        if !names().any(|n| n == item.variable) {
            return refuse_name(&item.variable, model, false);
        }
        let op = match item.op.as_str() {
            "set" => Op::Set,
            "scale" => Op::Scale,
            "shift" => Op::Shift,
            other => {
                return Parsed::Clarify {
                    message: format!(
                        "The language model proposed the operation `{other}` on `{}`, which is not one of set, scale or shift. How should {} change?",
                        item.variable, item.variable
                    ),
                    suggestions: vec![item.variable],
                }
            }
        };
        interventions.push(Intervention::new(&item.variable, op, item.value));
    }
    if let Some(target) = reply
        .targets
        .iter()
        .flatten()
        .find(|t| !names().any(|n| n == t.as_str()))
    {
        return refuse_name(target, model, true);
    }
    let last = conversation.last.as_ref();
    let query = WhatIfQuery {
        model: last.and_then(|q| q.model.clone()),
        interventions,
        targets: reply.targets.filter(|t| !t.is_empty()),
        unit: last.and_then(|q| q.unit),
    };
    match query.validate(model) {
        Ok(()) => Parsed::Query(query),
        Err(error) => {
            let suggestions = match &error {
                QueryError::UnknownVariable {
                    suggestion: Some(s),
                    ..
                } => vec![s.clone()],
                _ => Vec::new(),
            };
            Parsed::Clarify {
                message: error.to_string(),
                suggestions,
            }
        }
    }
}

/// A name the model does not have: ask, listing the closest real ones.
fn refuse_name(name: &str, model: &ModelDocument, target: bool) -> Parsed {
    let vocabulary = Vocabulary::from_model(model);
    let mut suggestions: Vec<String> = vocabulary
        .lookup(name)
        .into_iter()
        .take(5)
        .map(|m| m.name)
        .collect();
    if let Some(close) = closest_name(name, model.variables.iter().map(|v| v.name.as_str())) {
        if !suggestions.iter().any(|s| s == close) {
            suggestions.insert(0, close.to_string());
        }
    }
    if suggestions.is_empty() {
        suggestions = vocabulary.names_with_role(if target { Role::Kpi } else { Role::Lever });
    }
    Parsed::Clarify {
        message: format!(
            "This model has no variable `{name}`. Did you mean one of: {}?",
            suggestions.join(", ")
        ),
        suggestions,
    }
}

/// The JSON schema of the function's arguments: the variable names and operations
/// enumerated, every field required (as strict mode wants), targets nullable.
pub fn schema(model: &ModelDocument) -> Value {
    let names: Vec<&str> = model.variables.iter().map(|v| v.name.as_str()).collect();
    json!({
        "type": "object",
        "properties": {
            "interventions": {
                "type": "array",
                "description": "The changes to the levers; empty when the question cannot be mapped.",
                "items": {
                    "type": "object",
                    "properties": {
                        "variable": {"type": "string", "enum": names},
                        "op": {
                            "type": "string",
                            "enum": ["set", "scale", "shift"],
                            "description": "scale multiplies (cut by 10% = 0.9), shift adds (cut by 500 = -500), set assigns"
                        },
                        "value": {"type": "number"}
                    },
                    "required": ["variable", "op", "value"],
                    "additionalProperties": false
                }
            },
            "targets": {
                "type": ["array", "null"],
                "description": "The variables asked about; null for every KPI downstream (\"which KPIs are affected?\").",
                "items": {"type": "string", "enum": names}
            },
            "clarify": {
                "type": ["string", "null"],
                "description": "A short question back when the question names something the model lacks or is unclear; null otherwise."
            }
        },
        "required": ["interventions", "targets", "clarify"],
        "additionalProperties": false
    })
}

/// The system message: the job, the model's variables with their labels and
/// aliases, the rules of the operations, and the last query for follow-ups.
fn instructions(model: &ModelDocument, conversation: &Conversation) -> String {
    let mut text = String::from(
        "You translate a what-if question about a causal model into one call of the function \
         `whatif_query`. You never answer the question and never compute numbers.\n\
         Operations: `scale` multiplies (cut by 10% = scale 0.9, raise by 5% = scale 1.05, \
         double = scale 2); `shift` adds (raise by 500 = shift 500, cut by 500 = shift -500); \
         `set` assigns a value (set price to 12 = set 12). `targets` lists the variables the \
         question asks about, or null when it asks which KPIs are affected or names none.\n\
         Use only these variable names; questions may use their labels or aliases, in any \
         language. If the question names something not listed, return no interventions and a \
         `clarify` question.\nVariables (name: label; aliases; role; kind; unit):\n",
    );
    for v in &model.variables {
        text.push_str(&format!(
            "- {}: {}; {}; {}; {}; {}\n",
            v.name,
            v.label,
            v.aliases.join(", "),
            v.role.name(),
            v.kind.name(),
            v.unit.as_deref().unwrap_or("-")
        ));
    }
    if let Some(last) = &conversation.last {
        if let Ok(json) = serde_json::to_string(last) {
            text.push_str(&format!(
                "The previous question of this conversation was translated to {json}. A \
                 follow-up (\"and if by 20%?\", \"what about returns?\") amends it: return the \
                 complete amended query.\n"
            ));
        }
    }
    text
}

#[cfg(test)]
pub(super) mod tests;
