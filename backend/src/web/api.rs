//! The JSON API under `/api/v1/`. Errors have one shape, `{"error": {"code",
//! "message"}}`: user mistakes are 4xx with a message a person can act on; store
//! failures are an opaque 500, logged with their cause.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use crate::chat::{Conversation, WhatIfQuery};
use crate::engine::WhatIfAnswer;
use crate::planner::{PlanError, Reply};
use crate::store::{ModelRef, ModelSummary, StoreError};
use causeway_estimators::model::ModelDocument;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/models", get(list_models))
        .route("/models/{reference}", get(get_model))
        .route("/whatif", post(whatif))
}

/// The body of `POST /api/v1/whatif`: a question in plain words, or a typed query.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum WhatIfRequest {
    /// `{"question": "…", "model": "retail"}`.
    Question {
        /// The question, in English or Traditional Chinese.
        question: String,
        /// The model asked (default: the configured default or the only model).
        #[serde(default)]
        model: Option<String>,
    },
    /// A [`WhatIfQuery`]: `{"model": …, "interventions": […], "targets": […]}`.
    Query(WhatIfQuery),
}

/// The HTTP status of a planner error: user mistakes 4xx, failures 500.
pub fn plan_error_status(error: &PlanError) -> StatusCode {
    match error {
        PlanError::BadQuestion(_) => StatusCode::BAD_REQUEST,
        PlanError::NoModel(_) => StatusCode::NOT_FOUND,
        PlanError::Store(StoreError::NotFound { .. }) => StatusCode::NOT_FOUND,
        PlanError::Store(StoreError::Backend(_)) | PlanError::Internal(_) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        PlanError::Store(_) => StatusCode::BAD_REQUEST,
        PlanError::Query(_) | PlanError::Engine(_) => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

fn error_body(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

impl IntoResponse for PlanError {
    fn into_response(self) -> Response {
        let status = plan_error_status(&self);
        if status.is_server_error() {
            tracing::error!(cause = %self, "what-if failed");
            return error_body(
                status,
                "internal",
                "the answer could not be computed; see the server log",
            );
        }
        let code = match &self {
            PlanError::BadQuestion(_) => "bad_question",
            PlanError::NoModel(_) | PlanError::Store(StoreError::NotFound { .. }) => "not_found",
            PlanError::Query(_) => "invalid_query",
            PlanError::Engine(_) => "cannot_answer",
            _ => "invalid_request",
        };
        error_body(status, code, &self.to_string())
    }
}

/// `POST /api/v1/whatif`: the answer as JSON. A question the parser cannot map is a
/// 422 with code `clarify`, the reply and the closest variables.
async fn whatif(
    State(state): State<AppState>,
    body: Result<Json<WhatIfRequest>, JsonRejection>,
) -> Result<Json<WhatIfAnswer>, Response> {
    let Json(request) = body.map_err(|rejection| {
        error_body(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!(
                "{}; send {{\"question\": \"…\", \"model\": \"…\"}} or a WhatIfQuery {{\"model\", \"interventions\", \"targets\"}}",
                rejection.body_text()
            ),
        )
    })?;
    match request {
        WhatIfRequest::Query(query) => Ok(Json(
            state
                .planner
                .answer(query)
                .await
                .map_err(IntoResponse::into_response)?,
        )),
        WhatIfRequest::Question { question, model } => {
            let mut conversation = Conversation::new();
            match state
                .planner
                .ask(model.as_deref(), &question, &mut conversation)
                .await
                .map_err(IntoResponse::into_response)?
            {
                Reply::Answer { answer, .. } => Ok(Json(answer)),
                Reply::Clarify {
                    message,
                    suggestions,
                    translator,
                    ..
                } => Err((
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Json(json!({"error": {"code": "clarify", "message": message,
                                          "suggestions": suggestions, "translator": translator.name()}})),
                )
                    .into_response()),
            }
        }
    }
}

/// An error as the API reports it.
pub struct ApiError(StoreError);

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self.0 {
            StoreError::InvalidReference(_) | StoreError::InvalidModel(_) => {
                (StatusCode::BAD_REQUEST, "invalid_request")
            }
            StoreError::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
            StoreError::InUse(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            StoreError::UnknownVariable { .. } => (StatusCode::NOT_FOUND, "unknown_variable"),
            StoreError::Backend(cause) => {
                tracing::error!(%cause, "model store failure");
                let body = json!({"error": {"code": "internal", "message": "the model store failed; see the server log"}});
                return (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response();
            }
        };
        let body = json!({"error": {"code": code, "message": self.0.to_string()}});
        (status, Json(body)).into_response()
    }
}

async fn list_models(State(state): State<AppState>) -> Result<Json<Vec<ModelSummary>>, ApiError> {
    Ok(Json(state.store.list().await?))
}

async fn get_model(
    State(state): State<AppState>,
    Path(reference): Path<String>,
) -> Result<Json<ModelDocument>, ApiError> {
    let reference = ModelRef::parse(&reference)?;
    Ok(Json(state.store.get(&reference).await?))
}
