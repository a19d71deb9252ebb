//! The Slack bot: `POST /slack/commands` (the `/whatif` slash command) and
//! `POST /slack/events` (the Events API: the URL-verification handshake and
//! `app_mention`s).
//!
//! Three things shape it:
//!
//! - **Only Slack is answered.** Every request is checked against the signing
//!   secret with Slack's v0 signature (HMAC-SHA256 of `v0:{timestamp}:{raw body}`,
//!   compared in constant time) before its body is even parsed, and a timestamp more
//!   than five minutes away from now is refused as a possible replay. A refused
//!   request gets a 401 and nothing is computed. Without a signing secret the
//!   endpoints answer 404 "Slack is not configured", so an unconfigured server
//!   cannot be made to post anywhere.
//! - **Slack waits three seconds.** A handler only verifies, parses and
//!   acknowledges; the answer is computed in a spawned task and posted afterwards —
//!   to the command's `response_url`, or through the Web API's `chat.postMessage`
//!   with the bot token for mentions (in the mention's thread). Outgoing requests
//!   have a bounded timeout and are retried on connection errors, 5xx and 429
//!   (honouring a bounded `Retry-After`).
//! - **One path computes numbers.** A question goes through the same
//!   [`Planner::ask`](crate::planner::Planner::ask) as the web chat, the answer
//!   becomes the web chat's [`AnswerView`] (labels and number formatting included),
//!   is kept in [`Sessions`](super::chat::Sessions) for its `/answers/{id}`
//!   permalink, and only then is laid out as Block Kit. Follow-ups ("and if by
//!   20%?") amend the last query of a [`Conversation`] kept per team, channel and
//!   user. Clarifying questions and errors go back ephemeral: only the asker sees
//!   them.
//!
//! `/whatif [factory] raise the safety factor by 5%` asks a named model; a follow-up
//! without brackets stays with the conversation's model.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Sha256;

use super::chat::{answer_view, AnswerView, StoredAnswer};
use super::AppState;
use crate::chat::Conversation;
use crate::config::{Secret, SlackSettings};
use crate::planner::{PlanError, Reply};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/slack/commands", post(command))
        .route("/slack/events", post(events))
}

/// How far a request's timestamp may be from now, either way (Slack's advice).
pub const MAX_AGE_SECS: u64 = 5 * 60;

/// Conversations kept at most; beyond it the least recently used is dropped.
const MAX_THREADS: usize = 10_000;

/// The bot: its settings, its HTTP client and its conversations.
pub struct Slack {
    signing_secret: Secret,
    bot_token: Option<Secret>,
    api_url: String,
    public_url: String,
    client: SlackClient,
    threads: Mutex<HashMap<String, Thread>>,
}

/// One asker's context in one channel.
#[derive(Clone, Default)]
struct Thread {
    model: Option<String>,
    conversation: Conversation,
    used: u64,
}

impl Slack {
    /// The bot of `settings`; answers link to pages under `public_url`. The error
    /// says why the HTTP client could not be built.
    pub fn new(settings: &SlackSettings, public_url: String) -> Result<Slack, String> {
        Ok(Slack {
            signing_secret: settings.signing_secret.clone(),
            bot_token: settings.bot_token.clone(),
            api_url: settings.api_url.trim_end_matches('/').to_string(),
            public_url: public_url.trim_end_matches('/').to_string(),
            client: SlackClient::new(Duration::from_secs(10), RetryPolicy::default())?,
            threads: Mutex::new(HashMap::new()),
        })
    }

    fn lock_threads(&self) -> std::sync::MutexGuard<'_, HashMap<String, Thread>> {
        // Every update is a single insert, so a poisoned lock holds consistent data.
        self.threads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn thread(&self, key: &str) -> Thread {
        self.lock_threads().get(key).cloned().unwrap_or_default()
    }

