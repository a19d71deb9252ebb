//! The web chat: `GET /` with a model picker and suggested questions, `POST /chat`
//! (a plain form post that works without JavaScript), `POST /chat/turn` (the same
//! turn as an HTML fragment, which the page's small script appends in place), and
//! `GET /answers/{id}` (one answer on a page of its own, which Slack links to).
//!
//! Conversations live in memory by an unguessable id kept in the page's form, so a
//! follow-up ("and if by 20%?") amends the last query of its own conversation.
//! Every number on the page comes from the planner, i.e. the what-if engine.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use axum::extract::{Extension, Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use causeway_estimators::format::number;
use causeway_estimators::model::{ModelDocument, Role};
use causeway_estimators::scm::AnswerKind;
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::svg::paths_picture;
use super::AppState;
use crate::chat::narrative::Action;
use crate::chat::vocabulary::is_cjk;
use crate::chat::Conversation;
use crate::engine::WhatIfAnswer;
use crate::planner::{labels_of, PlanError, Reply};
use crate::store::{traversal, MAX_DEPTH};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(page))
        .route("/chat", post(ask_form))
        .route("/chat/turn", post(ask_fragment))
        .route("/answers/{id}", get(answer_page))
}

/// Conversations and recent answers, in memory.
#[derive(Default)]
pub struct Sessions {
    conversations: Mutex<HashMap<String, Session>>,
    answers: Mutex<VecDeque<(String, StoredAnswer)>>,
}

/// Conversations kept at most; beyond it the oldest are dropped.
const MAX_CONVERSATIONS: usize = 10_000;
/// Answers kept for their permalinks.
const MAX_ANSWERS: usize = 2_000;
/// Turns kept per conversation.
const MAX_TURNS: usize = 50;

#[derive(Clone, Default)]
struct Session {
    model: Option<String>,
    conversation: Conversation,
    turns: Vec<String>,
    created: u64,
    /// The model version the last answer was computed on, and when (seconds).
    answered_with: Option<(String, u64)>,
}

/// How long a conversation counts as using the version of its last answer: a
/// version someone asked about in the last day is not deleted without `force`.
pub const IN_USE_SECONDS: u64 = 24 * 60 * 60;

/// An answer kept for its permalink.
#[derive(Clone)]
pub struct StoredAnswer {
    /// The question it answered, if it came from one.
    pub question: Option<String>,
    /// What the answer page shows.
    pub view: AnswerView,
}

