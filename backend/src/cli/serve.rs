//! `causeway serve`: the web server on the configured store.

use std::future::Future;
use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use super::CommandError;
use crate::auth::TokenStore;
use crate::config::Settings;
use crate::store::{self, ModelStore};
use crate::web::{serve, AppState};

/// Arguments of `causeway serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen address (CAUSEWAY_ADDR); port 0 picks a free port.
    #[arg(long, value_name = "HOST:PORT")]
    pub addr: Option<String>,
}

pub fn run(settings: &Settings) -> Result<(), CommandError> {
    serve_with(settings, |_| async { Ok(Vec::new()) })
}

/// Opens the store, runs `prepare` on it, binds the listen address, prints
/// `listening on http://ADDRESS` and then the lines `prepare` returned, and serves
/// until interrupted. `causeway serve` prepares nothing; `causeway demo` installs
/// its models and prints example questions.
pub(super) fn serve_with<P, F>(settings: &Settings, prepare: P) -> Result<(), CommandError>
where
    P: FnOnce(Arc<dyn ModelStore>) -> F,
    F: Future<Output = Result<Vec<String>, CommandError>>,
{
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let store = store::open(settings).await?;
        // A token file that cannot be read would refuse every request: say so now,
        // before anything listens.
        match TokenStore::new(&settings.data_dir).current()? {
            tokens if tokens.is_empty() => {
                tracing::warn!("open: no tokens configured, so everyone may read and write");
            }
            tokens => tracing::info!(tokens = tokens.len(), "a token is required"),
        }
        let lines = prepare(Arc::clone(&store)).await?;
        let listener = tokio::net::TcpListener::bind(&settings.addr)
            .await
            .map_err(|e| CommandError::Usage(format!("cannot listen on {}: {e}", settings.addr)))?;
        let address = listener
            .local_addr()
            .context("reading the listen address")?;
        // Tests and scripts read this first line to find the port. A reader that
        // stops reading (`causeway demo | head -1`) must not stop the server: the
        // lines are a courtesy, serving is the job.
        let mut out = std::io::stdout().lock();
        let printed = std::iter::once(format!("listening on http://{address}"))
            .chain(lines)
            .try_for_each(|line| writeln!(out, "{line}"))
            .and_then(|()| out.flush());
        if let Err(e) = printed {
            tracing::warn!(error = %e, "could not print the startup lines; serving anyway");
        }
        drop(out);
        tracing::info!(%address, "serving");
        // Links (in Slack answers) name the bound port, not the `:0` that asked
        // for one, unless a public address is configured.
        let mut settings = settings.clone();
        if settings.public_url.is_none() {
            settings.public_url = Some(format!("http://{address}"));
        }
        let state =
            AppState::new(store, &settings).map_err(|e| CommandError::Usage(e.to_string()))?;
        serve(listener, state).await.context("serving")?;
        Ok(())
    })
}