    fn keep_thread(&self, key: &str, mut thread: Thread) {
        thread.used = crate::clock::now_seconds();
        let mut threads = self.lock_threads();
        if threads.len() >= MAX_THREADS && !threads.contains_key(key) {
            if let Some(oldest) = threads
                .iter()
                .min_by_key(|(_, t)| t.used)
                .map(|(k, _)| k.clone())
            {
                threads.remove(&oldest);
            }
        }
        threads.insert(key.to_string(), thread);
    }
}

// ---------------------------------------------------------------------------
// Request verification

/// Why a request is refused as not coming from Slack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// No `X-Slack-Request-Timestamp` header.
    #[error("the X-Slack-Request-Timestamp header is missing")]
    MissingTimestamp,
    /// No `X-Slack-Signature` header.
    #[error("the X-Slack-Signature header is missing")]
    MissingSignature,
    /// The timestamp is not a number of seconds.
    #[error("X-Slack-Request-Timestamp is not a Unix time in seconds")]
    BadTimestamp,
    /// The timestamp is more than [`MAX_AGE_SECS`] away from now.
    #[error("the request's timestamp is more than five minutes from now (a replay?)")]
    Stale,
    /// The signature is not `v0=` and the HMAC of this body.
    #[error("the request signature does not match")]
    BadSignature,
}

fn mac(secret: &Secret, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac
}

/// Slack's v0 signature of `body` sent at `timestamp`: `v0=` and the hex HMAC.
pub fn sign(secret: &Secret, timestamp: &str, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    let mut out = String::from("v0=");
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// Checks that `body` with `headers` was signed by Slack with `secret` within
/// [`MAX_AGE_SECS`] of `now` (Unix seconds).
pub fn verify(
    secret: &Secret,
    headers: &HeaderMap,
    body: &[u8],
    now: u64,
) -> Result<(), VerifyError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let timestamp = header("x-slack-request-timestamp").ok_or(VerifyError::MissingTimestamp)?;
    let signature = header("x-slack-signature").ok_or(VerifyError::MissingSignature)?;
    let sent: u64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    if sent.abs_diff(now) > MAX_AGE_SECS {
        return Err(VerifyError::Stale);
    }
    let given = signature
        .strip_prefix("v0=")
        .and_then(hex)
        .ok_or(VerifyError::BadSignature)?;
    // `verify_slice` compares in constant time.
    mac(secret, timestamp, body)
        .verify_slice(&given)
        .map_err(|_| VerifyError::BadSignature)
}

/// Lower- or upper-case hex digits, two per byte; anything else is `None`.
fn hex(text: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| char::from(c).to_digit(16);
    text.as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [high, low] => Some((digit(*high)? << 4 | digit(*low)?) as u8),
            _ => None,
        })
        .collect()
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

/// Why a request to `/slack/*` is not handled.
enum Refused {
    /// No signing secret is configured.
    NotConfigured,
    /// The request is not Slack's.
    Unverified(VerifyError),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::NotConfigured => error(
                StatusCode::NOT_FOUND,
                "slack_not_configured",
                "Slack is not configured on this server: set CAUSEWAY_SLACK_SIGNING_SECRET (slack_signing_secret in causeway.toml)",
            ),
            Refused::Unverified(reason) => {
                error(StatusCode::UNAUTHORIZED, "bad_signature", &reason.to_string())
            }
        }
    }
}

