//! `POST /api/v1/estimate`: the effect of a treatment on an outcome, estimated from
//! an uploaded CSV and a DAG; the API's door to [`crate::estimation`], which
//! `causeway estimate` shares, so the answer is the JSON that
//! `causeway estimate --format json` prints.
//!
//! The form ([`FORM`]) is streamed to disk under the configured upload limit
//! ([`super::upload`]), checked field by field (an unknown field is a 400, so that
//! a misspelt option is not silently ignored), and estimated on a blocking thread;
//! the upload is removed when the answer is ready. User mistakes are 4xx: a
//! malformed form 400, a form over the limit 413, and data or a graph that do not
//! allow the estimate (unknown variable, not identifiable, a cycle, bad values)
//! 422 with the estimators' message. Needs an analyst token, as it is CPU work on
//! the server's data.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use causeway_estimators::data::{Dataset, LoadOptions};
use causeway_estimators::estimate::Method;
use causeway_estimators::graph::CausalGraph;
use causeway_estimators::progress::Silent;
use causeway_estimators::Error;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::api::{ErrorBody, Refusal};
use super::auth::Analyst;
use super::upload::{self, FieldKind, FormField, SavedFile, Upload};
use super::AppState;
use crate::estimation::{self, EstimateRequest, EstimationError, Nuisance, Report, Surface};

/// The most cross-fitting folds one request may ask for.
pub const MAX_FOLDS: usize = 50;

/// The most bootstrap resamples one request may ask for: each is a refit, and the
/// server's CPUs are shared.
pub const MAX_BOOTSTRAP: usize = 2000;

/// The form's fields: files first, then text, in the order of `causeway estimate`'s
/// flags.
pub const FORM: [FormField; 20] = [
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
        description: "The causal DAG: GraphML (.graphml), DOT (.dot, .gv) or an edge list (any other file name), picked by the file name. Either this or `edges`.",
    },
    FormField {
        name: "edges",
        kind: FieldKind::Text,
        required: false,
        description: "The causal DAG as an edge list, e.g. `z->t, z->y, t->y`; `a <-> b` marks an unobserved common cause. Either this or `dag`.",
    },
    FormField {
        name: "treatment",
        kind: FieldKind::Text,
        required: true,
        description: "The treatment (cause).",
    },
    FormField {
        name: "outcome",
        kind: FieldKind::Text,
        required: true,
        description: "The outcome (effect).",
    },
    FormField {
        name: "method",
        kind: FieldKind::Choice(&["ols", "ipw", "aipw", "dml", "did", "iv", "frontdoor"]),
        required: false,
        description: "The estimation method (default dml).",
    },
    FormField {
        name: "nuisance",
        kind: FieldKind::Choice(&["linear", "forest"]),
        required: false,
        description: "The nuisance learner of dml and aipw (default forest).",
    },
    FormField {
        name: "folds",
        kind: FieldKind::Integer,
        required: false,
        description: "Cross-fitting folds of dml and aipw (default 5, at most 50).",
    },
    FormField {
        name: "trim",
        kind: FieldKind::Number,
        required: false,
        description: "Drop units whose propensity is outside [trim, 1 − trim] (ipw, aipw; default 0.01).",
    },
    FormField {
        name: "adjust",
        kind: FieldKind::Text,
        required: false,
        description: "Adjust for these variables (comma-separated) instead of the set identification finds.",
    },
    FormField {
        name: "instruments",
        kind: FieldKind::Text,
        required: false,
        description: "Instruments for iv, comma-separated (default: every instrument the graph implies).",
    },
    FormField {
        name: "mediators",
        kind: FieldKind::Text,
        required: false,
        description: "Mediators for frontdoor, comma-separated (default: the frontdoor set the graph implies).",
    },
    FormField {
        name: "time",
        kind: FieldKind::Text,
        required: false,
        description: "The period column of did (a 0/1 post indicator without `unit`).",
    },
    FormField {
        name: "unit",
        kind: FieldKind::Text,
        required: false,
        description: "The unit column of did on a panel (two-way fixed effects).",
    },
    FormField {
        name: "latent",
        kind: FieldKind::Text,
        required: false,
        description: "Graph nodes that are not observed (not columns of the data), comma-separated.",
    },
    FormField {
        name: "all_sets",
        kind: FieldKind::Flag,
        required: false,
        description: "List every minimal backdoor adjustment set, not only the smallest.",
    },
    FormField {
        name: "refute",
        kind: FieldKind::Flag,
        required: false,
        description: "Run the refuters (placebo, random common cause, subset, bootstrap, E-value).",
    },
    FormField {
        name: "bootstrap",
        kind: FieldKind::Integer,
        required: false,
        description: "Resamples of the bootstrap refuter (default 100, at most 2000).",
    },
    FormField {
        name: "seed",
        kind: FieldKind::Integer,
        required: false,
        description: "Seed for fold splits, forests and refuters (default 0).",
    },
    FormField {
        name: "drop_missing",
        kind: FieldKind::Flag,
        required: false,
        description: "Drop rows with missing values instead of refusing the file.",
    },
];

