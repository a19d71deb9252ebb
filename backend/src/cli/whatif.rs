//! `causeway whatif`: ask a fitted model what happens under interventions.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use causeway_estimators::scm::{Intervention, WhatIfOptions};
use clap::Args;

use super::progress::Bar;
use super::{runtime, CommandError, Format};
use crate::chat::WhatIfQuery;
use crate::config::Settings;
use crate::engine::{answer_with_progress, load_model_file, EngineError, LoadedModel, ModelCache};
use crate::store::{self, ModelRef};

/// Arguments of `causeway whatif`.
#[derive(Debug, Args)]
pub struct WhatIfArgs {
    /// A stored model (`name`, `name@N`) or a model document file (`.graphml`, with
    /// its `.mechanisms.json` next to it).
    #[arg(long, value_name = "NAME|FILE")]
    model: String,
    /// An intervention: `tv_spend*=0.9` (scale), `price+=2` (shift), `promo=1` or
    /// `region=north` (set), optionally `... if region==north`. Repeat for several.
    #[arg(long = "do", value_name = "CHANGE", required = true, value_parser = parse_intervention)]
    interventions: Vec<Intervention>,
    /// A variable to report (repeatable); default: every KPI.
    #[arg(long = "target", value_name = "NAME")]
    targets: Vec<String>,
    /// A row of the fitted data (0-based) for a counterfactual answer about that unit.
    #[arg(long, value_name = "ROW")]
    unit: Option<usize>,
    /// Bootstrap refits for the 95% intervals (0: no intervals).
    #[arg(long, default_value_t = 200)]
    bootstrap: usize,
    /// Seed of the bootstrap.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

fn parse_intervention(text: &str) -> Result<Intervention, String> {
    Intervention::parse(text).map_err(|e| e.to_string())
}

/// The model a `--model` argument names: a file when it looks like one, else a
/// stored model.
pub(super) fn load(model: &str, settings: &Settings) -> Result<Arc<LoadedModel>, CommandError> {
    let path = Path::new(model);
    if model.ends_with(".graphml") || path.is_file() {
        return Ok(Arc::new(load_model_file(path)?));
    }
    let reference = ModelRef::parse(model)?;
    runtime()?.block_on(async {
        let store = store::open(settings).await?;
        ModelCache::default()
            .load(store.as_ref(), &reference)
            .await
            .map_err(|e| match e {
                EngineError::Store(e) => CommandError::Store(e),
                EngineError::Input(e) => CommandError::Input(e),
            })
    })
}

pub fn run(args: &WhatIfArgs, settings: &Settings) -> Result<(), CommandError> {
    let loaded = load(&args.model, settings)?;
    let query = WhatIfQuery {
        model: None,
        interventions: args.interventions.clone(),
        targets: (!args.targets.is_empty()).then(|| args.targets.clone()),
        unit: args.unit,
    };
    let options = WhatIfOptions {
        bootstrap: args.bootstrap,
        seed: args.seed,
        ..WhatIfOptions::default()
    };
    let result = answer_with_progress(
        &loaded,
        query,
        &options,
        None,
        &Bar::for_output(args.format == Format::Text),
    )?;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &result).context("writing JSON")?;
            writeln!(out).context("writing JSON")?;
        }
        Format::Text => result.write_text(&mut out).context("writing")?,
    }
    Ok(())
}