impl Sessions {
    fn lock_conversations(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // Every update is a single insert or replace, so a poisoned lock holds
        // consistent data.
        self.conversations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock_answers(&self) -> std::sync::MutexGuard<'_, VecDeque<(String, StoredAnswer)>> {
        self.answers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn session(&self, id: &str) -> Option<Session> {
        self.lock_conversations().get(id).cloned()
    }

    fn save(&self, id: &str, session: Session) {
        let mut conversations = self.lock_conversations();
        if conversations.len() >= MAX_CONVERSATIONS && !conversations.contains_key(id) {
            if let Some(oldest) = conversations
                .iter()
                .min_by_key(|(_, s)| s.created)
                .map(|(k, _)| k.clone())
            {
                conversations.remove(&oldest);
            }
        }
        conversations.insert(id.to_string(), session);
    }

    /// How many conversations use model version `model_id` (`retail@2`): their
    /// last answer, within [`IN_USE_SECONDS`], was computed on it.
    pub fn conversations_using(&self, model_id: &str) -> usize {
        let now = now_seconds();
        self.lock_conversations()
            .values()
            .filter(|session| {
                session.answered_with.as_ref().is_some_and(|(used, at)| {
                    used == model_id && now.saturating_sub(*at) <= IN_USE_SECONDS
                })
            })
            .count()
    }

    /// Keeps an answer for its permalink (setting the view's id) and returns its id.
    pub fn keep_answer(&self, mut answer: StoredAnswer) -> String {
        let id = new_id();
        answer.view.id = id.clone();
        let mut answers = self.lock_answers();
        if answers.len() >= MAX_ANSWERS {
            answers.pop_front();
        }
        answers.push_back((id.clone(), answer));
        id
    }

    /// A kept answer.
    pub fn answer(&self, id: &str) -> Option<StoredAnswer> {
        self.lock_answers()
            .iter()
            .find(|(k, _)| k == id)
            .map(|(_, a)| a.clone())
    }
}

/// An unguessable id (128 random bits, hex).
fn new_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn now_seconds() -> u64 {
    crate::clock::now_seconds()
}

/// One KPI row of an answer as the page shows it.
#[derive(Clone, Debug, Serialize)]
pub struct RowView {
    /// The KPI's variable name (`store_sales`, `plan=pro`).
    pub name: String,
    /// Its name for people.
    pub label: String,
    /// Its value without the change.
    pub baseline: String,
    /// Its value with the change.
    pub after: String,
    /// The change, signed.
    pub change: String,
    /// The change in percent of the baseline, signed (`—` when the baseline is 0).
    pub change_pct: String,
    /// The 95% interval of the change (`—` when none was computed).
    pub interval: String,
    /// `up`, `down` or `flat`.
    pub direction: &'static str,
    /// The causal paths that carry the change, largest share first.
    pub paths: Vec<PathView>,
}

/// One causal path with its share.
#[derive(Clone, Debug, Serialize)]
pub struct PathView {
    /// The path in labels, `a → b → c`.
    pub text: String,
    /// Its share of the change, in words.
    pub share: String,
}

/// An answer as the templates show it: numbers formatted, names as labels.
#[derive(Clone, Debug, Serialize)]
pub struct AnswerView {
    /// Permalink id.
    pub id: String,
    /// One sentence.
    pub headline: String,
    /// `interventional` or `counterfactual`.
    pub kind: &'static str,
    /// What the kind means, in plain words.
    pub kind_sentence: String,
    /// `name@version`.
    pub model_id: String,
    /// Where the model can be read: its page in the model browser (the JSON is at
    /// `/api/v1` + the same path).
    pub model_link: String,
    /// Which parser read the question.
    pub translator: String,
    /// Why the configured translator was not the one used, if so.
    pub note: Option<String>,
    /// One row per KPI that changes.
    pub rows: Vec<RowView>,
    /// How path shares were computed, in a sentence.
    pub path_method: String,
    /// The picture of the paths (inline SVG).
    pub svg: String,
    /// The KPIs no causal path reaches, as labels.
    pub unaffected: Vec<String>,
    /// Where the answer is on thin ice.
    pub warnings: Vec<String>,
    /// What the answer rests on.
    pub assumptions: Vec<String>,
    /// The language model's checked narrative, when one is configured.
    pub narrative: Option<NarrativeView>,
}

/// A checked narrative on the page: the text shown, the check's summary, and the
/// claims that were corrected or removed.
#[derive(Clone, Debug, Serialize)]
pub struct NarrativeView {
    /// The sentences that passed the check.
    pub text: String,
    /// How many claims were checked, kept, corrected and removed.
    pub summary: String,
    /// Each corrected or removed claim with the reason.
    pub changes: Vec<String>,
}

/// The page view of an answer.
pub fn answer_view(
    answer: &WhatIfAnswer,
    document: &ModelDocument,
    note: Option<String>,
) -> AnswerView {
    let labels = labels_of(document);
    let label = |name: &str| -> String {
        match name.split_once('=') {
            Some((variable, level)) if !labels.contains_key(name) => format!(
                "{} = {level}",
                labels
                    .get(variable)
                    .cloned()
                    .unwrap_or_else(|| variable.to_string())
            ),
            _ => labels
                .get(name)
                .cloned()
                .unwrap_or_else(|| name.to_string()),
        }
    };
    let rows = answer
        .effects
        .iter()
        .map(|e| RowView {
            name: e.target.clone(),
            label: label(&e.target),
            baseline: number(e.baseline),
            after: number(e.intervened),
            change: signed(e.change),
            change_pct: e.change_pct.map_or_else(
                || "—".to_string(),
                |p| format!("{}{:.1}%", sign(p), p.abs()),
            ),
            interval: match (e.ci_low, e.ci_high) {
                (Some(low), Some(high)) => format!("{} to {}", signed(low), signed(high)),
                _ => "—".to_string(),
            },
            direction: if e.change > 0.0 {
                "up"
            } else if e.change < 0.0 {
                "down"
            } else {
                "flat"
            },
            paths: e
                .paths
                .iter()
                .map(|p| PathView {
                    text: p
                        .nodes
                        .iter()
                        .map(|n| label(n))
                        .collect::<Vec<_>>()
                        .join(" → "),
                    share: p.share.map_or_else(
                        || "share not computed".into(),
                        |s| format!("{:.0}% of the change", 100.0 * s),
                    ),
                })
                .collect(),
        })
        .collect();
    let kind_sentence = match answer.kind {
        AnswerKind::Interventional => {
            "Interventional: the average over the whole population if the change were made for everyone it applies to.".to_string()
        }
        AnswerKind::Counterfactual => format!(
            "Counterfactual: what this one unit (row {}) would have shown, given what it actually showed.",
            answer.query.unit.unwrap_or_default()
        ),
    };
    let mut methods: Vec<String> = answer
        .effects
        .iter()
        .map(|e| e.path_method.clone())
        .collect();
    methods.dedup();
    AnswerView {
        id: String::new(),
        headline: answer.headline(&|n: &str| label(n)),
        kind: answer.kind.name(),
        kind_sentence,
        model_id: answer.model.clone(),
        model_link: format!("/models/{}", answer.model),
        translator: answer.translator.clone().unwrap_or_else(|| "query".into()),
        note,
        rows,
        path_method: if methods.is_empty() {
            String::new()
        } else {
            format!("Path shares: {}.", methods.join("; "))
        },
        svg: paths_picture(answer, document),
        unaffected: answer.unaffected.iter().map(|n| label(n)).collect(),
        warnings: answer.warnings.clone(),
        assumptions: answer.assumptions.clone(),
        narrative: answer.narrative.as_ref().map(|n| NarrativeView {
            text: n.text.clone(),
            summary: n.summary(),
            changes: n
                .claims
                .iter()
                .filter(|c| c.action != Action::Kept)
                .map(|c| format!("{} “{}”: {}", action_word(c.action), c.sentence, c.note))
                .collect(),
        }),
    }
}

fn action_word(action: Action) -> &'static str {
    match action {
        Action::Kept => "kept",
        Action::Corrected => "corrected",
        Action::Removed => "removed",
    }
}

