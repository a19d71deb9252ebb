//! Upload-and-fit over HTTP: the fit-job API under `/api/v1/jobs` and the analyst's
//! pages, `/fit` (the form) and `/jobs/{id}` (progress, cancel, result).
//!
//! Both take the same multipart form ([`FORM`]): the CSV as `data`, the DAG as
//! `dag` (GraphML, DOT or an edge list, by its file name) or `discover=on`, the
//! model's `name`, comma-separated `levers` and `kpis`, and optionally `mechanism`,
//! `seed` and `drop_missing`. Files are streamed to disk ([`super::upload`]) under
//! the configured size limit, the request is checked ([`jobs::prepare`]) and the
//! fit runs as a background job ([`Jobs`]). Progress is streamed as server-sent
//! events (`GET /api/v1/jobs/{id}/events`, one `status` event per change, ending
//! with the final state); the page uses them and, without JavaScript, refreshes.
//!
//! Everything here needs an analyst token (or an open server).

use std::convert::Infallible;

use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use futures_util::stream::{self, Stream};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::api::{error_body, ErrorBody, Refusal};
use super::auth::{Analyst, Caller};
use super::chat::render;
use super::upload::{self, mebibytes, FieldKind, FormField};
use super::AppState;
use crate::auth::Role;
use crate::jobs::{self, CancelError, FitForm, JobStatus, PrepareError};

/// The fit form's fields: files first, then text.
pub const FORM: [FormField; 10] = [
    FormField {
        name: "data",
        kind: FieldKind::File,
        required: true,
        description: "The data: a CSV file with a header row.",
    },
    FormField {
        name: "dag",
        kind: FieldKind::File,
        required: false,
        description: "The causal DAG: GraphML (.graphml), DOT (.dot, .gv) or an edge list (any other file name), picked by the file name. Either this or `discover`.",
    },
    FormField {
        name: "notes",
        kind: FieldKind::File,
        required: false,
        description: "What people call the variables, as for `causeway fit --notes`: TOML with one table per variable, e.g. `[tv_spend]` `label = \"TV advertising\"` `aliases = [\"TV ads\", \"電視廣告\"]` `unit = \"USD\"`. The chat finds variables by these names.",
    },
    FormField {
        name: "name",
        kind: FieldKind::Text,
        required: true,
        description: "The model's name; the fit is saved as its next version.",
    },
    FormField {
        name: "levers",
        kind: FieldKind::Text,
        required: true,
        description: "The levers, comma-separated variable names.",
    },
    FormField {
        name: "kpis",
        kind: FieldKind::Text,
        required: true,
        description: "The KPIs, comma-separated variable names.",
    },
    FormField {
        name: "discover",
        kind: FieldKind::Flag,
        required: false,
        description: "Discover the graph from the data (PC) instead of uploading a DAG.",
    },
    FormField {
        name: "mechanism",
        kind: FieldKind::Choice(&["linear", "forest", "auto"]),
        required: false,
        description: "The mechanisms fitted on each node (default linear).",
    },
    FormField {
        name: "seed",
        kind: FieldKind::Integer,
        required: false,
        description: "Seed of the fit (default 0).",
    },
    FormField {
        name: "drop_missing",
        kind: FieldKind::Flag,
        required: false,
        description: "Drop rows with missing values instead of refusing the file.",
    },
];

/// The API routes, nested under `/api/v1`.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_jobs, start_job).layer(DefaultBodyLimit::disable()))
        .routes(routes!(job_status))
        .routes(routes!(job_events))
        .routes(routes!(cancel_job))
}

/// The fit form in the OpenAPI document, built from [`FORM`].
pub struct FitFormSchema;

impl utoipa::PartialSchema for FitFormSchema {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        upload::form_schema(&FORM).into()
    }
}

impl utoipa::ToSchema for FitFormSchema {}

/// The pages.
pub fn page_router() -> Router<AppState> {
    Router::new()
        .route(
            "/fit",
            get(fit_page)
                .post(fit_form)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/jobs/{id}", get(job_page))
        .route("/jobs/{id}/cancel", post(cancel_from_page))
}

impl From<PrepareError> for Refusal {
    fn from(error: PrepareError) -> Self {
        let status = match error {
            PrepareError::Invalid(_) | PrepareError::Graph(_) => StatusCode::BAD_REQUEST,
            PrepareError::Cyclic(_) | PrepareError::Mismatch(_) => StatusCode::UNPROCESSABLE_ENTITY,
        };
        Refusal::new(status, error.code(), error.to_string())
    }
}

/// Receives a fit form, checks it and starts the job.
async fn receive(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<JobStatus, Refusal> {
    let limit = state.max_upload_bytes;
    upload::check_declared_length(headers, limit)?;
    // Checked before the upload is read: a full queue should not cost a transfer.
    if !state.jobs.has_room() {
        return Err(Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            format!(
                "{} fit jobs are already waiting; try again when one has started",
                jobs::MAX_QUEUED_JOBS
            ),
        ));
    }
    let multipart = multipart.map_err(|rejection| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!(
                "{}; send a multipart/form-data form with the CSV as `data` and the DAG as `dag`",
                rejection.body_text()
            ),
        )
    })?;
    // Dropping `upload` removes its files, on every path but a started job's.
    let mut upload = upload::save(multipart, state.jobs.new_upload_dir(), limit, &FORM).await?;
    let form = FitForm {
        created_by: caller.author(),
        ..form_of(&upload)?
    };
    let dir = upload.dir.clone();
    // Reading the DAG and the CSV's header is file I/O: off the async threads.
    let prepared = tokio::task::spawn_blocking(move || jobs::prepare(form, &dir)).await;
    match prepared {
        Ok(Ok(spec)) => {
            upload.hand_over();
            Ok(state.jobs.start(spec))
        }
        Ok(Err(error)) => Err(error.into()),
        Err(e) => {
            tracing::error!(cause = %e, "checking a fit request failed");
            Err(Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the request could not be checked; see the server log",
            ))
        }
    }
}

