//! The HTTP server: `app(state)` builds the router that `causeway serve` runs and
//! that tests drive in-process.
//!
//! Today it serves health checks and the model list; the chat, the model browser
//! and the rest of the JSON API build on the same state.

mod api;
mod health;

use std::sync::Arc;

use axum::Router;

use crate::store::ModelStore;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Where models are stored.
    pub store: Arc<dyn ModelStore>,
}

/// The whole application's routes.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .nest("/api/v1", api::router())
        .with_state(state)
}

/// Serves `app` on `listener` until Ctrl-C or SIGTERM.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown_signal())
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