fn sign(value: f64) -> &'static str {
    if value < 0.0 {
        "−"
    } else if value > 0.0 {
        "+"
    } else {
        ""
    }
}

fn signed(value: f64) -> String {
    format!("{}{}", sign(value), number(value.abs()))
}

/// Suggested questions for a model, in English and Chinese, from its levers, KPIs,
/// labels and aliases.
fn suggestions(document: &ModelDocument) -> Vec<String> {
    let levers: Vec<_> = document
        .variables
        .iter()
        .filter(|v| v.role == Role::Lever)
        .collect();
    let kpis: Vec<_> = document
        .variables
        .iter()
        .filter(|v| v.role == Role::Kpi)
        .collect();
    let mut out = Vec::new();
    let chinese = |aliases: &[String]| aliases.iter().find(|a| a.chars().any(is_cjk)).cloned();
    // The first question names a KPI the lever reaches, so its answer shows a
    // change rather than "unaffected".
    let reached = levers
        .first()
        .and_then(|lever| traversal::descendants(document, &lever.name, MAX_DEPTH).ok())
        .unwrap_or_default();
    let kpi = kpis
        .iter()
        .find(|k| reached.contains(&k.name))
        .or(kpis.first());
    if let (Some(lever), Some(kpi)) = (levers.first(), kpi) {
        out.push(format!(
            "If we cut {} by 10%, what happens to {}?",
            lever.label, kpi.label
        ));
        if let (Some(lever_zh), Some(kpi_zh)) = (chinese(&lever.aliases), chinese(&kpi.aliases)) {
            out.push(format!("如果把{lever_zh}減少10%，{kpi_zh}會怎樣？"));
        }
        out.push("And if by 20%?".to_string());
    }
    if let Some(lever) = levers.get(1).or(levers.first()) {
        out.push(format!(
            "Raise {} by 5%: which KPIs are affected?",
            lever.label
        ));
    }
    out
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    model: Option<String>,
    c: Option<String>,
}

