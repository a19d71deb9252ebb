//! Who is asking: the token check in front of every route, the role check of the
//! write routes, and the login form that keeps a token in a cookie.
//!
//! [`authenticate`] runs before every handler (default deny: a route added later is
//! protected without anyone remembering to protect it). It lets through the health
//! checks, the login and logout forms and the Slack endpoints (which verify Slack's
//! own signature); everything else needs a valid token once any token exists, and
//! the caller is attached to the request as a [`Caller`]. Handlers that write take an
//! [`Analyst`] argument, which refuses a viewer with 403 before the body is read;
//! the token routes take an [`Admin`], which refuses viewers and analysts alike.
//! Both are the one check [`role_refusal`] with a different role.
//!
//! A token comes as `Authorization: Bearer cw_…` (scripts, the API) or in the
//! `causeway_token` cookie that `POST /login` sets (browsers). The cookie is
//! `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's form or link
//! sends it, which is what keeps the cookie-authorised forms safe from cross-site
//! requests) and `Secure`. Browsers that treat `localhost` as a secure context
//! (Chromium, Firefox) keep a `Secure` cookie on `http://localhost` and
//! `http://127.0.0.1`, so the local setup works without TLS; anywhere else the
//! server must be reached over HTTPS for the browser to keep the cookie.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::{Deserialize, Serialize};

use super::api::error_body;
use super::AppState;
use crate::auth::{verify, Role, StoredToken, TokenError, TokenInfo, TokenStore};

/// The cookie that holds a browser's token.
pub const COOKIE: &str = "causeway_token";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
}

/// Who made a request, as [`authenticate`] found it.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum Caller {
    /// No tokens are configured: everyone may do everything.
    Open,
    /// A valid token.
    Token(TokenInfo),
}

impl Caller {
    /// Whether the caller may do what `role` may.
    pub fn allows(&self, role: Role) -> bool {
        match self {
            Caller::Open => true,
            Caller::Token(token) => token.role >= role,
        }
    }

    /// Who saves a model version made in this request: the token's label, else its
    /// id; nobody on an open server.
    pub fn author(&self) -> Option<String> {
        match self {
            Caller::Open => None,
            Caller::Token(token) => Some(
                token
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("token {}", token.id)),
            ),
        }
    }

    /// One line for the page: the open mode, or the role and label signed in with.
    pub fn describe(&self) -> String {
        match self {
            Caller::Open => "open: no tokens configured".to_string(),
            Caller::Token(token) => match &token.name {
                Some(name) => format!("signed in: {} token “{name}”", token.role),
                None => format!("signed in: {} token {}", token.role, token.id),
            },
        }
    }
}

/// Routes that need no token: the health checks (load balancers carry none), the
/// login form (the way to get one in) and logout (it only clears a cookie), and
/// Slack's endpoints, which check Slack's signature on every request instead.
fn is_public(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/login" | "/logout") || path.starts_with("/slack/")
}

/// The tokens now (the file is re-read when it changed, off the async threads).
async fn current_tokens(tokens: &Arc<TokenStore>) -> Result<Vec<StoredToken>, TokenError> {
    on_token_file(tokens, TokenStore::current).await
}

/// Runs `work` on the token file off the async threads: every call is a `stat`, a
/// read or a write. A task that died is reported as a failure of the file.
pub(super) async fn on_token_file<T: Send + 'static>(
    tokens: &Arc<TokenStore>,
    work: impl FnOnce(&TokenStore) -> Result<T, TokenError> + Send + 'static,
) -> Result<T, TokenError> {
    let tokens = Arc::clone(tokens);
    tokio::task::spawn_blocking(move || work(&tokens))
        .await
        .unwrap_or_else(|e| {
            Err(TokenError::Io {
                path: crate::auth::TOKENS_FILE.into(),
                source: std::io::Error::other(e.to_string()),
            })
        })
}

/// The token a request carries: the bearer token if there is an `Authorization`
/// header, else the cookie's.
fn presented(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then_some(token.trim());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
}