/// The bot, if the request is Slack's.
fn verified(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Arc<Slack>, Refused> {
    let slack = state.slack.clone().ok_or(Refused::NotConfigured)?;
    verify(
        &slack.signing_secret,
        headers,
        body,
        crate::clock::now_seconds(),
    )
    .map_err(|reason| {
        tracing::warn!(%reason, "refused a Slack request");
        Refused::Unverified(reason)
    })?;
    Ok(slack)
}

// ---------------------------------------------------------------------------
// Handlers

/// The fields of a slash-command request that matter here.
#[derive(Debug, Deserialize)]
struct CommandForm {
    #[serde(default)]
    text: String,
    #[serde(default)]
    team_id: String,
    #[serde(default)]
    channel_id: String,
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    response_url: String,
    /// `1` when Slack only checks the server's certificate.
    #[serde(default)]
    ssl_check: String,
}

#[tracing::instrument(name = "slack_command", skip_all)]
async fn command(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let slack = match verified(&state, &headers, &body) {
        Ok(slack) => slack,
        Err(refused) => return refused.into_response(),
    };
    let form: CommandForm = match serde_urlencoded::from_bytes(&body) {
        Ok(form) => form,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("not a slash-command form: {e}"),
            )
        }
    };
    if form.ssl_check == "1" {
        return StatusCode::OK.into_response();
    }
    if !(form.response_url.starts_with("https://") || form.response_url.starts_with("http://")) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the slash command has no response_url to answer at",
        );
    }
    let text = clean_text(&form.text);
    if text.is_empty() || text.eq_ignore_ascii_case("help") {
        return Json(ephemeral(HELP)).into_response();
    }
    let key = format!("{}:{}:{}", form.team_id, form.channel_id, form.user_id);
    let acknowledgement = ephemeral(&format!("Working on it: “{}”", escape(&text)));
    tokio::spawn(async move {
        let message = match respond(&state, &slack, &key, &text).await {
            Message::Answer(mut payload) => {
                payload["response_type"] = "in_channel".into();
                payload
            }
            Message::Ephemeral(text) => ephemeral(&text),
        };
        if let Err(e) = slack.client.post(&form.response_url, None, &message).await {
            tracing::error!(cause = %e, "posting a slash-command answer failed");
        }
    });
    Json(acknowledgement).into_response()
}

/// An Events API request: the handshake, an event, or something not handled.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Envelope {
    UrlVerification {
        challenge: String,
    },
    EventCallback {
        #[serde(default)]
        team_id: String,
        event: Event,
    },
    #[serde(other)]
    Other,
}

/// The fields of an event that matter here.
#[derive(Debug, Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    ts: Option<String>,
    #[serde(default)]
    thread_ts: Option<String>,
    #[serde(default)]
    bot_id: Option<String>,
}

#[tracing::instrument(name = "slack_event", skip_all)]
async fn events(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let slack = match verified(&state, &headers, &body) {
        Ok(slack) => slack,
        Err(refused) => return refused.into_response(),
    };
    let envelope: Envelope = match serde_json::from_slice(&body) {
        Ok(envelope) => envelope,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("not an Events API request: {e}"),
            )
        }
    };
    match envelope {
        Envelope::UrlVerification { challenge } => {
            Json(json!({ "challenge": challenge })).into_response()
        }
        Envelope::EventCallback { team_id, event } => {
            // Slack resends an event it thinks went unacknowledged; the first
            // delivery was acknowledged at once and is being answered already.
            if headers.contains_key("x-slack-retry-num") {
                return StatusCode::OK.into_response();
            }
            // A bot's own messages are never answered, so two bots cannot loop.
            if event.kind == "app_mention" && event.bot_id.is_none() {
                if slack.bot_token.is_none() {
                    tracing::warn!("a mention arrived but CAUSEWAY_SLACK_BOT_TOKEN is not set, so it cannot be answered");
                } else {
                    tokio::spawn(async move { mention(&state, &slack, &team_id, event).await });
                }
            }
            StatusCode::OK.into_response()
        }
        Envelope::Other => StatusCode::OK.into_response(),
    }
}

