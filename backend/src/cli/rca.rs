//! `causeway rca`: root causes of an anomalous KPI value (one row) or of a change
//! of a KPI's mean between two periods, from a fitted structural model.
//!
//! The numbers are the engine's ([`StructuralModel::attribute_anomaly`] and
//! [`StructuralModel::attribute_change`]); this module reads the files, picks the
//! targets (the named ones, else every numeric KPI) and prints the result.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use causeway_estimators::data::{Dataset, LoadOptions};
use causeway_estimators::format::number;
use causeway_estimators::model::{Role, VariableKind};
use causeway_estimators::scm::rca::{AnomalyAttribution, ChangeAttribution, RcaOptions};
use causeway_estimators::scm::StructuralModel;
use clap::Args;
use serde::Serialize;

use super::{whatif, CommandError, Format};
use crate::config::Settings;

/// Arguments of `causeway rca`.
#[derive(Debug, Args)]
pub struct RcaArgs {
    /// A stored model (`name`, `name@N`) or a model document file.
    #[arg(long, value_name = "NAME|FILE")]
    model: String,
    /// The CSV holding the anomalous row (with `--row`).
    #[arg(long, value_name = "FILE", requires = "row")]
    data: Option<PathBuf>,
    /// The row (0-based) of `--data` whose KPI values are to be explained.
    #[arg(long, value_name = "N", requires = "data", conflicts_with_all = ["before", "after"])]
    row: Option<usize>,
    /// The CSV of the period before the change (with `--after`).
    #[arg(long, value_name = "FILE", requires = "after")]
    before: Option<PathBuf>,
    /// The CSV of the period after the change (with `--before`).
    #[arg(long, value_name = "FILE", requires = "before")]
    after: Option<PathBuf>,
    /// A variable to explain (repeatable); default: every numeric KPI.
    #[arg(long = "target", value_name = "NAME")]
    targets: Vec<String>,
    /// Particles each coalition of causes is evaluated on.
    #[arg(long, default_value_t = RcaOptions::default().samples)]
    samples: usize,
    /// Seed of the particles and noise draws.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// The JSON report: the model and one attribution per target.
#[derive(Serialize)]
struct Report<T: Serialize> {
    model: String,
    kind: &'static str,
    results: Vec<T>,
}

pub fn run(args: &RcaArgs, settings: &Settings) -> Result<(), CommandError> {
    // Mode first, so a wrong combination is refused before any file is read.
    let mode = match (&args.data, args.row, &args.before, &args.after) {
        (Some(data), Some(row), None, None) => Mode::Anomaly { data, row },
        (None, None, Some(before), Some(after)) => Mode::Change { before, after },
        _ => {
            return Err(CommandError::Usage(
                "say what to explain: `--data F.csv --row N` (one anomalous row) or \
                 `--before A.csv --after B.csv` (a change between two periods)"
                    .into(),
            ))
        }
    };
    let loaded = whatif::load(&args.model, settings)?;
    let model = &loaded.model;
    let targets = targets(model, &args.targets)?;
    let options = RcaOptions {
        samples: args.samples,
        seed: args.seed,
        ..RcaOptions::default()
    };
    let load_options = LoadOptions {
        types: BTreeMap::new(),
        drop_missing: false,
    };
    let model_id = loaded.document.model_id.clone();
    let mut out = std::io::stdout().lock();
    match mode {
        Mode::Anomaly { data, row } => {
            let data = Dataset::from_csv_path(data, &load_options)?;
            let unit = model.encode_row(&data, row)?;
            let results = targets
                .iter()
                .map(|t| model.attribute_anomaly(t, &unit, &options))
                .collect::<Result<Vec<_>, _>>()?;
            match args.format {
                Format::Json => write_json(&mut out, &model_id, "anomaly", results)?,
                Format::Text => {
                    writeln!(
                        out,
                        "Root causes of row {row} in {} ({model_id})",
                        data.source()
                    )
                    .context("writing")?;
                    for result in &results {
                        write_anomaly(&mut out, result).context("writing")?;
                    }
                }
            }
        }
        Mode::Change { before, after } => {
            let before = Dataset::from_csv_path(before, &load_options)?;
            let after = Dataset::from_csv_path(after, &load_options)?;
            let results = targets
                .iter()
                .map(|t| model.attribute_change(&before, &after, t, &options))
                .collect::<Result<Vec<_>, _>>()?;
            match args.format {
                Format::Json => write_json(&mut out, &model_id, "change", results)?,
                Format::Text => {
                    writeln!(
                        out,
                        "What changed between {} and {} ({model_id})",
                        before.source(),
                        after.source()
                    )
                    .context("writing")?;
                    for result in &results {
                        write_change(&mut out, result).context("writing")?;
                    }
                }
            }
        }
    }
    Ok(())
}

enum Mode<'a> {
    Anomaly {
        data: &'a PathBuf,
        row: usize,
    },
    Change {
        before: &'a PathBuf,
        after: &'a PathBuf,
    },
}

/// The targets asked for (checked against the model, with the nearest name for an
/// unknown one), or every KPI that is a number or a 0/1 variable.
fn targets(model: &StructuralModel, asked: &[String]) -> Result<Vec<String>, CommandError> {
    if !asked.is_empty() {
        for name in asked {
            model.index_of(name)?;
        }
        return Ok(asked.to_vec());
    }
    let kpis: Vec<String> = model
        .nodes
        .iter()
        .filter(|n| n.role == Role::Kpi && n.kind != VariableKind::Categorical)
        .map(|n| n.name.clone())
        .collect();
    if kpis.is_empty() {
        return Err(CommandError::Usage(
            "the model has no numeric KPI to explain; name one with --target".into(),
        ));
    }
    Ok(kpis)
}

fn write_json<T: Serialize>(
    out: &mut impl Write,
    model: &str,
    kind: &'static str,
    results: Vec<T>,
) -> Result<(), CommandError> {
    let report = Report {
        model: model.to_string(),
        kind,
        results,
    };
    serde_json::to_writer_pretty(&mut *out, &report).context("writing JSON")?;
    writeln!(out).context("writing JSON")?;
    Ok(())
}

fn write_anomaly(out: &mut impl Write, result: &AnomalyAttribution) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "{} = {} (population median {}), outlier score {:.2}",
        result.target,
        number(result.value),
        number(result.baseline_median),
        result.outlier_score
    )?;
    writeln!(
        out,
        "  contribution of each cause's noise (they add up to the score):"
    )?;
    for a in &result.attributions {
        writeln!(out, "    {:<24} {:>+9.3}", a.variable, a.contribution)?;
    }
    writeln!(out, "  method: {}", result.method)?;
    for note in &result.notes {
        writeln!(out, "  note: {note}")?;
    }
    Ok(())
}

fn write_change(out: &mut impl Write, result: &ChangeAttribution) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "{}: mean {} → {} (change {}; the model accounts for {})",
        result.target,
        number(result.before_mean),
        number(result.after_mean),
        signed(result.change),
        signed(result.modelled_change)
    )?;
    writeln!(out, "  contribution of each changed mechanism:")?;
    for a in &result.attributions {
        writeln!(out, "    {:<24} {:>12}", a.variable, signed(a.contribution))?;
    }
    writeln!(out, "  method: {}", result.method)?;
    for note in &result.notes {
        writeln!(out, "  note: {note}")?;
    }
    Ok(())
}

fn signed(value: f64) -> String {
    if value > 0.0 {
        format!("+{}", number(value))
    } else {
        number(value)
    }
}