async fn page(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Query(query): Query<PageQuery>,
) -> Response {
    let session = query.c.as_deref().and_then(|c| state.sessions.session(c));
    let models: Vec<String> = match state.planner.store.list().await {
        Ok(list) => list.into_iter().map(|m| m.name).collect(),
        Err(e) => return internal(&e.to_string()),
    };
    let requested = query
        .model
        .clone()
        .or_else(|| session.as_ref().and_then(|s| s.model.clone()));
    let mut context = tera::Context::new();
    context.insert(
        "access",
        &caller.as_ref().map(|Extension(caller)| caller.describe()),
    );
    context.insert(
        "signed_in",
        &matches!(caller, Some(Extension(Caller::Token(_)))),
    );
    context.insert("models", &models);
    context.insert("translator", state.translator_name());
    context.insert("conversation", &query.c.clone().unwrap_or_default());
    context.insert(
        "turns",
        &session
            .as_ref()
            .map(|s| s.turns.clone())
            .unwrap_or_default(),
    );
    if models.is_empty() {
        context.insert("model", &Option::<String>::None);
        context.insert("suggestions", &Vec::<String>::new());
        return render(&state, "chat.html", &context, StatusCode::OK);
    }
    match state.planner.model(requested.as_deref()).await {
        Ok(loaded) => {
            context.insert("model", &loaded.document.name);
            context.insert("model_id", &loaded.document.model_id);
            context.insert("suggestions", &suggestions(&loaded.document));
            render(&state, "chat.html", &context, StatusCode::OK)
        }
        // Several models and no default: show the first, the picker offers the rest.
        Err(PlanError::NoModel(_)) => match state
            .planner
            .model(models.first().map(String::as_str))
            .await
        {
            Ok(loaded) => {
                context.insert("model", &loaded.document.name);
                context.insert("model_id", &loaded.document.model_id);
                context.insert("suggestions", &suggestions(&loaded.document));
                render(&state, "chat.html", &context, StatusCode::OK)
            }
            Err(e) => plan_error_page(&e),
        },
        Err(e) => plan_error_page(&e),
    }
}

#[derive(Debug, Deserialize)]
struct AskForm {
    #[serde(default)]
    model: String,
    #[serde(default)]
    question: String,
    #[serde(default)]
    conversation: String,
}

