//! `causeway estimate`: data + DAG → identification → estimate → refutations.
//!
//! The flags become an [`EstimateRequest`] and the work is
//! [`crate::estimation::run`], the same as `POST /api/v1/estimate`'s; this module
//! reads the files and prints the report.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use causeway_estimators::data::{ColumnType, Dataset, LoadOptions};
use causeway_estimators::estimate::Method;
use causeway_estimators::format::number;
use causeway_estimators::graph::CausalGraph;
use clap::{Args, ValueEnum};

use super::progress::Bar;
use super::{CommandError, Format};
use crate::estimation::{self, EstimateRequest, EstimationError, Nuisance, Report, Surface};

/// Arguments of `causeway estimate`.
#[derive(Debug, Args)]
pub struct EstimateArgs {
    /// CSV file with a header row.
    #[arg(long, value_name = "FILE")]
    data: PathBuf,
    /// Causal DAG: GraphML (.graphml), DOT (.dot, .gv) or an edge list (any other name).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "edges",
        required_unless_present = "edges"
    )]
    dag: Option<PathBuf>,
    /// Causal DAG as an edge list, e.g. "age->treat, age->re78, treat->re78";
    /// `a <-> b` marks an unobserved common cause of a and b.
    #[arg(long, value_name = "EDGES")]
    edges: Option<String>,
    /// Graph nodes that are not observed (not columns of the data).
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    latent: Vec<String>,
    /// The treatment (cause).
    #[arg(long)]
    treatment: String,
    /// The outcome (effect).
    #[arg(long)]
    outcome: String,
    /// Estimation method.
    #[arg(long, value_enum, default_value_t = MethodArg::Dml)]
    method: MethodArg,
    /// Nuisance learner for DML and AIPW.
    #[arg(long, value_enum, default_value_t = NuisanceArg::Forest)]
    nuisance: NuisanceArg,
    /// Cross-fitting folds for DML and AIPW.
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Drop units whose propensity is outside [TRIM, 1 − TRIM] (IPW, AIPW).
    #[arg(long, default_value_t = 0.01)]
    trim: f64,
    /// Adjust for these variables instead of the set identification finds.
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    adjust: Option<Vec<String>>,
    /// Instruments for `--method iv` (default: every instrument the graph implies).
    #[arg(long = "instrument", value_name = "NAME", value_delimiter = ',')]
    instruments: Vec<String>,
    /// Mediators for `--method frontdoor` (default: the frontdoor set the graph implies).
    #[arg(long = "mediator", value_name = "NAME", value_delimiter = ',')]
    mediators: Vec<String>,
    /// Period column for `--method did` (0/1 post indicator without --unit).
    #[arg(long, value_name = "COLUMN")]
    time: Option<String>,
    /// Unit column for `--method did` on a panel (two-way fixed effects).
    #[arg(long, value_name = "COLUMN")]
    unit: Option<String>,
    /// List every minimal backdoor adjustment set, not only the smallest.
    #[arg(long)]
    all_sets: bool,
    /// Run the refuters (placebo, random common cause, subset, bootstrap, E-value).
    #[arg(long)]
    refute: bool,
    /// Bootstrap resamples for the bootstrap refuter.
    #[arg(long, default_value_t = 100)]
    bootstrap: usize,
    /// Override a column's inferred type, e.g. `--type zip=categorical`.
    #[arg(long = "type", value_name = "COLUMN=TYPE", value_parser = parse_type)]
    types: Vec<(String, ColumnType)>,
    /// Drop rows with missing values instead of refusing the file.
    #[arg(long)]
    drop_missing: bool,
    /// Seed for fold splits, forests and refuters.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum MethodArg {
    Ols,
    Ipw,
    Aipw,
    Dml,
    Did,
    Iv,
    Frontdoor,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum NuisanceArg {
    Linear,
    Forest,
}

pub(super) fn parse_type(text: &str) -> Result<(String, ColumnType), String> {
    let (column, kind) = text
        .split_once('=')
        .ok_or_else(|| format!("expected COLUMN=TYPE, got `{text}`"))?;
    let kind = kind.parse::<ColumnType>().map_err(|e| e.to_string())?;
    Ok((column.trim().to_string(), kind))
}

