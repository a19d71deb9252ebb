//! [`LlmClient`]: one forced function call to an OpenAI-compatible chat-completions
//! endpoint, shared by the chat's translator ([`crate::chat::llm`]) and
//! `causeway draft`.
//!
//! Both ask the language model for structured data, so both use the same shape of
//! request: a system message, a user message, and one function the model must
//! call, whose JSON schema describes the arguments (strict mode, temperature 0).
//! The answer's narrative ([`crate::chat::narrative`]) is the one plain-text
//! request, [`LlmClient::complete_text`], checked claim by claim before it is shown. What the arguments mean, and how far they are trusted, is the caller's
//! business; this module only gets them back, or says in a [`CallError`] why not.
//!
//! The transport is rustls with the ring provider (see the workspace manifest for
//! why not aws-lc-rs); the client is built from [`LlmSettings`] only, never from the
//! `OPENAI_*` environment variables the crate would otherwise read.

use std::time::Duration;

use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionMessageToolCalls, ChatCompletionNamedToolChoice, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    ChatCompletionResponseMessage, ChatCompletionTool, ChatCompletionToolChoiceOption,
    ChatCompletionTools, CreateChatCompletionRequest, CreateChatCompletionRequestArgs,
    FunctionName, FunctionObject,
};
use async_openai::Client;
use serde_json::Value;

use crate::config::LlmSettings;

/// Why an [`LlmClient`] could not be built from its settings.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// A setting that cannot be used as given.
    #[error("LLM settings: {0}")]
    Settings(String),
}

/// Why a function call brought back no arguments. The messages are short enough
/// to show a user as they are; [`CallError::Failed`] keeps the server's own words
/// apart, for callers that can show them.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The request could not be put together (a bug, or a schema the crate refuses).
    #[error("the request could not be built ({0})")]
    Build(String),
    /// No reply within the configured timeout.
    #[error("the language model did not answer within {seconds} s")]
    Timeout {
        /// The timeout, in seconds.
        seconds: f64,
    },
    /// The body of the reply was not a chat completion.
    #[error("the language model's reply was not the JSON expected")]
    NotJson,
    /// The endpoint could not be reached, or answered with an HTTP or API error.
    #[error("the language model could not be reached or answered with an error")]
    Failed {
        /// What the transport or the server said, on one line.
        detail: String,
    },
    /// The completion held no choice at all.
    #[error("the language model's reply had no choices")]
    NoChoices,
    /// The model answered in prose instead of calling the function.
    #[error("the language model did not call the function `{function}`")]
    NoCall {
        /// The function it was told to call.
        function: String,
    },
}

/// The function the model is made to call.
#[derive(Clone, Debug)]
pub struct FunctionSpec {
    /// Its name.
    pub name: String,
    /// What it is for, as the model reads it.
    pub description: String,
    /// The JSON schema of its arguments; strict mode wants every property required
    /// and `additionalProperties: false` on every object.
    pub parameters: Value,
}

/// A chat-completions client with its model name and timeout.
#[derive(Clone, Debug)]
pub struct LlmClient {
    client: Client<OpenAIConfig>,
    model: String,
    timeout: Duration,
}

