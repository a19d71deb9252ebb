//! `causeway demo`: installs the three demo models (retail, factory, onboarding)
//! into the configured store — once: a restart finds them and adds no versions —
//! then serves the web app exactly as `causeway serve` does, after printing the
//! address and example questions to ask.

use clap::Args;

use super::serve::serve_with;
use super::CommandError;
use crate::config::Settings;
use crate::demo::{self, DEFAULT_SEED};

/// Arguments of `causeway demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Listen address (CAUSEWAY_ADDR); port 0 picks a free port.
    #[arg(long, value_name = "HOST:PORT")]
    pub addr: Option<String>,
    /// Seed of the generated demo data (and of the fits).
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
}

pub fn run(args: &DemoArgs, settings: &Settings) -> Result<(), CommandError> {
    let seed = args.seed;
    // The mission's question names no model: on the demo it is about the retail
    // scenario unless the user configured another default.
    let mut settings = settings.clone();
    if settings.default_model.is_none() {
        settings.default_model = Some(demo::DEFAULT_MODEL.to_string());
    }
    serve_with(&settings, move |store| async move {
        let documents = demo::install(store.as_ref(), seed)
            .await
            .map_err(|e| match e {
                demo::DemoError::Store(e) => CommandError::Store(e),
                other => CommandError::Internal(other.into()),
            })?;
        let scenarios = demo::scenarios(seed);
        let mut lines = vec![String::new(), "demo models:".to_string()];
        for (document, scenario) in documents.iter().zip(&scenarios) {
            lines.push(format!("  {} — {}", document.model_id, scenario.title));
        }
        lines.push(String::new());
        lines.push("ask, for example:".to_string());
        for (document, scenario) in documents.iter().zip(&scenarios) {
            lines.push(format!("  [{}]", document.name));
            for question in &scenario.questions {
                lines.push(format!("    {question}"));
            }
        }
        Ok(lines)
    })
}