/// The route, nested under `/api/v1`.
pub fn router() -> OpenApiRouter<AppState> {
    // The upload limit is counted by `upload::save`, not by axum's body limit.
    OpenApiRouter::new().routes(routes!(estimate).layer(DefaultBodyLimit::disable()))
}

/// The estimate form in the OpenAPI document, built from [`FORM`].
pub struct EstimateFormSchema;

impl utoipa::PartialSchema for EstimateFormSchema {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        upload::form_schema(&FORM).into()
    }
}

impl utoipa::ToSchema for EstimateFormSchema {}

/// Estimates the causal effect of a treatment on an outcome.
///
/// From an uploaded CSV and a DAG (a file, or an edge list as text): the effect is
/// identified from the graph, estimated with the chosen method and, on request,
/// refuted. The answer is the JSON that `causeway estimate --format json` prints.
/// Needs an analyst token.
#[utoipa::path(
    post,
    path = "/estimate",
    tag = "estimate",
    request_body(content = inline(EstimateFormSchema), content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The estimate, how it was identified, its assumptions and refutations", body = Report),
        (status = 400, description = "The form is malformed, misses a field, has an unknown one, or the DAG does not parse", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token is not an analyst's", body = ErrorBody),
        (status = 413, description = "The upload is over the limit", body = ErrorBody),
        (status = 422, description = "The data or the graph do not allow the estimate: an unknown variable, an effect that is not identifiable, a cycle, unusable values", body = ErrorBody),
        (status = 500, description = "The upload could not be saved or read", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn estimate(
    _: Analyst,
    State(state): State<AppState>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    match receive(&state, &headers, multipart).await {
        Ok(report) => Json(report).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

/// Saves the upload, reads the form and estimates on a blocking thread; the upload
/// is removed on every path.
async fn receive(
    state: &AppState,
    headers: &HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Report, Refusal> {
    let limit = state.max_upload_bytes;
    upload::check_declared_length(headers, limit)?;
    let multipart = multipart.map_err(|rejection| {
        invalid(format!(
                "{}; send a multipart/form-data form with the CSV as `data`, the DAG as `dag` or `edges`, and `treatment` and `outcome`",
                rejection.body_text()
        ))
    })?;
    // Dropping `upload` (at the end, or on any early return) removes its files.
    let upload = upload::save(multipart, state.jobs.new_upload_dir(), limit, &FORM).await?;
    let form = form_of(&upload)?;
    let estimated = tokio::task::spawn_blocking(move || estimate_form(&form)).await;
    drop(upload);
    match estimated {
        Ok(result) => result,
        Err(e) => {
            tracing::error!(cause = %e, "an estimate failed");
            Err(Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the estimate could not be computed; see the server log",
            ))
        }
    }
}

/// Where the DAG comes from.
enum GraphSource {
    /// An uploaded file, its format picked by the client's file name.
    File(SavedFile),
    /// The `edges` text.
    Edges(String),
}

/// A checked form: the files to read and what to estimate.
struct EstimateForm {
    data: SavedFile,
    graph: GraphSource,
    drop_missing: bool,
    request: EstimateRequest,
}

fn invalid(message: String) -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, "invalid_request", message)
}

/// The upload's parts as a request; any problem with the form itself is a 400.
fn form_of(upload: &Upload) -> Result<EstimateForm, Refusal> {
    // A file input left empty in a browser form sends a part with no bytes.
    let file = |name: &str| upload.files.get(name).filter(|saved| saved.bytes > 0);
    let data = file("data")
        .cloned()
        .ok_or_else(|| invalid("upload the data as a CSV file (field `data`)".into()))?;
    let graph = match (file("dag"), upload.field("edges")) {
        (Some(dag), None) => GraphSource::File(dag.clone()),
        (None, Some(edges)) => GraphSource::Edges(edges.to_string()),
        (Some(_), Some(_)) => {
            return Err(invalid(
                "send the DAG once: as a file (`dag`) or as an edge list (`edges`), not both"
                    .into(),
            ))
        }
        (None, None) => {
            return Err(invalid(
                "send the DAG as a file (field `dag`: GraphML, DOT or an edge list) or as text (field `edges`, e.g. `z->t, z->y, t->y`)".into(),
            ))
        }
    };
    let required = |name: &str, what: &str| {
        upload
            .field(name)
            .map(str::to_string)
            .ok_or_else(|| invalid(format!("name the {what} (field `{name}`)")))
    };
    let treatment = required("treatment", "treatment")?;
    let outcome = required("outcome", "outcome")?;
    let mut request = EstimateRequest::new(&treatment, &outcome, Surface::Api);
    if let Some(text) = upload.field("method") {
        request.method = text
            .parse::<Method>()
            .map_err(|e| invalid(format!("field `method`: {e}")))?;
    }
    if let Some(text) = upload.field("nuisance") {
        request.nuisance = text
            .parse::<Nuisance>()
            .map_err(|e| invalid(format!("field `nuisance`: {e}")))?;
    }
    if let Some(folds) = upload.whole_number("folds")? {
        if folds > MAX_FOLDS as u64 {
            return Err(invalid(format!(
                "field `folds` must be at most {MAX_FOLDS}, not {folds}"
            )));
        }
        request.folds = folds as usize;
    }
    if let Some(bootstrap) = upload.whole_number("bootstrap")? {
        if bootstrap > MAX_BOOTSTRAP as u64 {
            return Err(invalid(format!(
                "field `bootstrap` must be at most {MAX_BOOTSTRAP}, not {bootstrap}"
            )));
        }
        request.bootstrap = bootstrap as usize;
    }
    if let Some(seed) = upload.whole_number("seed")? {
        request.seed = seed;
    }
    if let Some(text) = upload.field("trim") {
        request.trim = text
            .parse::<f64>()
            .ok()
            .filter(|t| t.is_finite())
            .ok_or_else(|| invalid(format!("field `trim` must be a number, not `{text}`")))?;
    }
    request.adjust = upload.field("adjust").map(|_| upload.list("adjust"));
    request.instruments = upload.list("instruments");
    request.mediators = upload.list("mediators");
    request.time = upload.field("time").map(str::to_string);
    request.unit = upload.field("unit").map(str::to_string);
    request.latent = upload.list("latent");
    request.all_sets = upload.flag("all_sets");
    request.refute = upload.flag("refute");
    Ok(EstimateForm {
        data,
        graph,
        drop_missing: upload.flag("drop_missing"),
        request,
    })
}

/// The blocking part: reads the files, parses them and estimates.
fn estimate_form(form: &EstimateForm) -> Result<Report, Refusal> {
    let data_label = label(&form.data, "data.csv");
    let text = read_text(&form.data, &data_label)?;
    let options = LoadOptions {
        drop_missing: form.drop_missing,
        ..LoadOptions::default()
    };
    let data = Dataset::from_csv_str(&text, &data_label, &options).map_err(|e| refusal(&e))?;
    let graph = match &form.graph {
        GraphSource::File(saved) => {
            let dag_label = label(saved, "dag.txt");
            let text = read_text(saved, &dag_label)?;
            CausalGraph::parse_named(&text, &dag_label)
        }
        GraphSource::Edges(edges) => CausalGraph::parse_edge_list(edges),
    }
    .map_err(|e| match e {
        Error::Cyclic { .. } => refusal(&e),
        _ => Refusal::new(StatusCode::BAD_REQUEST, "invalid_graph", e.to_string()),
    })?;
    estimation::run(&data, graph, &form.request, &Silent).map_err(|e| match e {
        EstimationError::Estimators(e) => refusal(&e),
        EstimationError::Usage(message) => invalid(message),
    })
}

/// The name the client gave a file (it names the file in messages), else `default`.
fn label(saved: &SavedFile, default: &str) -> String {
    saved
        .file_name
        .clone()
        .unwrap_or_else(|| default.to_string())
}

/// An uploaded file's text; a file that is not UTF-8 is the client's mistake.
fn read_text(saved: &SavedFile, label: &str) -> Result<String, Refusal> {
    let bytes = std::fs::read(&saved.path).map_err(|e| {
        tracing::error!(path = %saved.path.display(), cause = %e, "reading an upload again");
        Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the upload could not be read again; see the server log",
        )
    })?;
    String::from_utf8(bytes).map_err(|_| {
        Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_data",
            format!("{label}: the file is not UTF-8 text"),
        )
    })
}

/// The estimators' refusal as a 422 with their message; an I/O failure (the
/// files are ours by then) is a 500, logged.
fn refusal(error: &Error) -> Refusal {
    let code = match error {
        Error::Io { .. } | Error::Cancelled => {
            tracing::error!(cause = %error, "an estimate failed");
            return Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the estimate could not be computed; see the server log",
            );
        }
        Error::UnknownVariable { .. } => "unknown_variable",
        Error::NotIdentified { .. } => "not_identifiable",
        Error::Cyclic { .. } => "invalid_model",
        // An option out of range for the estimator (folds, trim, bootstrap runs).
        Error::InvalidInput { .. } => "invalid_input",
        _ => "invalid_data",
    };
    Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, code, error.to_string())
}
