//! The JSON API under `/api/v1/`. Errors have one shape, `{"error": {"code",
//! "message"}}`: user mistakes are 4xx with a message a person can act on; store
//! failures are an opaque 500, logged with their cause.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::AppState;
use crate::store::{ModelRef, ModelSummary, StoreError};
use causeway_estimators::model::ModelDocument;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/models", get(list_models))
        .route("/models/{reference}", get(get_model))
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