/// Runs one turn: asks the planner within the form's conversation and returns the
/// conversation id and the rendered turn; the error is a cause for the log.
async fn turn(state: &AppState, form: &AskForm) -> Result<(String, String), String> {
    let id = if form.conversation.is_empty() || state.sessions.session(&form.conversation).is_none()
    {
        new_id()
    } else {
        form.conversation.clone()
    };
    let mut session = state.sessions.session(&id).unwrap_or(Session {
        created: now_seconds(),
        ..Session::default()
    });
    let model = Some(form.model.trim().to_string()).filter(|m| !m.is_empty());
    // A new model starts a new context: a follow-up never crosses models.
    if model.is_some() && model != session.model {
        session.conversation = Conversation::new();
        session.model = model.clone();
    }
    let index = session.turns.len();
    let mut view = serde_json::json!({ "index": index, "question": form.question });
    match state
        .planner
        .ask(model.as_deref(), &form.question, &mut session.conversation)
        .await
    {
        Ok(Reply::Answer { answer, note }) => {
            session.answered_with = Some((answer.model.clone(), now_seconds()));
            let document = match state.planner.model(Some(&answer.model)).await {
                Ok(loaded) => loaded.document.clone(),
                Err(e) => return Err(e.to_string()),
            };
            let mut answer_view = answer_view(&answer, &document, note);
            answer_view.id = state.sessions.keep_answer(StoredAnswer {
                question: Some(form.question.clone()),
                view: answer_view.clone(),
            });
            let html = render_fragment(state, "_answer.html", "a", &answer_view)?;
            view["kind"] = "answer".into();
            view["answer_html"] = html.into();
        }
        Ok(Reply::Clarify {
            message,
            suggestions,
            translator,
            note,
        }) => {
            view["kind"] = "clarify".into();
            view["message"] = message.into();
            view["suggestions"] = suggestions.into();
            view["translator"] = translator.name().into();
            view["note"] = note.into();
        }
        Err(PlanError::Store(crate::store::StoreError::Backend(cause)))
        | Err(PlanError::Internal(cause)) => {
            tracing::error!(%cause, "chat turn failed");
            view["kind"] = "error".into();
            view["message"] =
                "Something went wrong on our side; the server log has the details.".into();
        }
        Err(e) => {
            view["kind"] = "error".into();
            view["message"] = e.to_string().into();
        }
    }
    let html = render_fragment(state, "_turn.html", "turn", &view)?;
    session.turns.push(html.clone());
    if session.turns.len() > MAX_TURNS {
        session.turns.remove(0);
    }
    state.sessions.save(&id, session);
    Ok((id, html))
}

async fn ask_form(State(state): State<AppState>, Form(form): Form<AskForm>) -> Response {
    match turn(&state, &form).await {
        Ok((id, _)) => {
            let model = urlencode(form.model.trim());
            Redirect::to(&format!("/?c={id}&model={model}#conversation")).into_response()
        }
        Err(cause) => internal(&cause),
    }
}

async fn ask_fragment(State(state): State<AppState>, Form(form): Form<AskForm>) -> Response {
    match turn(&state, &form).await {
        Ok((id, html)) => {
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_str(&id) {
                headers.insert("X-Conversation", value);
            }
            (headers, Html(html)).into_response()
        }
        Err(cause) => internal(&cause),
    }
}

async fn answer_page(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.sessions.answer(&id) {
        Some(stored) => {
            let mut context = tera::Context::new();
            context.insert("a", &stored.view);
            context.insert("question", &stored.question);
            render(&state, "answer.html", &context, StatusCode::OK)
        }
        None => (
                StatusCode::NOT_FOUND,
            Html("<!doctype html><title>Not found</title><p>No such answer: answers are kept for a while after they are given. <a href=\"/\">Ask again</a>.</p>".to_string()),
        )
            .into_response(),
    }
}

pub(super) fn urlencode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Renders a page template with `status`; a template error is a logged 500.
pub(super) fn render(
    state: &AppState,
    template: &str,
    context: &tera::Context,
    status: StatusCode,
) -> Response {
    match state.templates.render(template, context) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => internal(&format!("rendering {template}: {e:?}")),
    }
}

/// Renders a fragment; the error is the cause, for the log.
fn render_fragment<T: Serialize>(
    state: &AppState,
    template: &str,
    key: &str,
    value: &T,
) -> Result<String, String> {
    let mut context = tera::Context::new();
    context.insert(key, value);
    state
        .templates
        .render(template, &context)
        .map_err(|e| format!("rendering {template}: {e:?}"))
}

fn plan_error_page(error: &PlanError) -> Response {
    let status = super::api::plan_error_status(error);
    if status.is_server_error() {
        return internal(&error.to_string());
    }
    let body = format!(
        "<!doctype html><meta charset=\"utf-8\"><title>Causeway</title><p>{}</p><p><a href=\"/\">Back to the chat</a></p>",
        html_escape(&error.to_string())
    );
    (status, Html(body)).into_response()
}

pub(super) fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The opaque 500 page, with `cause` in the log only.
pub(super) fn internal(cause: &str) -> Response {
    tracing::error!(%cause, "web page failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Html("<!doctype html><title>Error</title><p>Something went wrong on our side; the server log has the details.</p>".to_string()),
    )
        .into_response()
}
