//! The HTTP server: `app(state)` builds the router that `causeway serve` runs and
//! that tests drive in-process.
//!
//! It serves the web chat (`/`, [`chat`]), the model browser (`/models`,
//! [`browse`]), upload-and-fit (`/fit`, `/jobs/{id}`, [`jobs`]), health checks,
//! the JSON API under `/api/v1/` (models and what-if in [`api`], fit jobs in
//! [`jobs`], estimates in [`estimate`], tokens for admins in [`tokens`], all
//! described by the OpenAPI document of [`openapi`]) and the Slack bot under
//! `/slack/` ([`slack`]); every answer goes through the one [`Planner`].
//! [`auth::authenticate`] stands in front of all of them: once any token exists,
//! only the health checks, the login form and Slack (which checks its own
//! signatures) answer without one.

pub mod api;
pub mod auth;
pub mod browse;
pub mod chat;
pub mod estimate;
mod health;
pub mod jobs;
pub mod openapi;
pub mod slack;
pub mod svg;
pub mod tokens;
pub mod upload;

use std::sync::Arc;

use axum::{middleware, Router};
use tera::Tera;

use crate::auth::TokenStore;
use crate::chat::translator;
use crate::config::Settings;
use crate::jobs::Jobs;
use crate::planner::Planner;
use crate::store::ModelStore;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Where models are stored.
    pub store: Arc<dyn ModelStore>,
    /// Question → answer, for every surface.
    pub planner: Arc<Planner>,
    /// The HTML templates of `templates/`.
    pub templates: Arc<Tera>,
    /// Chat conversations and recent answers.
    pub sessions: Arc<chat::Sessions>,
    /// Whether a language model reads questions (otherwise the offline parser).
    pub llm_configured: bool,
    /// The Slack bot, when a signing secret is configured.
    pub slack: Option<Arc<slack::Slack>>,
    /// The access tokens (`tokens.json` in the data directory, re-read when it
    /// changes); none means the server is open.
    pub tokens: Arc<TokenStore>,
    /// Fit jobs started from uploads.
    pub jobs: Arc<Jobs>,
    /// The largest upload accepted, in bytes.
    pub max_upload_bytes: u64,
}

/// Why the application state could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The language-model settings are unusable.
    #[error(transparent)]
    Llm(#[from] crate::chat::llm::LlmError),
    /// A template does not parse (a bug caught at start, not at the first page).
    #[error("templates: {0}")]
    Templates(String),
    /// The Slack client could not be built.
    #[error("slack: {0}")]
    Slack(String),
}

impl AppState {
    /// The state for `store` with the translator, default model and Slack bot of
    /// `settings`; links in Slack answers start with `settings.public_url`, else
    /// `http://` and the listen address.
    pub fn new(store: Arc<dyn ModelStore>, settings: &Settings) -> Result<Self, StateError> {
        let planner = Planner::new(
            Arc::clone(&store),
            translator(settings)?,
            settings.default_model.clone(),
        );
        let public_url = settings
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", settings.addr));
        let slack = match &settings.slack {
            Some(slack) => Some(Arc::new(
                slack::Slack::new(slack, public_url).map_err(StateError::Slack)?,
            )),
            None => None,
        };
        Ok(AppState {
            store: Arc::clone(&store),
            planner: Arc::new(planner),
            templates: Arc::new(templates()?),
            sessions: Arc::new(chat::Sessions::default()),
            llm_configured: settings.llm.is_some(),
            slack,
            tokens: Arc::new(TokenStore::new(&settings.data_dir)),
            jobs: Arc::new(Jobs::new(Arc::clone(&store), &settings.data_dir)),
            max_upload_bytes: settings.max_upload_bytes,
        })
    }

    /// Which parser reads questions, for the page.
    pub fn translator_name(&self) -> &'static str {
        if self.llm_configured {
            "language model (validated against the model, with the offline parser as fallback)"
        } else {
            "offline parser (no language model is configured)"
        }
    }
}

/// The templates, compiled into the binary so that it runs from any directory.
pub fn templates() -> Result<Tera, StateError> {
    let mut tera = Tera::default();
    tera.add_raw_templates(vec![
        ("base.html", include_str!("../../../templates/base.html")),
        ("chat.html", include_str!("../../../templates/chat.html")),
        (
            "answer.html",
            include_str!("../../../templates/answer.html"),
        ),
        (
            "_answer.html",
            include_str!("../../../templates/_answer.html"),
        ),
        ("_turn.html", include_str!("../../../templates/_turn.html")),
        (
            "models.html",
            include_str!("../../../templates/models.html"),
        ),
        ("model.html", include_str!("../../../templates/model.html")),
        ("diff.html", include_str!("../../../templates/diff.html")),
        (
            "browse_error.html",
            include_str!("../../../templates/browse_error.html"),
        ),
        ("login.html", include_str!("../../../templates/login.html")),
        ("fit.html", include_str!("../../../templates/fit.html")),
        ("job.html", include_str!("../../../templates/job.html")),
    ])
    .map_err(|e| StateError::Templates(format!("{e:?}")))?;
    Ok(tera)
}

/// The whole application's routes, every one behind the token check.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .merge(auth::router())
        .merge(chat::router())
        .merge(browse::router())
        .merge(jobs::page_router())
        .merge(slack::router())
        .merge(openapi::api())
        .with_state(state.clone())
        .layer(middleware::from_fn_with_state(state, auth::authenticate))
}

/// Serves `app` on `listener` until Ctrl-C or SIGTERM; then fit jobs are cancelled
/// and their event streams end, so that open connections finish.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    let jobs = Arc::clone(&state.jobs);
    axum::serve(listener, app(state))
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            jobs.shutdown();
        })
        .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
