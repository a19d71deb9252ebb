//! `causeway fit`: data + DAG → a structural causal model, saved as the next
//! version of a named model (and optionally written as GraphML with its
//! mechanisms next to it).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use causeway_estimators::data::{ColumnType, Dataset, LoadOptions};
use causeway_estimators::format::number;
use causeway_estimators::graph::CausalGraph;
use causeway_estimators::learners::forest::ForestParams;
use causeway_estimators::model::ModelDocument;
use causeway_estimators::scm::document::{sha256_hex, VariableNotes};
use causeway_estimators::scm::mechanism::HeldOutFit;
use causeway_estimators::scm::{FitOptions, MechanismChoice, NodeMechanism, StructuralModel};
use causeway_estimators::Error;
use clap::Args;
use serde::Serialize;

use super::estimate::parse_type;
use super::progress::Bar;
use super::{runtime, CommandError, Format};
use crate::clock::now_rfc3339;
use crate::config::Settings;
use crate::engine::write_model_files;
use crate::store::{self, validate_name};

/// Arguments of `causeway fit`.
#[derive(Debug, Args)]
pub struct FitArgs {
    /// CSV file with a header row.
    #[arg(long, value_name = "FILE")]
    data: PathBuf,
    /// Causal DAG: GraphML (.graphml), DOT (.dot, .gv) or an edge list (any other name).
    #[arg(long, value_name = "FILE")]
    dag: PathBuf,
    /// The model's name; the store gives it the next version.
    #[arg(long)]
    name: String,
    /// Variables the business can change.
    #[arg(long, value_name = "NAME", value_delimiter = ',', required = true)]
    levers: Vec<String>,
    /// Outcomes the business watches.
    #[arg(long, value_name = "NAME", value_delimiter = ',', required = true)]
    kpis: Vec<String>,
    /// Mechanism of continuous variables: linear, forest, or auto (per variable,
    /// whichever predicts held-out rows better).
    #[arg(long, default_value = "linear")]
    mechanism: MechanismChoice,
    /// Rows kept with the model for answering (a seeded sample beyond it).
    #[arg(long, default_value_t = 20_000)]
    keep_rows: usize,
    /// What people call the variables: a TOML file with one table per variable,
    /// e.g. `[tv_spend]` `label = "TV advertising"` `aliases = ["TV ads", "電視廣告"]`
    /// `unit = "USD"`. The chat finds variables by these names.
    #[arg(long, value_name = "FILE.toml")]
    notes: Option<PathBuf>,
    /// Override a column's inferred type, e.g. `--type zip=categorical`.
    #[arg(long = "type", value_name = "COLUMN=TYPE", value_parser = parse_type)]
    types: Vec<(String, ColumnType)>,
    /// Drop rows with missing values instead of refusing the file.
    #[arg(long)]
    drop_missing: bool,
    /// Also write the model document here (GraphML; its mechanisms go next to it as
    /// NAME.mechanisms.json).
    #[arg(long, short, value_name = "FILE.graphml")]
    output: Option<PathBuf>,
    /// Do not save to the store (with --output: only write the files).
    #[arg(long, requires = "output")]
    no_save: bool,
    /// Who fitted the model, recorded in the version (the model browser shows it).
    #[arg(long)]
    author: Option<String>,
    /// Seed of the held-out split, the kept sample and the forests.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// What `--format json` prints.
#[derive(Debug, Serialize)]
struct FitReport<'a> {
    model: &'a str,
    saved: bool,
    output: Option<String>,
    n_rows: usize,
    kept_rows: usize,
    variables: Vec<VariableReport>,
}

#[derive(Debug, Serialize)]
struct VariableReport {
    name: String,
    role: &'static str,
    kind: &'static str,
    mechanism: &'static str,
    parents: Vec<String>,
    held_out: Option<HeldOutFit>,
}

