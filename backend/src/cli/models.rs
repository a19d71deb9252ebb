//! `causeway models`, `causeway import` and `causeway export`: the model store from
//! the command line.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use causeway_estimators::io::graphml::{read_model, write_model};
use causeway_estimators::Error;
use clap::Args;

use super::{runtime, CommandError, Format};
use crate::config::Settings;
use crate::store::{self, validate_name, ModelRef};

/// Arguments of `causeway models`.
#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Arguments of `causeway import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A model document in GraphML.
    #[arg(value_name = "FILE.graphml")]
    file: PathBuf,
    /// Save under this name instead of the document's.
    #[arg(long)]
    name: Option<String>,
    /// Record this author in the version instead of the document's.
    #[arg(long)]
    author: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Arguments of `causeway export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// `name`, `name@latest` or `name@N`.
    #[arg(value_name = "NAME[@VERSION]")]
    model: String,
    /// Write the GraphML here instead of to standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

pub fn list(args: &ModelsArgs, settings: &Settings) -> Result<(), CommandError> {
    let summaries = runtime()?.block_on(async {
        let store = store::open(settings).await?;
        store.list().await
    })?;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &summaries).context("writing JSON")?;
            writeln!(out).context("writing JSON")?;
        }
        Format::Text if summaries.is_empty() => {
            writeln!(
                out,
                "no models stored yet; `causeway import FILE.graphml` adds one"
            )
            .context("writing")?;
        }
        Format::Text => {
            writeln!(out, "{:<30} {:<20} latest created", "model", "versions")
                .context("writing")?;
            for s in &summaries {
                let versions: Vec<String> = s.versions.iter().map(u32::to_string).collect();
                writeln!(
                    out,
                    "{:<30} {:<20} {}",
                    s.name,
                    versions.join(", "),
                    s.latest_created_at
                )
                .context("writing")?;
            }
        }
    }
    Ok(())
}

pub fn import(args: &ImportArgs, settings: &Settings) -> Result<(), CommandError> {
    let text = read_text(&args.file)?;
    let mut model = read_model(&text, &args.file.display().to_string())?;
    if let Some(name) = &args.name {
        validate_name(name)?;
        model.name = name.clone();
    }
    if let Some(author) = &args.author {
        model.created_by = Some(author.clone());
    }
    let saved = runtime()?.block_on(async {
        let store = store::open(settings).await?;
        store.save(model).await
    })?;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => writeln!(
            out,
            "{}",
            serde_json::json!({"model_id": saved.model_id, "name": saved.name, "version": saved.version})
        ),
        Format::Text => writeln!(
            out,
            "saved {} ({} variables, {} edges)",
            saved.model_id,
            saved.variables.len(),
            saved.edges.len()
        ),
    }
    .context("writing")?;
    Ok(())
}

pub fn export(args: &ExportArgs, settings: &Settings) -> Result<(), CommandError> {
    let reference = ModelRef::parse(&args.model)?;
    let model = runtime()?.block_on(async {
        let store = store::open(settings).await?;
        store.get(&reference).await
    })?;
    let graphml = write_model(&model)?;
    match &args.output {
        Some(path) => std::fs::write(path, graphml).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?,
        None => std::io::stdout()
            .lock()
            .write_all(graphml.as_bytes())
            .context("writing GraphML")?,
    }
    Ok(())
}

fn read_text(path: &Path) -> Result<String, CommandError> {
    std::fs::read_to_string(path).map_err(|source| {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
        .into()
    })
}