pub fn run(args: &EstimateArgs) -> Result<(), CommandError> {
    let options = LoadOptions {
        types: args.types.iter().cloned().collect::<BTreeMap<_, _>>(),
        drop_missing: args.drop_missing,
    };
    let data = Dataset::from_csv_path(&args.data, &options)?;
    let graph = match (&args.dag, &args.edges) {
        (Some(path), _) => CausalGraph::load(path)?,
        (None, Some(edges)) => CausalGraph::parse_edge_list(edges)?,
        (None, None) => {
            return Err(CommandError::Usage(
                "pass --dag FILE or --edges \"a->b, …\"".into(),
            ))
        }
    };
    let report = estimation::run(
        &data,
        graph,
        &request_of(args),
        &Bar::for_output(args.format == Format::Text),
    )?;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &report).context("writing JSON")?;
            writeln!(out).context("writing JSON")?;
        }
        Format::Text => write_text(&mut out, &report, &data).context("writing the report")?,
    }
    Ok(())
}

/// The flags as the request that the API builds from its form.
fn request_of(args: &EstimateArgs) -> EstimateRequest {
    EstimateRequest {
        method: match args.method {
            MethodArg::Ols => Method::Ols,
            MethodArg::Ipw => Method::Ipw,
            MethodArg::Aipw => Method::Aipw,
            MethodArg::Dml => Method::Dml,
            MethodArg::Did => Method::Did,
            MethodArg::Iv => Method::Iv,
            MethodArg::Frontdoor => Method::Frontdoor,
        },
        nuisance: match args.nuisance {
            NuisanceArg::Linear => Nuisance::Linear,
            NuisanceArg::Forest => Nuisance::Forest,
        },
        folds: args.folds,
        trim: args.trim,
        adjust: args.adjust.clone(),
        instruments: args.instruments.clone(),
        mediators: args.mediators.clone(),
        time: args.time.clone(),
        unit: args.unit.clone(),
        latent: args.latent.clone(),
        all_sets: args.all_sets,
        refute: args.refute,
        bootstrap: args.bootstrap,
        seed: args.seed,
        ..EstimateRequest::new(&args.treatment, &args.outcome, Surface::CommandLine)
    }
}

impl From<EstimationError> for CommandError {
    fn from(error: EstimationError) -> Self {
        match error {
            EstimationError::Estimators(e) => CommandError::Input(e),
            EstimationError::Usage(message) => CommandError::Usage(message),
        }
    }
}

fn write_text(out: &mut impl Write, report: &Report, data: &Dataset) -> std::io::Result<()> {
    let e = &report.estimate;
    writeln!(out, "Effect of `{}` on `{}`", e.treatment, e.outcome)?;
    writeln!(
        out,
        "  method        {} — {}",
        e.method,
        e.method.description()
    )?;
    writeln!(out, "  identified by {}", report.identification)?;
    writeln!(
        out,
        "  estimate      {}   95% CI [{}, {}]   p = {}",
        number(e.estimate),
        number(e.ci_low),
        number(e.ci_high),
        p_value(e.p_value)
    )?;
    writeln!(out, "  std. error    {}", number(e.std_error))?;
    let dropped = if data.dropped_rows() > 0 {
        format!(
            " ({} rows with missing values dropped)",
            data.dropped_rows()
        )
    } else {
        String::new()
    };
    writeln!(out, "  rows used     {}{dropped}", number(e.n as f64))?;
    let adjusted = if e.adjustment_set.is_empty() {
        "nothing".to_string()
    } else {
        e.adjustment_set.join(", ")
    };
    writeln!(out, "  adjusted for  {adjusted}")?;
    if report.all_adjustment_sets.len() > 1 {
        let sets: Vec<String> = report
            .all_adjustment_sets
            .iter()
            .map(|set| format!("{{{}}}", set.join(", ")))
            .collect();
        writeln!(out, "  minimal sets  {}", sets.join("  "))?;
    }
    if !e.diagnostics.is_empty() {
        writeln!(out, "\nDiagnostics")?;
        for (name, value) in &e.diagnostics {
            writeln!(out, "  {:<34} {}", name.replace('_', " "), number(*value))?;
        }
    }
    if !e.warnings.is_empty() {
        writeln!(out, "\nWarnings")?;
        for warning in &e.warnings {
            writeln!(out, "  ! {warning}")?;
        }
    }
    writeln!(out, "\nAssumptions")?;
    for assumption in &report.assumptions {
        writeln!(out, "  - {assumption}")?;
    }
    if !report.refutations.is_empty() {
        writeln!(out, "\nRefutations")?;
        for r in &report.refutations {
            let verdict = if r.passed { "pass" } else { "FAIL" };
            let name = serde_json::to_value(r.refuter)
                .ok()
                .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
                .unwrap_or_default();
            writeln!(out, "  [{verdict}] {name}: {}", r.summary)?;
        }
    }
    Ok(())
}

fn p_value(p: f64) -> String {
    if p < 1e-4 {
        "< 0.0001".into()
    } else {
        format!("{p:.4}")
    }
}