pub fn run(args: &FitArgs, settings: &Settings) -> Result<(), CommandError> {
    validate_name(&args.name)?;
    let bytes = std::fs::read(&args.data).map_err(|source| Error::Io {
        path: args.data.clone(),
        source,
    })?;
    let options = LoadOptions {
        types: args.types.iter().cloned().collect::<BTreeMap<_, _>>(),
        drop_missing: args.drop_missing,
    };
    let data = Dataset::from_csv_path(&args.data, &options)?;
    let graph = CausalGraph::load(&args.dag)?;
    let fit_options = FitOptions {
        mechanism: args.mechanism,
        forest: ForestParams {
            seed: args.seed,
            ..ForestParams::default()
        },
        keep_rows: args.keep_rows,
        seed: args.seed,
        levers: args.levers.clone(),
        kpis: args.kpis.clone(),
    };
    let notes = match &args.notes {
        Some(path) => read_notes(path, &graph)?,
        None => BTreeMap::new(),
    };
    let model = StructuralModel::fit_with_progress(
        &data,
        &graph,
        &fit_options,
        &Bar::for_output(args.format == Format::Text),
    )?;
    let (mut document, mechanisms) =
        model.to_document(&args.name, &notes, &sha256_hex(&bytes), &now_rfc3339())?;
    document.created_by = args.author.clone();

    let saved: ModelDocument = if args.no_save {
        document.clone()
    } else {
        let text: std::sync::Arc<str> = std::sync::Arc::from(mechanisms.as_str());
        runtime()?.block_on(async {
            let store = store::open(settings).await?;
            store
                .save_with_mechanisms(document.clone(), Some(text))
                .await
        })?
    };
    if let Some(path) = &args.output {
        write_model_files(path, &saved, Some(&mechanisms))?;
    }

    let report = FitReport {
        model: &saved.model_id,
        saved: !args.no_save,
        output: args.output.as_ref().map(|p| p.display().to_string()),
        n_rows: model.n_rows,
        kept_rows: model.population_rows.len(),
        variables: model
            .nodes
            .iter()
            .map(|node| VariableReport {
                name: node.name.clone(),
                role: node.role.name(),
                kind: node.kind.name(),
                mechanism: match &node.mechanism {
                    NodeMechanism::Empirical => "empirical",
                    NodeMechanism::Fitted { mechanism, .. } => mechanism.kind().name(),
                },
                parents: node
                    .parents
                    .iter()
                    .map(|&p| model.nodes[p].name.clone())
                    .collect(),
                held_out: match &node.mechanism {
                    NodeMechanism::Empirical => None,
                    NodeMechanism::Fitted { held_out, .. } => Some(*held_out),
                },
            })
            .collect(),
    };
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &report).context("writing JSON")?;
            writeln!(out).context("writing JSON")?;
        }
        Format::Text => write_text(&mut out, &report, &saved).context("writing")?,
    }
    Ok(())
}

/// Reads a `--notes` file ([`crate::notes`]); every table must name a variable of
/// the graph.
fn read_notes(
    path: &std::path::Path,
    graph: &CausalGraph,
) -> Result<BTreeMap<String, VariableNotes>, CommandError> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let variables: Vec<&str> = graph.node_names().collect();
    crate::notes::parse(&text, &path.display().to_string(), &variables).map_err(CommandError::Usage)
}

fn write_text(
    out: &mut impl Write,
    report: &FitReport,
    document: &ModelDocument,
) -> std::io::Result<()> {
    let place = match (report.saved, &report.output) {
        (true, Some(path)) => format!("saved as {} and written to {path}", report.model),
        (true, None) => format!("saved as {}", report.model),
        (false, Some(path)) => format!("written to {path} (not saved)"),
        (false, None) => "not saved".to_string(),
    };
    writeln!(
        out,
        "structural causal model fitted on {} rows ({} kept for answering); {place}",
        report.n_rows, report.kept_rows
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<24} {:<11} {:<12} {:<16} {:<24} parents",
        "variable", "role", "kind", "mechanism", "held-out fit"
    )?;
    for v in &report.variables {
        let fit = v.held_out.map_or_else(
            || "—".to_string(),
            |h| match h {
                HeldOutFit::RSquared(r2) => format!("R² {r2:.3}"),
                HeldOutFit::LogLoss { log_loss, baseline } => {
                    format!("log-loss {log_loss:.3} / {baseline:.3}")
                }
            },
        );
        writeln!(
            out,
            "{:<24} {:<11} {:<12} {:<16} {:<24} {}",
            v.name,
            v.role,
            v.kind,
            v.mechanism,
            fit,
            if v.parents.is_empty() {
                "—".to_string()
            } else {
                v.parents.join(", ")
            }
        )?;
    }
    writeln!(out)?;
    writeln!(out, "direct effects (per unit of the cause):")?;
    for edge in &document.edges {
        let effect = edge.effect.map_or_else(|| "—".to_string(), number);
        let interval = match (edge.ci_low, edge.ci_high) {
            (Some(low), Some(high)) => format!("  95% CI {} to {}", number(low), number(high)),
            _ => String::new(),
        };
        writeln!(
            out,
            "  {} → {}: {effect}{interval}",
            edge.source, edge.target
        )?;
    }
    Ok(())
}
