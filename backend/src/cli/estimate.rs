//! `causeway estimate`: data + DAG → identification → estimate → refutations.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use causeway_estimators::data::{ColumnType, Dataset, LoadOptions};
use causeway_estimators::estimate::{EffectSpec, Estimate, Estimator, Method};
use causeway_estimators::format::number;
use causeway_estimators::graph::CausalGraph;
use causeway_estimators::identify::{identify, IdentifiedEstimand, IdentifyOptions, Strategy};
use causeway_estimators::learners::forest::ForestParams;
use causeway_estimators::learners::Learner;
use causeway_estimators::refute::{refute_all_with_progress, Refutation, RefuteOptions};
use causeway_estimators::Error;
use clap::{Args, ValueEnum};
use serde::Serialize;

use super::progress::Bar;
use super::{CommandError, Format};

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

/// What `--format json` prints: the estimate's fields at the top level.
#[derive(Debug, Serialize)]
struct Report {
    #[serde(flatten)]
    estimate: Estimate,
    identification: &'static str,
    /// Every minimal backdoor set, with `--all-sets`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    all_adjustment_sets: Vec<Vec<String>>,
    assumptions: Vec<String>,
    refutations: Vec<Refutation>,
}

pub fn run(args: &EstimateArgs) -> Result<(), CommandError> {
    let options = LoadOptions {
        types: args.types.iter().cloned().collect::<BTreeMap<_, _>>(),
        drop_missing: args.drop_missing,
    };
    let data = Dataset::from_csv_path(&args.data, &options)?;
    let graph = load_graph(args)?;
    graph.check_columns(&data.column_names())?;

    let Plan {
        estimator,
        spec,
        identification,
        assumptions,
        all_adjustment_sets,
    } = plan(args, method_of(args.method), &graph)?;
    let estimate = estimator.estimate(&data, &spec)?;
    let refutations = if args.refute {
        let options = RefuteOptions {
            bootstrap_runs: args.bootstrap,
            seed: args.seed,
            ..RefuteOptions::default()
        };
        refute_all_with_progress(
            &data,
            &spec,
            &estimator,
            &estimate,
            &options,
            &Bar::for_output(args.format == Format::Text),
        )?
    } else {
        Vec::new()
    };
    let report = Report {
        estimate,
        identification,
        all_adjustment_sets,
        assumptions,
        refutations,
    };
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

fn method_of(arg: MethodArg) -> Method {
    match arg {
        MethodArg::Ols => Method::Ols,
        MethodArg::Ipw => Method::Ipw,
        MethodArg::Aipw => Method::Aipw,
        MethodArg::Dml => Method::Dml,
        MethodArg::Did => Method::Did,
        MethodArg::Iv => Method::Iv,
        MethodArg::Frontdoor => Method::Frontdoor,
    }
}

fn load_graph(args: &EstimateArgs) -> Result<CausalGraph, CommandError> {
    let graph = match (&args.dag, &args.edges) {
        (Some(path), _) => CausalGraph::load(path)?,
        (None, Some(edges)) => CausalGraph::parse_edge_list(edges)?,
        (None, None) => {
            return Err(CommandError::Usage(
                "pass --dag FILE or --edges \"a->b, …\"".into(),
            ))
        }
    };
    if args.latent.is_empty() {
        return Ok(graph);
    }
    for name in &args.latent {
        if !graph.contains(name) {
            return Err(Error::unknown_variable(name, graph.node_names()).into());
        }
    }
    let edges: Vec<(String, String)> = graph
        .edges()
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let latent: Vec<String> = graph
        .latent_names()
        .into_iter()
        .map(str::to_string)
        .chain(args.latent.iter().cloned())
        .collect();
    Ok(CausalGraph::from_edges(&edges, &latent)?)
}

/// What to run: the estimator, the effect with its adjustment set, and what the
/// answer rests on.
struct Plan {
    estimator: Estimator,
    spec: EffectSpec,
    identification: &'static str,
    assumptions: Vec<String>,
    all_adjustment_sets: Vec<Vec<String>>,
}

/// Chooses the estimator and what to adjust for from the graph (or the user's
/// overrides): DiD rests on parallel trends, every other method on the strategy
/// identification finds for it.
fn plan(args: &EstimateArgs, method: Method, graph: &CausalGraph) -> Result<Plan, CommandError> {
    if method == Method::Did {
        return plan_difference_in_differences(args, graph);
    }
    let estimand = identify(
        graph,
        &args.treatment,
        &args.outcome,
        IdentifyOptions {
            all_minimal_sets: args.all_sets,
        },
    )?;
    match method {
        Method::Iv => plan_instrumental(args, &estimand),
        Method::Frontdoor => plan_frontdoor(args, &estimand),
        _ => plan_backdoor(args, method, &estimand),
    }
}

fn effect(args: &EstimateArgs, covariates: Vec<String>) -> EffectSpec {
    EffectSpec {
        treatment: args.treatment.clone(),
        outcome: args.outcome.clone(),
        covariates,
    }
}

fn plan_difference_in_differences(
    args: &EstimateArgs,
    graph: &CausalGraph,
) -> Result<Plan, CommandError> {
    // The graph does not identify a DiD effect, but it still has to name both variables.
    for name in [&args.treatment, &args.outcome] {
        if !graph.contains(name) {
            return Err(Error::unknown_variable(name, graph.node_names()).into());
        }
    }
    let time = args.time.clone().ok_or_else(|| {
        CommandError::Usage(
            "--method did needs --time COLUMN (and --unit COLUMN for a panel)".into(),
        )
    })?;
    Ok(Plan {
        estimator: Estimator::Did {
            time,
            unit: args.unit.clone(),
        },
        spec: effect(args, args.adjust.clone().unwrap_or_default()),
        identification: "difference in differences",
        assumptions: vec![
            format!(
                "parallel trends: without treatment, the treated units' {} would have moved like the untreated units'",
                args.outcome
            ),
            "no anticipation: units do not react before they are treated".to_string(),
            "treatment of one unit does not affect others".to_string(),
        ],
        all_adjustment_sets: Vec::new(),
    })
}

fn plan_instrumental(
    args: &EstimateArgs,
    estimand: &IdentifiedEstimand,
) -> Result<Plan, CommandError> {
    let instruments = if args.instruments.is_empty() {
        estimand.instruments.clone()
    } else {
        args.instruments.clone()
    };
    if instruments.is_empty() {
        return Err(not_identified(
            estimand,
            "the graph implies no instrument for the treatment; name one with --instrument if you know it",
        )
        .into());
    }
    let mut assumptions = estimand.assumptions(Strategy::Instrumental);
    for z in instruments
        .iter()
        .filter(|z| !estimand.instruments.contains(z))
    {
        assumptions.push(format!(
            "{z} is a valid instrument (you asserted it; the graph does not imply it)"
        ));
    }
    Ok(Plan {
        estimator: Estimator::Iv { instruments },
        spec: effect(args, args.adjust.clone().unwrap_or_default()),
        identification: "instrumental variables",
        assumptions,
        all_adjustment_sets: Vec::new(),
    })
}

fn plan_frontdoor(
    args: &EstimateArgs,
    estimand: &IdentifiedEstimand,
) -> Result<Plan, CommandError> {
    let mediators = match (&args.mediators[..], &estimand.frontdoor) {
        ([], Some(set)) => set.clone(),
        ([], None) => {
            let reason = estimand
                .frontdoor_failure
                .clone()
                .unwrap_or_else(|| "no mediator set satisfies the frontdoor criterion".into());
            return Err(Error::NotIdentified {
                treatment: estimand.treatment.clone(),
                outcome: estimand.outcome.clone(),
                reason: format!("{reason}; name mediators with --mediator if you know them"),
            }
            .into());
        }
        (chosen, _) => chosen.to_vec(),
    };
    let mut assumptions = estimand.assumptions(Strategy::Frontdoor);
    if estimand.frontdoor.as_ref() != Some(&mediators) {
        assumptions.push(format!(
            "{} satisfy the frontdoor criterion (you asserted it; the graph does not imply it)",
            mediators.join(", ")
        ));
    }
    assumptions.push("every mechanism on the frontdoor paths is linear".to_string());
    Ok(Plan {
        estimator: Estimator::Frontdoor { mediators },
        spec: effect(args, args.adjust.clone().unwrap_or_default()),
        identification: "frontdoor adjustment",
        assumptions,
        all_adjustment_sets: Vec::new(),
    })
}

fn plan_backdoor(
    args: &EstimateArgs,
    method: Method,
    estimand: &IdentifiedEstimand,
) -> Result<Plan, CommandError> {
    let covariates = match (&args.adjust, &estimand.backdoor) {
        (Some(chosen), _) => chosen.clone(),
        (None, Some(set)) => set.clone(),
        (None, None) => {
            let hint = match (&estimand.frontdoor, estimand.instruments.first()) {
                (_, Some(z)) => format!("the graph has an instrument, `{z}`: use --method iv"),
                (Some(m), None) => format!(
                    "the mediators {} satisfy the frontdoor criterion: use --method frontdoor",
                    m.join(", ")
                ),
                (None, None) => {
                    "add the missing confounders to the data, or find an instrument".to_string()
                }
            };
            return Err(not_identified(estimand, &hint).into());
        }
    };
    let mut assumptions = estimand.assumptions(Strategy::Backdoor);
    if args.adjust.is_some() {
        assumptions.push(format!(
            "adjusting for [{}] (chosen by you) blocks every backdoor path",
            covariates.join(", ")
        ));
    }
    assumptions.extend(estimand.notes.iter().cloned());
    let learner = match args.nuisance {
        NuisanceArg::Linear => Learner::Linear,
        NuisanceArg::Forest => Learner::Forest(
            ForestParams {
                seed: args.seed,
                ..ForestParams::default()
            }
            .check()?,
        ),
    };
    let estimator = match method {
        Method::Ols => Estimator::Ols,
        Method::Ipw => Estimator::Ipw { trim: args.trim },
        Method::Aipw => Estimator::Aipw {
            trim: args.trim,
            folds: args.folds,
            nuisance: learner,
            seed: args.seed,
        },
        _ => Estimator::Dml {
            folds: args.folds,
            nuisance: learner,
            seed: args.seed,
        },
    };
    Ok(Plan {
        estimator,
        spec: effect(args, covariates),
        identification: "backdoor adjustment",
        assumptions,
        all_adjustment_sets: estimand.all_backdoor_sets.clone(),
    })
}

fn not_identified(estimand: &IdentifiedEstimand, hint: &str) -> Error {
    let reason = estimand
        .backdoor_failure
        .clone()
        .unwrap_or_else(|| "no adjustment set blocks every backdoor path".into());
    Error::NotIdentified {
        treatment: estimand.treatment.clone(),
        outcome: estimand.outcome.clone(),
        reason: format!("{reason}; {hint}"),
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