impl LlmClient {
    /// A client for the endpoint, key, model and timeout in `settings`.
    ///
    /// # Errors
    /// [`LlmError::Settings`] for a key that cannot be an HTTP header or a base URL
    /// that is not http(s).
    pub fn new(settings: &LlmSettings) -> Result<Self, LlmError> {
        let key = settings.api_key.expose();
        // async-openai turns the key into an HTTP header and panics on one that
        // cannot be; refuse it here, where it is a settings mistake.
        if key.chars().any(|c| !(' '..='~').contains(&c)) {
            return Err(LlmError::Settings(
                "the API key (CAUSEWAY_LLM_API_KEY) may only hold printable ASCII characters"
                    .into(),
            ));
        }
        let base_url = settings.base_url.trim_end_matches('/');
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(LlmError::Settings(format!(
                "the base URL (CAUSEWAY_LLM_BASE_URL) must start with http:// or https://, not `{base_url}`"
            )));
        }
        // reqwest is built without a default crypto provider; ring is the one the
        // process uses. An error here only means one is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = OpenAIConfig::new()
            .with_api_base(base_url)
            .with_api_key(key)
            .with_org_id("")
            .with_project_id("");
        Ok(LlmClient {
            client: Client::with_config(config),
            model: settings.model.clone(),
            timeout: settings.timeout,
        })
    }

    /// The same client with another timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends `system` and `user` and makes the model call `function`; returns the
    /// call's arguments as the model wrote them (unparsed: JSON, if it kept to the
    /// schema). Some servers put the JSON in the message content instead of a tool
    /// call; that content is returned too.
    ///
    /// # Errors
    /// A [`CallError`] saying what went wrong; the call is never retried.
    pub async fn call_function(
        &self,
        system: &str,
        user: &str,
        function: &FunctionSpec,
    ) -> Result<String, CallError> {
        let request = self
            .request(system, user)
            .tools(vec![ChatCompletionTools::Function(ChatCompletionTool {
                function: FunctionObject {
                    name: function.name.clone(),
                    description: Some(function.description.clone()),
                    parameters: Some(function.parameters.clone()),
                    strict: Some(true),
                },
            })])
            .tool_choice(ChatCompletionToolChoiceOption::Function(
                ChatCompletionNamedToolChoice {
                    function: FunctionName {
                        name: function.name.clone(),
                    },
                },
            ))
            .build()
            .map_err(|e| CallError::Build(e.to_string()))?;
        let message = self.send(request).await?;
        message
            .tool_calls
            .into_iter()
            .flatten()
            .find_map(|call| match call {
                ChatCompletionMessageToolCalls::Function(f) => Some(f.function.arguments),
                _ => None,
            })
            .or(message.content)
            .ok_or_else(|| CallError::NoCall {
                function: function.name.clone(),
            })
    }

    /// Sends `system` and `user` and returns the model's reply as text, with no
    /// function to call (the answer's narrative). An empty reply is an empty string.
    ///
    /// # Errors
    /// A [`CallError`] saying what went wrong; the call is never retried.
    pub async fn complete_text(&self, system: &str, user: &str) -> Result<String, CallError> {
        let request = self
            .request(system, user)
            .build()
            .map_err(|e| CallError::Build(e.to_string()))?;
        Ok(self.send(request).await?.content.unwrap_or_default())
    }

    /// The request every call starts from: this client's model, `system` and
    /// `user`, temperature 0.
    fn request(&self, system: &str, user: &str) -> CreateChatCompletionRequestArgs {
        let mut request = CreateChatCompletionRequestArgs::default();
        request
            .model(self.model.clone())
            .messages(vec![
                ChatCompletionRequestMessage::System(ChatCompletionRequestSystemMessage::from(
                    system,
                )),
                ChatCompletionRequestMessage::User(ChatCompletionRequestUserMessage::from(user)),
            ])
            .temperature(0.0);
        request
    }

    /// Sends `request` within the timeout and returns the first choice's message.
    async fn send(
        &self,
        request: CreateChatCompletionRequest,
    ) -> Result<ChatCompletionResponseMessage, CallError> {
        let response = tokio::time::timeout(self.timeout, self.client.chat().create(request))
            .await
            .map_err(|_| CallError::Timeout {
                seconds: self.timeout.as_secs_f64(),
            })?
            .map_err(|e| {
                tracing::warn!(error = %e, "language model call failed");
                match e {
                    OpenAIError::JSONDeserialize(..) => CallError::NotJson,
                    other => CallError::Failed {
                        detail: failure_detail(&other),
                    },
                }
            })?;
        response
            .choices
            .into_iter()
            .next()
            .map(|choice| choice.message)
            .ok_or(CallError::NoChoices)
    }
}

/// What the transport or the server said, on one line. async-openai keeps the
/// raw body of a 5xx reply as the message (servers need not send JSON then); when
/// it is the usual `{"error": {"message": …}}`, the message alone is enough.
fn failure_detail(error: &OpenAIError) -> String {
    let text = match error {
        OpenAIError::ApiError(response) => {
            serde_json::from_str::<Value>(&response.api_error.message)
                .ok()
                .and_then(|body| body["error"]["message"].as_str().map(str::to_string))
                .map_or_else(
                    || response.to_string(),
                    |message| format!("{}: {message}", response.status_code),
                )
        }
        other => other.to_string(),
    };
    one_line(&text)
}

/// An error message on one line and of a readable length: servers may answer with
/// a multi-line page.
fn one_line(text: &str) -> String {
    const LIMIT: usize = 300;
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(LIMIT) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    #[test]
    fn bad_settings_are_refused() {
        for (base_url, key) in [("ftp://x", "k"), ("http://x/v1", "bad\nkey")] {
            let result = LlmClient::new(&LlmSettings {
                base_url: base_url.into(),
                api_key: Secret::new(key),
                model: "m".into(),
                timeout: Duration::from_secs(1),
            });
            assert!(result.is_err(), "{base_url} {key:?}");
        }
    }

    #[test]
    fn error_details_fit_on_one_line() {
        assert_eq!(one_line("502 Bad\n  Gateway\n"), "502 Bad Gateway");
        let long = "x".repeat(400);
        let short = one_line(&long);
        assert_eq!(short.chars().count(), 301);
        assert!(short.ends_with('…'));
    }
}