/// The middleware in front of every route: see the module documentation.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    if is_public(request.uri().path()) {
        return next.run(request).await;
    }
    let tokens = match current_tokens(&state.tokens).await {
        Ok(tokens) => tokens,
        Err(error) => {
            // Closed, not open: a broken token file must not let everyone in.
            tracing::error!(%error, "cannot read the token file; refusing requests");
            return refusal(
                &request,
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the server's token file cannot be read; see the server log",
            );
        }
    };
    let caller = if tokens.is_empty() {
        Caller::Open
    } else {
        match presented(request.headers()) {
            Some(secret) => match verify(&tokens, secret) {
                Some(token) => Caller::Token(TokenInfo::from(token)),
                None => {
                    return unauthorised(&request, "the token is not valid (revoked or mistyped)")
                }
            },
            None => return unauthorised(
                &request,
                "this server needs a token: send `Authorization: Bearer cw_…` or sign in at /login",
            ),
        }
    };
    request.extensions_mut().insert(caller);
    next.run(request).await
}

fn is_api(request: &Request) -> bool {
    request.uri().path().starts_with("/api/")
}

/// No valid token: the API says 401 (with the `WWW-Authenticate` challenge); a
/// browser asking for a page is sent to the login form, which brings it back.
fn unauthorised(request: &Request, message: &str) -> Response {
    if !is_api(request) && matches!(*request.method(), Method::GET | Method::HEAD) {
        let back = request.uri().path_and_query().map_or("/", |p| p.as_str());
        return Redirect::to(&format!("/login?next={}", super::chat::urlencode(back)))
            .into_response();
    }
    let mut response = refusal(request, StatusCode::UNAUTHORIZED, "unauthorized", message);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"causeway\""),
    );
    response
}

/// A refusal in the request's language: JSON for the API, a short page otherwise.
fn refusal(request: &Request, status: StatusCode, code: &str, message: &str) -> Response {
    if is_api(request) {
        return error_body(status, code, message);
    }
    let body = format!(
        "<!doctype html><meta charset=\"utf-8\"><title>Causeway</title><p>{}</p><p><a href=\"/login\">Sign in</a></p>",
        super::chat::html_escape(message)
    );
    (status, Html(body)).into_response()
}

/// An argument for handlers that write: the caller holds at least an analyst token
/// (or the server is open). A viewer gets 403 before the handler runs.
pub struct Analyst;

impl<S: Send + Sync> FromRequestParts<S> for Analyst {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Response> {
        role_refusal(parts, Role::Analyst).map_or(Ok(Analyst), Err)
    }
}

/// An argument for handlers that manage tokens: the caller holds an admin token (or
/// the server is open). A viewer or an analyst gets 403 before the handler runs.
pub struct Admin;

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Response> {
        role_refusal(parts, Role::Admin).map_or(Ok(Admin), Err)
    }
}

/// The role check of [`Analyst`] and [`Admin`]: `None` when the caller
/// [`authenticate`] attached may do what `role` may, else the refusal: a 403 that
/// names the tokens allowed and the caller's.
fn role_refusal(parts: &Parts, role: Role) -> Option<Response> {
    match parts.extensions.get::<Caller>() {
        Some(caller) if caller.allows(role) => None,
        Some(Caller::Token(token)) => Some(error_body(
            StatusCode::FORBIDDEN,
            "forbidden",
            &format!(
                "this needs {}; token {} is {}",
                tokens_allowing(role),
                token.id,
                a_token_of(token.role)
            ),
        )),
        // Only a router built without `authenticate` gets here: refuse.
        _ => {
            tracing::error!("a route that checks roles ran without the token check");
            Some(error_body(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the server's access check is not configured; see the server log",
            ))
        }
    }
}

/// The tokens that may do what `role` may, in words.
fn tokens_allowing(role: Role) -> &'static str {
    match role {
        Role::Viewer => "a viewer, analyst or admin token",
        Role::Analyst => "an analyst or admin token",
        Role::Admin => "an admin token",
    }
}