/// Answers a mention in its thread (clarifications and errors only to its author).
async fn mention(state: &AppState, slack: &Slack, team_id: &str, event: Event) {
    let text = clean_text(&event.text);
    let thread_ts = event.thread_ts.clone().or(event.ts.clone());
    let (method, mut payload) = if text.is_empty() || text.eq_ignore_ascii_case("help") {
        (
            "chat.postEphemeral",
            json!({ "text": HELP, "user": event.user }),
        )
    } else {
        let key = format!("{team_id}:{}:{}", event.channel, event.user);
        match respond(state, slack, &key, &text).await {
            Message::Answer(payload) => ("chat.postMessage", payload),
            Message::Ephemeral(text) => (
                "chat.postEphemeral",
                json!({ "text": text, "user": event.user }),
            ),
        }
    };
    payload["channel"] = event.channel.into();
    if let Some(ts) = thread_ts {
        payload["thread_ts"] = ts.into();
    }
    let url = format!("{}/{method}", slack.api_url);
    match slack
        .client
        .post(&url, slack.bot_token.as_ref(), &payload)
        .await
    {
        Ok(reply) if reply["ok"] == Value::Bool(true) => {}
        Ok(reply) => tracing::error!(%method, error = %reply["error"], "Slack refused an answer"),
        Err(e) => tracing::error!(cause = %e, %method, "posting a mention's answer failed"),
    }
}

// ---------------------------------------------------------------------------
// Questions to messages

/// What goes back to Slack.
#[derive(Debug)]
enum Message {
    /// The answer as a message payload (`text` and `blocks`).
    Answer(Value),
    /// A clarifying question or an error, for the asker only (mrkdwn).
    Ephemeral(String),
}

const HELP: &str = "Ask what-if questions of the causal models, e.g. `/whatif If we cut TV ads by 10%, what happens to store sales?` or `/whatif 如果把電視廣告減少10%，門市銷售會怎樣？`; follow up with `/whatif and if by 20%?`. Name a model with `/whatif [factory] …`.";

/// Asks the planner within the conversation `key` and lays out the reply.
async fn respond(state: &AppState, slack: &Slack, key: &str, text: &str) -> Message {
    let (named, question) = split_model(text);
    let mut thread = slack.thread(key);
    // A new model starts a new context: a follow-up never crosses models.
    if named.is_some() && named != thread.model {
        thread.conversation = Conversation::new();
        thread.model = named;
    }
    let reply = state
        .planner
        .ask(thread.model.as_deref(), question, &mut thread.conversation)
        .await;
    let message = match reply {
        Ok(Reply::Answer { answer, note }) => {
            match state.planner.model(Some(&answer.model)).await {
                Ok(loaded) => {
                    let mut view = answer_view(&answer, &loaded.document, note);
                    view.id = state.sessions.keep_answer(StoredAnswer {
                        question: Some(text.to_string()),
                        view: view.clone(),
                    });
                    let link = format!("{}/answers/{}", slack.public_url, view.id);
                    Message::Answer(answer_message(&view, &link))
                }
                Err(e) => plan_error(&e),
            }
        }
        Ok(Reply::Clarify {
            message,
            suggestions,
            note,
            ..
        }) => {
            let mut text = escape(&message);
            if !suggestions.is_empty() {
                text.push_str("\nClosest variables: ");
                text.push_str(
                    &suggestions
                        .iter()
                        .map(|s| format!("`{}`", escape(s)))
                        .collect::<Vec<_>>()
                        .join(", "),
                );
            }
            if let Some(note) = note {
                text.push_str(&format!("\n_{}_", escape(&note)));
            }
            Message::Ephemeral(text)
        }
        Err(e) => plan_error(&e),
    };
    slack.keep_thread(key, thread);
    message
}

fn plan_error(error: &PlanError) -> Message {
    if super::api::plan_error_status(error).is_server_error() {
        tracing::error!(cause = %error, "Slack question failed");
        return Message::Ephemeral(
            "Something went wrong on our side; the server log has the details.".into(),
        );
    }
    Message::Ephemeral(format!(":warning: {}", escape(&error.to_string())))
}

