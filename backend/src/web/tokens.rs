//! Token management over the JSON API, for admins: the routes that `causeway token
//! create | list | revoke` are on the command line.
//!
//! | route | does | answers |
//! |---|---|---|
//! | `GET /api/v1/tokens` | lists the tokens | 200, ids, roles, labels and dates; never a secret or a hash |
//! | `POST /api/v1/tokens` `{"role": "analyst", "name": "ci"}` | makes a token | 201 with its secret, shown this once |
//! | `DELETE /api/v1/tokens/{id}` | revokes it | 204; 404 for an unknown id |
//!
//! Every route takes an [`Admin`]: a viewer or analyst token gets 403. They work on
//! the same `tokens.json` as the commands ([`TokenStore`]), so a token made or
//! revoked here counts from the server's next request, and `causeway token list`
//! shows it. As for every route, a server without tokens is open: there anyone may
//! make the first token, which closes it. Revoking the last token opens the server
//! again, as the command does (it is logged as a warning).
//!
//! Errors have the API's one shape ([`error_body`]): a body that is not the JSON
//! above or an unknown role is a 400 that says what to send; a token file that
//! cannot be read or written is a 503, as in the token check in front of every
//! route, and is logged.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api::{error_body, ErrorBody};
use super::auth::{on_token_file, Admin};
use super::AppState;
use crate::auth::{Role, TokenError, TokenInfo, TokenStore};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
}

/// The body of `POST /api/v1/tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    /// `viewer`, `analyst` or `admin`; parsed by [`Role::parse`] so that a wrong one
    /// is answered with the list of roles.
    role: String,
    /// A label for people.
    #[serde(default)]
    name: Option<String>,
}

/// A new token: what `causeway token create --format json` prints.
#[derive(Debug, Serialize, ToSchema)]
struct CreatedToken {
    /// Public id (for `DELETE /api/v1/tokens/{id}`).
    id: String,
    /// What it allows.
    role: Role,
    /// Its label.
    name: Option<String>,
    /// When it was made.
    created_at: String,
    /// The secret, `cw_` and 64 hex digits: shown this once, never stored.
    token: String,
}

/// What a good request body looks like, for the messages of bad ones.
const CREATE_BODY: &str = r#"send {"role": "viewer|analyst|admin", "name": "…"} (name optional)"#;

/// Lists the tokens: ids, roles, labels and dates, never a secret or a hash.
/// Needs an admin token.
#[utoipa::path(
    get,
    path = "/tokens",
    tag = "tokens",
    responses(
        (status = 200, description = "The tokens", body = Vec<TokenInfo>),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's", body = ErrorBody),
        (status = 503, description = "The token file cannot be read", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn list_tokens(
    _: Admin,
    State(state): State<AppState>,
) -> Result<Json<Vec<TokenInfo>>, Response> {
    let tokens = on_token_file(&state.tokens, TokenStore::list)
        .await
        .map_err(token_error)?;
    Ok(Json(tokens))
}

/// Makes a token; its secret is in the answer, this once. Needs an admin token.
#[utoipa::path(
    post,
    path = "/tokens",
    tag = "tokens",
    request_body(content = CreateRequest, example = json!({"role": "analyst", "name": "ci"})),
    responses(
        (status = 201, description = "The new token, with its secret", body = CreatedToken),
        (status = 400, description = "Not the body above, or an unknown role", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's", body = ErrorBody),
        (status = 503, description = "The token file cannot be written", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn create_token(
    _: Admin,
    State(state): State<AppState>,
    body: Result<Json<CreateRequest>, JsonRejection>,
) -> Result<Response, Response> {
    let Json(request) = body.map_err(|rejection| {
        error_body(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("{}; {CREATE_BODY}", rejection.body_text()),
        )
    })?;
    let role = Role::parse(&request.role).ok_or_else(|| {
        error_body(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!(
                "`{}` is not a role; the roles are {}",
                request.role,
                role_names()
            ),
        )
    })?;
    let token = on_token_file(&state.tokens, move |tokens| {
        tokens.create(role, request.name)
    })
    .await
    .map_err(token_error)?;
    tracing::info!(id = %token.stored.id, role = %role, "token created over the API");
    // The shape of `causeway token create --format json`.
    let body = CreatedToken {
        id: token.stored.id,
        role: token.stored.role,
        name: token.stored.name,
        created_at: token.stored.created_at,
        token: token.secret,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Revokes a token: it fails from the server's next request. Needs an admin token.
#[utoipa::path(
    delete,
    path = "/tokens/{id}",
    tag = "tokens",
    params(("id" = String, Path, description = "The token's public id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token is not an admin's", body = ErrorBody),
        (status = 404, description = "No token with this id", body = ErrorBody),
        (status = 503, description = "The token file cannot be written", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn revoke_token(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, Response> {
    let revoked = id.clone();
    let left = on_token_file(&state.tokens, move |tokens| tokens.revoke(&revoked))
        .await
        .map_err(token_error)?;
    tracing::info!(%id, "token revoked over the API");
    if left == 0 {
        tracing::warn!("no tokens remain, so the server is open to everyone again");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// "viewer, analyst, admin".
fn role_names() -> String {
    Role::ALL.map(Role::name).join(", ")
}

/// The API's answer to a failure of the token file or a request it refused.
fn token_error(error: TokenError) -> Response {
    match &error {
        TokenError::UnknownId { id } => error_body(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no token with id `{id}`; GET /api/v1/tokens lists them"),
        ),
        TokenError::InvalidName(message) => {
            error_body(StatusCode::BAD_REQUEST, "invalid_request", message)
        }
        TokenError::Io { .. } | TokenError::Corrupt { .. } => {
            tracing::error!(%error, "the token file failed");
            error_body(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the server's token file cannot be read or written; see the server log",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The status and JSON body of a response built in memory.
    fn parts(response: Response) -> (StatusCode, serde_json::Value) {
        let status = response.status();
        let bytes = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[test]
    fn file_failures_are_503_without_details_and_mistakes_4xx() {
        let io = TokenError::Io {
            path: "data/tokens.json".into(),
            source: std::io::Error::other("disk full"),
        };
        let corrupt = TokenError::Corrupt {
            path: "data/tokens.json".into(),
            message: "expected value".into(),
        };
        for error in [io, corrupt] {
            let (status, body) = parts(token_error(error));
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(body["error"]["code"], "unavailable");
            let message = body["error"]["message"].as_str().unwrap();
            assert!(
                !message.contains("disk full") && !message.contains("data/"),
                "the cause goes to the log, not to the client: {message}"
            );
        }
        let (status, body) = parts(token_error(TokenError::UnknownId { id: "abc".into() }));
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["code"], "not_found");
        assert!(body["error"]["message"].as_str().unwrap().contains("`abc`"));
        let (status, body) = parts(token_error(TokenError::InvalidName("too long".into())));
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["message"], "too long");
    }

    #[test]
    fn the_roles_are_listed_in_order() {
        assert_eq!(role_names(), "viewer, analyst, admin");
    }
}