/// "a viewer token", "an analyst token", "an admin token".
fn a_token_of(role: Role) -> &'static str {
    match role {
        Role::Viewer => "a viewer token",
        Role::Analyst => "an analyst token",
        Role::Admin => "an admin token",
    }
}

/// Where to go after signing in: a path on this server, else the chat.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(next)
            if next.starts_with('/')
                && !next.starts_with("//")
                && !next.starts_with("/\\")
                && next.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            next.to_string()
        }
        _ => "/".to_string(),
    }
}

#[derive(Debug, Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

async fn login_page(State(state): State<AppState>, Query(query): Query<LoginQuery>) -> Response {
    let next = safe_next(query.next.as_deref());
    match current_tokens(&state.tokens).await {
        Ok(tokens) => login_form(&state, tokens.is_empty(), &next, None, StatusCode::OK),
        Err(error) => {
            tracing::error!(%error, "cannot read the token file");
            login_form(
                &state,
                false,
                &next,
                Some("The server's token file cannot be read; see the server log."),
                StatusCode::SERVICE_UNAVAILABLE,
            )
        }
    }
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    #[serde(default)]
    token: String,
    next: Option<String>,
}

async fn login(State(state): State<AppState>, Form(form): Form<LoginForm>) -> Response {
    let next = safe_next(form.next.as_deref());
    let tokens = match current_tokens(&state.tokens).await {
        Ok(tokens) => tokens,
        Err(error) => {
            tracing::error!(%error, "cannot read the token file");
            return login_form(
                &state,
                false,
                &next,
                Some("The server's token file cannot be read; see the server log."),
                StatusCode::SERVICE_UNAVAILABLE,
            );
        }
    };
    if tokens.is_empty() {
        return Redirect::to(&next).into_response();
    }
    let secret = form.token.trim();
    if verify(&tokens, secret).is_none() {
        return login_form(
            &state,
            false,
            &next,
            Some("That token is not valid: it may have been revoked or mistyped."),
            StatusCode::UNAUTHORIZED,
        );
    }
    // A verified token is `cw_` and hex digits, so it is a valid cookie value.
    let cookie = format!("{COOKIE}={secret}; Path=/; HttpOnly; Secure; SameSite=Strict");
    let mut response = Redirect::to(&next).into_response();
    match HeaderValue::from_str(&cookie) {
        Ok(value) => {
            response.headers_mut().insert(header::SET_COOKIE, value);
            response
        }
        Err(_) => login_form(
            &state,
            false,
            &next,
            Some("That token is not valid."),
            StatusCode::UNAUTHORIZED,
        ),
    }
}

async fn logout() -> Response {
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "causeway_token=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0",
        ),
    );
    response
}

fn login_form(
    state: &AppState,
    open: bool,
    next: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let mut context = tera::Context::new();
    context.insert("open", &open);
    context.insert("next", next);
    context.insert("error", &error);
    match state.templates.render("login.html", &context) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(cause = ?e, "rendering login.html");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<!doctype html><title>Error</title><p>Something went wrong on our side; the server log has the details.</p>".to_string()),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_wins_over_the_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("other=1; causeway_token=cw_cookie"),
        );
        assert_eq!(presented(&headers), Some("cw_cookie"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer cw_header"),
        );
        assert_eq!(presented(&headers), Some("cw_header"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic dXNlcjpwYXNz"),
        );
        assert_eq!(presented(&headers), None);
    }

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(safe_next(Some("/?c=1&model=retail")), "/?c=1&model=retail");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/a\r\nSet-Cookie: x")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn slack_and_health_need_no_token_and_the_rest_does() {
        assert!(is_public("/healthz") && is_public("/slack/events") && is_public("/login"));
        assert!(!is_public("/") && !is_public("/api/v1/models") && !is_public("/models"));
        assert!(!is_public("/slackers"));
    }
}