/// The upload's parts (checked against [`FORM`] by [`upload::save`]) as a [`FitForm`].
fn form_of(upload: &upload::Upload) -> Result<FitForm, Refusal> {
    let file = |name: &str, default: &str| {
        upload.files.get(name).and_then(|saved| {
            // A file input left empty in a browser form sends a part with no bytes.
            (saved.bytes > 0).then(|| {
                (
                    saved.path.clone(),
                    saved
                        .file_name
                        .clone()
                        .unwrap_or_else(|| default.to_string()),
                )
            })
        })
    };
    Ok(FitForm {
        name: upload.field("name").map(str::to_string),
        data: file("data", "data.csv"),
        dag: file("dag", "dag.txt"),
        notes: file("notes", "notes.toml"),
        discover: upload.flag("discover"),
        levers: upload.list("levers"),
        kpis: upload.list("kpis"),
        mechanism: upload.field("mechanism").map(str::to_string),
        drop_missing: upload.flag("drop_missing"),
        seed: upload.whole_number("seed")?,
        created_by: None,
    })
}

fn job_not_found(id: &str) -> Response {
    error_body(
        StatusCode::NOT_FOUND,
        "not_found",
        &format!("no job `{id}`; GET /api/v1/jobs lists the jobs"),
    )
}

/// Starts a fit job from an uploaded CSV and DAG.
///
/// The files are streamed to disk under the server's upload limit
/// (`CAUSEWAY_MAX_UPLOAD_MB`), the request is checked, and the fit runs in the
/// background: 202 with the job's status and its `Location`. Needs an analyst
/// token.
#[utoipa::path(
    post,
    path = "/jobs",
    tag = "jobs",
    request_body(content = inline(FitFormSchema), content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "The job was started", body = JobStatus,
         headers(("Location" = String, description = "The job's URL"))),
        (status = 400, description = "The form is malformed, misses a field, or has an unknown one", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token is not an analyst's", body = ErrorBody),
        (status = 413, description = "The upload is over the limit", body = ErrorBody),
        (status = 422, description = "The DAG has a cycle, or does not match the data", body = ErrorBody),
        (status = 500, description = "The upload could not be saved", body = ErrorBody),
        (status = 503, description = "Too many jobs are waiting (`busy`)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn start_job(
    _: Analyst,
    Extension(caller): Extension<Caller>,
    State(state): State<AppState>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    match receive(&state, &caller, &headers, multipart).await {
        Ok(status) => {
            let location = format!("/api/v1/jobs/{}", status.id);
            let mut response = (StatusCode::ACCEPTED, Json(status)).into_response();
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            response
        }
        Err(refusal) => refusal.json(),
    }
}

/// Lists the fit jobs this server remembers, newest first. Needs an analyst token.
#[utoipa::path(
    get,
    path = "/jobs",
    tag = "jobs",
    responses(
        (status = 200, description = "The jobs, newest first", body = Vec<JobStatus>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token is not an analyst's", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn list_jobs(_: Analyst, State(state): State<AppState>) -> Json<Vec<JobStatus>> {
    Json(state.jobs.list())
}

/// One fit job's status. Needs an analyst token.
#[utoipa::path(
    get,
    path = "/jobs/{id}",
    tag = "jobs",
    params(("id" = String, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The job's status", body = JobStatus),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token is not an analyst's", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn job_status(_: Analyst, State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.jobs.status(&id) {
        Some(status) => Json(status).into_response(),
        None => job_not_found(&id),
    }
}

/// A fit job's progress as server-sent events.
///
/// A `status` event (the job's status as JSON) now and at every change; the stream
/// ends after the final state. Needs an analyst token.
#[utoipa::path(
    get,
    path = "/jobs/{id}/events",
    tag = "jobs",
    params(("id" = String, Path, description = "The job's id")),
    responses(
        (status = 200, description = "`status` events, each a JobStatus as JSON", body = String, content_type = "text/event-stream"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token is not an analyst's", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn job_events(
    _: Analyst,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, Response> {
    let receiver = state.jobs.watch(&id).ok_or_else(|| job_not_found(&id))?;
    let shutdown = state.jobs.shutting_down();
    // (receiver, shutdown, whether an event was sent, whether the last was final)
    let events = stream::unfold(
        (receiver, shutdown, false, false),
        |(mut receiver, mut shutdown, sent, ended)| async move {
            if ended {
                return None;
            }
            // After the first event, wait for a change. A closed channel (the job
            // was forgotten) or the server stopping ends the stream, so that an
            // open job page never holds up a shutdown.
            if sent {
                tokio::select! {
                    changed = receiver.changed() => changed.ok()?,
                    _ = shutdown.wait_for(|stopping| *stopping) => return None,
                }
            }
            let status = receiver.borrow_and_update().clone();
            let is_final = status.state.is_final();
            let event = Event::default()
                .event("status")
                .json_data(&status)
                .unwrap_or_else(|_| Event::default().event("status").data("{}"));
            Some((Ok(event), (receiver, shutdown, true, is_final)))
        },
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// Asks a fit job to stop.
///
/// 202 with the status: the job stops at its next step and saves nothing. Needs
/// an analyst token.
#[utoipa::path(
    post,
    path = "/jobs/{id}/cancel",
    tag = "jobs",
    params(("id" = String, Path, description = "The job's id")),
    responses(
        (status = 202, description = "The cancel was asked for", body = JobStatus),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token is not an analyst's", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "The job has already ended, or is saving its version (`job_finished`)", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn cancel_job(_: Analyst, State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.jobs.cancel(&id) {
        Ok(status) => (StatusCode::ACCEPTED, Json(status)).into_response(),
        Err(error @ CancelError::NotFound(_)) => {
            error_body(StatusCode::NOT_FOUND, "not_found", &error.to_string())
        }
        Err(error @ CancelError::TooLate { .. }) => {
            error_body(StatusCode::CONFLICT, "job_finished", &error.to_string())
        }
    }
}

// ---- pages ----

/// A page for someone who may not fit models: says which token is needed.
fn needs_analyst(state: &AppState, caller: &Caller) -> Option<Response> {
    if caller.allows(Role::Analyst) {
        return None;
    }
    let mut context = tera::Context::new();
    context.insert("status", &403);
    context.insert("title", "Fitting needs an analyst token");
    context.insert(
        "message",
        &format!(
            "Uploading data and fitting models needs an analyst or admin token; you are {}. Sign in with one at /login.",
            caller.describe()
        ),
    );
    Some(render(
        state,
        "browse_error.html",
        &context,
        StatusCode::FORBIDDEN,
    ))
}

fn form_context(state: &AppState, caller: &Caller) -> tera::Context {
    let mut context = tera::Context::new();
    context.insert("limit", &mebibytes(state.max_upload_bytes));
    context.insert("caller", &caller.describe());
    context.insert("jobs", &state.jobs.list());
    context
}

/// `GET /fit`: the upload form and the recent jobs.
async fn fit_page(State(state): State<AppState>, Extension(caller): Extension<Caller>) -> Response {
    if let Some(refused) = needs_analyst(&state, &caller) {
        return refused;
    }
    render(
        &state,
        "fit.html",
        &form_context(&state, &caller),
        StatusCode::OK,
    )
}

/// `POST /fit`: starts the job and goes to its page; a refused form is shown again
/// with the reason.
async fn fit_form(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    if let Some(refused) = needs_analyst(&state, &caller) {
        return refused;
    }
    match receive(&state, &caller, &headers, multipart).await {
        Ok(status) => Redirect::to(&format!("/jobs/{}", status.id)).into_response(),
        Err(refusal) => {
            let mut context = form_context(&state, &caller);
            context.insert("error", &refusal.message);
            context.insert("error_code", refusal.code);
            render(&state, "fit.html", &context, refusal.status)
        }
    }
}

/// `GET /jobs/{id}`: the job's progress, live.
async fn job_page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    if let Some(refused) = needs_analyst(&state, &caller) {
        return refused;
    }
    let Some(status) = state.jobs.status(&id) else {
        let mut context = tera::Context::new();
        context.insert("status", &404);
        context.insert("title", "No such job");
        context.insert(
            "message",
            &format!("There is no job `{id}`; jobs are forgotten when the server restarts."),
        );
        return render(&state, "browse_error.html", &context, StatusCode::NOT_FOUND);
    };
    let mut context = tera::Context::new();
    context.insert("job", &status);
    context.insert("final", &status.state.is_final());
    render(&state, "job.html", &context, StatusCode::OK)
}

/// `POST /jobs/{id}/cancel` from the page: back to the job's page either way.
async fn cancel_from_page(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Response {
    if let Some(refused) = needs_analyst(&state, &caller) {
        return refused;
    }
    if let Err(error) = state.jobs.cancel(&id) {
        tracing::info!(job = %id, %error, "cancel from the page refused");
    }
    Redirect::to(&format!("/jobs/{id}")).into_response()
}
