//! The JSON API under `/api/v1/`. Errors have one shape, `{"error": {"code",
//! "message"}}`: user mistakes are 4xx with a message a person can act on; store
//! failures are an opaque 500, logged with their cause.
//!
//! Reading needs a viewer token (checked in front of every route, see
//! [`super::auth`]); importing and deleting model versions take an [`Analyst`].
//!
//! Every handler carries its `#[utoipa::path]` and is registered with
//! `routes!(…)` on an [`OpenApiRouter`], so the route and its entry in
//! `GET /api/v1/openapi.json` ([`super::openapi`]) come from the same line; a
//! module adding API routes does the same and is merged in [`super::openapi::api`].

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::auth::{Analyst, Caller};
use super::upload::UploadError;
use super::AppState;
use crate::chat::{Conversation, WhatIfQuery};
use crate::engine::WhatIfAnswer;
use crate::planner::{PlanError, Reply};
use crate::store::{validate_name, ModelRef, ModelSummary, StoreError};
use causeway_estimators::io::graphml::{read_model, write_model};
use causeway_estimators::model::ModelDocument;

/// The largest GraphML document `PUT /api/v1/models/{name}` accepts. Model documents
/// of thousands of variables are a few MiB; the limit keeps one request from filling
/// memory.
pub const MAX_GRAPHML_BYTES: usize = 16 * 1024 * 1024;

/// The model and what-if routes, nested under `/api/v1`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_models))
        .routes(routes!(get_model, delete_model))
        .routes(
            routes!(put_model, post_model)
                .layer(DefaultBodyLimit::max(MAX_GRAPHML_BYTES))
                .layer(middleware::from_fn(refuse_declared_oversize)),
        )
        .routes(routes!(get_graphml))
        .routes(routes!(whatif))
}

/// The API's one error shape, `{"error": {"code": …, "message": …}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong, in [`ErrorBody`].
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable code to branch on: `invalid_request`, `not_found`, `too_large`,
    /// `unauthorized`, `forbidden`, `clarify`, `internal`, ….
    pub code: String,
    /// What went wrong and what to change, for a person.
    pub message: String,
    /// With `clarify`: the variables closest to the words that were not understood.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestions: Option<Vec<String>>,
    /// With `clarify`: which parser read the question.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub translator: Option<String>,
}

/// A refused request: status, API code and message; a response in the shape of
/// [`ErrorBody`] (or, for a page, the message shown on it).
#[derive(Debug)]
pub(super) struct Refusal {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            status,
            code,
            message: message.into(),
        }
    }

    /// The API's response.
    pub fn json(&self) -> Response {
        error_body(self.status, self.code, &self.message)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        self.json()
    }
}

impl From<UploadError> for Refusal {
    fn from(error: UploadError) -> Self {
        Refusal::new(error.status(), error.code(), error.public_message())
    }
}

/// The body of `POST /api/v1/whatif`: a question in plain words, or a typed query.
#[derive(Debug, Deserialize, ToSchema)]
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

/// A response in the API's one error shape, [`ErrorBody`].
pub(super) fn error_body(status: StatusCode, code: &str, message: &str) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.to_string(),
            message: message.to_string(),
            suggestions: None,
            translator: None,
        },
    };
    (status, Json(body)).into_response()
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

/// Answers a what-if question.
///
/// The body is a question in plain words (`{"question": "…", "model": "retail"}`)
/// or a typed query (`{"model", "interventions", "targets"}`). A question the
/// parser cannot map is a 422 with code `clarify`, the reply and the closest
/// variables.
#[utoipa::path(
    post,
    path = "/whatif",
    tag = "what-if",
    request_body(
        content = WhatIfRequest,
        example = json!({"model": "retail", "interventions": [{"variable": "tv_spend", "op": "scale", "value": 0.9}], "targets": ["store_sales"]})
    ),
    responses(
        (status = 200, description = "The answer, computed from the model", body = WhatIfAnswer),
        (status = 400, description = "The body is not a question or a query", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 422, description = "The query does not fit the model, or the question needs clarifying (`clarify`)", body = ErrorBody),
        (status = 500, description = "The answer could not be computed", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
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
                    Json(ErrorBody {
                        error: ErrorDetail {
                            code: "clarify".into(),
                            message,
                            suggestions: Some(suggestions),
                            translator: Some(translator.name().to_string()),
                        },
                    }),
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
                return error_body(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the model store failed; see the server log",
                );
            }
        };
        error_body(status, code, &self.0.to_string())
    }
}