/// `[name] question` → the model named and the question.
fn split_model(text: &str) -> (Option<String>, &str) {
    let trimmed = text.trim();
    if let Some((name, question)) = trimmed
        .strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
    {
        let name = name.trim();
        if !name.is_empty() && !name.contains(char::is_whitespace) {
            return (Some(name.to_string()), question.trim());
        }
    }
    (None, trimmed)
}

/// Slack's message text as the person typed it: mentions of users (the bot) and
/// of groups (`<!here>`) removed, channels and links by their names, `&amp;`,
/// `&lt;`, `&gt;` undone, runs of white space as one space.
pub fn clean_text(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(length) = rest[start..].find('>') else {
            // Slack escapes a typed `<`, so this is not markup: keep it as it is.
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let inner = &rest[start + 1..start + length];
        let label = inner.split_once('|').map(|(_, label)| label);
        match inner.chars().next() {
            // `<@U123>`, `<!here>`, `<!subteam^S1|@team>`: who is addressed, not
            // part of the question.
            Some('@' | '!') => {}
            Some('#') => {
                let name = label.unwrap_or(&inner[1..]);
                out.push('#');
                out.push_str(name.trim_start_matches('#'));
            }
            _ => out.push_str(label.unwrap_or(inner)),
        }
        rest = &rest[start + length + 1..];
    }
    out.push_str(rest);
    let out = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Text made safe for mrkdwn, where `&`, `<` and `>` are control characters.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn ephemeral(text: &str) -> Value {
    json!({ "response_type": "ephemeral", "text": text })
}

/// Cuts `text` to at most `max` characters (Block Kit refuses longer texts).
fn truncated(text: String, max: usize) -> String {
    if text.chars().count() <= max {
        return text;
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

fn section(text: String) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": truncated(text, 3000)}})
}

/// Sections of KPI fields at most (10 fields each), to stay under Block Kit's 50
/// blocks; the rest is on the answer page.
const MAX_FIELD_SECTIONS: usize = 4;

/// An answer as a Slack message: `text` (the headline, for notifications) and
/// Block Kit `blocks` — the headline, one field per KPI with its change and 95%
/// interval, the unaffected KPIs, each KPI's main path, the warnings, and a link to
/// `link`, the full answer page.
pub fn answer_message(view: &AnswerView, link: &str) -> Value {
    let mut blocks = vec![section(format!("*{}*", escape(&view.headline)))];
    let mut context = format!(
        "{} answer · model `{}` · read by the {} parser",
        view.kind,
        escape(&view.model_id),
        escape(&view.translator)
    );
    if let Some(note) = &view.note {
        context.push_str(&format!(" · {}", escape(note)));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": truncated(context, 3000)}]}));
    // The language model's narrative only as it passed the check, with the check.
    if let Some(narrative) = view.narrative.as_ref().filter(|n| !n.text.is_empty()) {
        blocks.push(section(escape(&narrative.text)));
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": truncated(escape(&narrative.summary), 3000)}]}));
    }
    for chunk in view.rows.chunks(10).take(MAX_FIELD_SECTIONS) {
        let fields: Vec<Value> = chunk
            .iter()
            .map(|row| {
                let text = format!(
                    "*{}*\n{} ({})\n95% CI {}\n{} → {}",
                    escape(&row.label),
                    row.change,
                    row.change_pct,
                    row.interval,
                    row.baseline,
                    row.after
                );
                json!({"type": "mrkdwn", "text": truncated(text, 2000)})
            })
            .collect();
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    let shown = 10 * MAX_FIELD_SECTIONS;
    if view.rows.len() > shown {
        blocks.push(section(format!(
            "…and {} more KPIs on the full answer page.",
            view.rows.len() - shown
        )));
    }
    if !view.unaffected.is_empty() {
        blocks.push(section(format!(
            "*Unaffected* (no causal path reaches them): {}",
            escape(&view.unaffected.join(", "))
        )));
    }
    let main_paths: Vec<String> = view
        .rows
        .iter()
        .take(shown)
        .filter_map(|row| {
            row.paths.first().map(|path| {
                format!(
                    "• {}: {} ({})",
                    escape(&row.label),
                    escape(&path.text),
                    escape(&path.share)
                )
            })
        })
        .collect();
    if !main_paths.is_empty() {
        blocks.push(section(format!("*Main path*\n{}", main_paths.join("\n"))));
    }
    if !view.warnings.is_empty() {
        blocks.push(section(format!(
            "*Warnings*\n{}",
            view.warnings
                .iter()
                .map(|w| format!(":warning: {}", escape(w)))
                .collect::<Vec<_>>()
                .join("\n")
        )));
    }
    blocks.push(section(format!(
        "<{link}|Full answer: every path, the picture and the assumptions>"
    )));
    json!({ "text": truncated(escape(&view.headline), 3000), "blocks": blocks })
}

// ---------------------------------------------------------------------------
// Outgoing HTTP

/// How often and how patiently a post to Slack is retried.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Tries in all, the first included.
    pub attempts: u32,
    /// The wait after the first failure; it doubles after each further one.
    pub backoff: Duration,
    /// The longest `Retry-After` of a 429 that is waited for.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            backoff: Duration::from_millis(500),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

/// Why a post to Slack failed after its retries.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Slack answered with an error status.
    #[error("Slack answered HTTP {status}: {body}")]
    Status {
        /// The status code.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The request did not get through (connection, timeout).
    #[error("the request to Slack failed: {0}")]
    Transport(String),
    /// The client could not be built or the body serialised.
    #[error("{0}")]
    Client(String),
}

/// JSON posts to Slack with a bounded timeout and retries.
pub struct SlackClient {
    http: reqwest::Client,
    retry: RetryPolicy,
}

impl SlackClient {
    /// A client whose every try gives up after `timeout`.
    pub fn new(timeout: Duration, retry: RetryPolicy) -> Result<SlackClient, String> {
        // reqwest is built without a default crypto provider; ring is the one the
        // process uses. An error here only means one is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|e| format!("building the HTTP client: {e}"))?;
        Ok(SlackClient { http, retry })
    }

    /// Posts `body` as JSON to `url` (with `token` as a bearer token, if given) and
    /// returns the reply's JSON (a JSON string when the reply is not JSON, as
    /// `response_url`'s plain `ok`). Connection errors, timeouts and 5xx are retried
    /// with backoff, 429 after its `Retry-After` (bounded); other 4xx are not.
    pub async fn post(
        &self,
        url: &str,
        token: Option<&Secret>,
        body: &Value,
    ) -> Result<Value, SendError> {
        let bytes = serde_json::to_vec(body).map_err(|e| SendError::Client(e.to_string()))?;
        let mut last = SendError::Client("no attempt was made".into());
        let mut backoff = self.retry.backoff;
        for attempt in 1..=self.retry.attempts.max(1) {
            let mut request = self
                .http
                .post(url)
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/json; charset=utf-8",
                )
                .body(bytes.clone());
            if let Some(token) = token {
                request = request.bearer_auth(token.expose());
            }
            let wait = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    // The body of a failed reply only goes to the log; URLs (the
                    // response_url is a credential of sorts) never do.
                    let text = response.text().await.unwrap_or_default();
                    if status.is_success() {
                        return Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)));
                    }
                    last = SendError::Status {
                        status: status.as_u16(),
                        body: text.chars().take(200).collect(),
                    };
                    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                        retry_after
                            .unwrap_or(backoff)
                            .min(self.retry.max_retry_after)
                    } else if status.is_server_error() {
                        backoff
                    } else {
                        return Err(last);
                    }
                }
                Err(e) => {
                    last = SendError::Transport(e.without_url().to_string());
                    backoff
                }
            };
            if attempt < self.retry.attempts {
                tracing::warn!(attempt, cause = %last, "posting to Slack failed; retrying");
                tokio::time::sleep(wait).await;
                backoff *= 2;
            }
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests;