/// Lists the stored models, each name with its versions.
#[utoipa::path(
    get,
    path = "/models",
    tag = "models",
    responses(
        (status = 200, description = "Every model name with its versions", body = Vec<ModelSummary>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 500, description = "The model store failed", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn list_models(State(state): State<AppState>) -> Result<Json<Vec<ModelSummary>>, ApiError> {
    Ok(Json(state.store.list().await?))
}

/// One stored model version as a model document (JSON).
#[utoipa::path(
    get,
    path = "/models/{reference}",
    tag = "models",
    params(("reference" = String, Path, description = "`name` (the latest version) or `name@version`", example = "retail@1")),
    responses(
        (status = 200, description = "The model document", body = ModelDocument),
        (status = 400, description = "The reference is malformed", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such model or version", body = ErrorBody),
        (status = 500, description = "The model store failed", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn get_model(
    State(state): State<AppState>,
    Path(reference): Path<String>,
) -> Result<Json<ModelDocument>, ApiError> {
    let reference = ModelRef::parse(&reference)?;
    Ok(Json(state.store.get(&reference).await?))
}

/// One stored model version as a GraphML document, as `causeway export` writes it.
#[utoipa::path(
    get,
    path = "/models/{reference}/graphml",
    tag = "models",
    params(("reference" = String, Path, description = "`name` (the latest version) or `name@version`", example = "retail@1")),
    responses(
        (status = 200, description = "The GraphML document", body = String, content_type = "application/graphml+xml"),
        (status = 400, description = "The reference is malformed", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 404, description = "No such model or version", body = ErrorBody),
        (status = 500, description = "The model store failed", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn get_graphml(
    State(state): State<AppState>,
    Path(reference): Path<String>,
) -> Result<Response, ApiError> {
    let reference = ModelRef::parse(&reference)?;
    let model = state.store.get(&reference).await?;
    let graphml = write_model(&model).map_err(|e| {
        ApiError(StoreError::Backend(format!(
            "writing `{}` as GraphML: {e}",
            model.model_id
        )))
    })?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/graphml+xml; charset=utf-8"),
        )],
        graphml,
    )
        .into_response())
}

/// Refuses a body that declares more than [`MAX_GRAPHML_BYTES`] at once: the body
/// extractor's limit only trips once that much has arrived, and a client should not
/// have to send 16 MiB to learn that 17 are too many.
async fn refuse_declared_oversize(request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_GRAPHML_BYTES as u64) {
        return error_body(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            &format!(
                "the body is over the limit; send at most {} MiB of GraphML",
                MAX_GRAPHML_BYTES / (1024 * 1024)
            ),
        );
    }
    next.run(request).await
}

/// What an import answers: the stored version.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportedModel {
    /// The new version's id, `name@version`.
    pub model_id: String,
    /// The model's name.
    pub name: String,
    /// The new version's number.
    pub version: u32,
    /// How many variables it has.
    pub variables: usize,
    /// How many edges it has.
    pub edges: usize,
}

/// Stores a GraphML model document as the next version of a model.
///
/// The version is stored under the name in the path, whatever name the document
/// gives, as `causeway import --name` does. 201 with the new version and its
/// `Location`. Needs an analyst token.
#[utoipa::path(
    put,
    path = "/models/{reference}",
    tag = "models",
    operation_id = "import_model",
    params(("reference" = String, Path, description = "The model's name (without a version)")),
    request_body(content = String, content_type = "application/graphml+xml", description = "The model document as GraphML, at most 16 MiB"),
    responses(
        (status = 201, description = "Stored as the next version", body = ImportedModel,
         headers(("Location" = String, description = "The new version's URL"))),
        (status = 400, description = "The name is malformed, or the body is not a model document", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token is not an analyst's", body = ErrorBody),
        (status = 413, description = "The body is over 16 MiB", body = ErrorBody),
        (status = 422, description = "The graph has a cycle", body = ErrorBody),
        (status = 500, description = "The model store failed", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn put_model(
    analyst: Analyst,
    caller: Extension<Caller>,
    state: State<AppState>,
    name: Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    import_model(analyst, caller, state, name, body).await
}

/// Stores a GraphML model document as the next version of a model (as `PUT`).
#[utoipa::path(
    post,
    path = "/models/{reference}",
    tag = "models",
    operation_id = "import_model_post",
    params(("reference" = String, Path, description = "The model's name (without a version)")),
    request_body(content = String, content_type = "application/graphml+xml", description = "The model document as GraphML, at most 16 MiB"),
    responses(
        (status = 201, description = "Stored as the next version", body = ImportedModel,
         headers(("Location" = String, description = "The new version's URL"))),
        (status = 400, description = "The name is malformed, or the body is not a model document", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token is not an analyst's", body = ErrorBody),
        (status = 413, description = "The body is over 16 MiB", body = ErrorBody),
        (status = 422, description = "The graph has a cycle", body = ErrorBody),
        (status = 500, description = "The model store failed", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn post_model(
    analyst: Analyst,
    caller: Extension<Caller>,
    state: State<AppState>,
    name: Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    import_model(analyst, caller, state, name, body).await
}

/// `PUT` or `POST /api/v1/models/{name}`: see [`put_model`]. 400 for a body that is
/// not a model document, 422 for a graph with a cycle, 413 over
/// [`MAX_GRAPHML_BYTES`].
async fn import_model(
    _: Analyst,
    Extension(caller): Extension<Caller>,
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    validate_name(&name).map_err(|e| ApiError(e).into_response())?;
    let body = body.map_err(|rejection| {
        let status = rejection.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "too_large"
        } else {
            "invalid_request"
        };
        error_body(
            status,
            code,
            &format!(
                "{}; send at most {} MiB of GraphML",
                rejection.body_text(),
                MAX_GRAPHML_BYTES / (1024 * 1024)
            ),
        )
    })?;
    if body.is_empty() {
        return Err(error_body(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the request body is empty; send the model document as GraphML",
        ));
    }
    // Parsing a document of several MiB is CPU work: keep it off the async threads.
    // The closure says what went wrong (status, code, message); the response is
    // built here.
    let parsed = tokio::task::spawn_blocking(move || {
        let text = std::str::from_utf8(&body).map_err(|e| {
            (
                StatusCode::BAD_REQUEST,
                "invalid_graphml",
                format!("the body is not UTF-8 text: {e}"),
            )
        })?;
        read_model(text, "request body").map_err(|e| match e {
            causeway_estimators::Error::Cyclic { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_model",
                e.to_string(),
            ),
            _ => (StatusCode::BAD_REQUEST, "invalid_graphml", e.to_string()),
        })
    })
    .await
    .map_err(|e| ApiError(StoreError::Backend(format!("parsing task: {e}"))).into_response())?;
    let mut model = parsed.map_err(|(status, code, message)| error_body(status, code, &message))?;
    model.name = name;
    // Whoever imports a version is its author here; an open server keeps what the
    // document says.
    if let Some(author) = caller.author() {
        model.created_by = Some(author);
    }
    let saved = state
        .store
        .save(model)
        .await
        .map_err(|e| ApiError(e).into_response())?;
    let location = format!("/api/v1/models/{}", saved.model_id);
    let mut response = (
        StatusCode::CREATED,
        Json(ImportedModel {
            variables: saved.variables.len(),
            edges: saved.edges.len(),
            model_id: saved.model_id,
            name: saved.name,
            version: saved.version,
        }),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// `?force=true` on a delete.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteOptions {
    /// Delete even though conversations use the version.
    #[serde(default)]
    pub force: bool,
}

/// Deletes one model version.
///
/// The other versions keep their numbers. A reference without a version is
/// refused, so that a delete never depends on which version happens to be the
/// latest. A version that a recent conversation's last answer was computed on is
/// a 409 unless `?force=true`: deleting it would leave that conversation's
/// follow-ups without their model. Needs an analyst token.
#[utoipa::path(
    delete,
    path = "/models/{reference}",
    tag = "models",
    params(
        ("reference" = String, Path, description = "`name@version`"),
        DeleteOptions,
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The reference is malformed or names no version", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token is not an analyst's", body = ErrorBody),
        (status = 404, description = "No such model or version", body = ErrorBody),
        (status = 409, description = "A conversation answered from this version in the last 24 hours (code `in_use`); add `?force=true`", body = ErrorBody),
        (status = 500, description = "The model store failed", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn delete_model(
    _: Analyst,
    State(state): State<AppState>,
    Path(reference): Path<String>,
    options: Result<Query<DeleteOptions>, QueryRejection>,
) -> Result<StatusCode, Response> {
    let Query(options) = options.map_err(|rejection| {
        error_body(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("{}; the only option is `force=true`", rejection.body_text()),
        )
    })?;
    let parsed = ModelRef::parse(&reference).map_err(|e| ApiError(e).into_response())?;
    let Some(version) = parsed.version else {
        return Err(ApiError(StoreError::InvalidReference(format!(
            "`{reference}`: name the version to delete, as `{}@N`",
            parsed.name
        )))
        .into_response());
    };
    let model_id = format!("{}@{version}", parsed.name);
    let using = state.sessions.conversations_using(&model_id);
    if using > 0 && !options.force {
        return Err(error_body(
            StatusCode::CONFLICT,
            "in_use",
            &format!(
                "{model_id} is in use: {using} conversation{} answered from it in the last {} hours; delete with ?force=true to go ahead (their follow-up questions will then fail to find it)",
                if using == 1 { "" } else { "s" },
                super::chat::IN_USE_SECONDS / 3600
            ),
        ));
    }
    state
        .store
        .delete(&parsed.name, version)
        .await
        .map_err(|e| ApiError(e).into_response())?;
    tracing::info!(model = %model_id, conversations = using, "model version deleted");
    Ok(StatusCode::NO_CONTENT)
}
