//! `causeway discover`: data (+ knowledge, priors) → a CPDAG, printed as a table,
//! JSON, GraphML or DOT.
//!
//! The priors file is a CSV with the header `source,target,confidence` and one
//! believed edge `source -> target` per row, confidence in [0, 1]:
//!
//! ```text
//! source,target,confidence
//! tv_spend,store_visits,0.9
//! price,sales,0.6
//! ```

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use causeway_estimators::data::{ColumnType, Dataset, LoadOptions};
use causeway_estimators::discover::{
    discover_with_progress, format_p, Cpdag, Knowledge, PcParams, Prior, TestKind,
};
use clap::{Args, ValueEnum};

use super::estimate::parse_type;
use super::progress::Bar;
use super::CommandError;

/// Arguments of `causeway discover`.
#[derive(Debug, Args)]
pub struct DiscoverArgs {
    /// CSV file with a header row; every column is a variable.
    #[arg(long, value_name = "FILE")]
    data: PathBuf,
    /// Significance level of each independence test (larger keeps more edges).
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
    /// An edge that must be present, as cause->effect (repeatable, or comma-separated).
    #[arg(long = "require", value_name = "A->B", value_delimiter = ',')]
    required: Vec<String>,
    /// A direction that must not appear, as cause->effect (repeatable, or
    /// comma-separated); forbid both directions to rule out the edge.
    #[arg(long = "forbid", value_name = "A->B", value_delimiter = ',')]
    forbidden: Vec<String>,
    /// Tiers, earliest first: "a,b | c,d | e". No variable causes one in an earlier tier.
    #[arg(long, value_name = "TIERS")]
    tiers: Option<String>,
    /// Believed edges: a CSV with the header source,target,confidence (0 to 1).
    #[arg(long, value_name = "FILE")]
    priors: Option<PathBuf>,
    /// Conditional-independence test (auto: G-test when every column is discrete).
    #[arg(long, value_enum, default_value_t = TestArg::Auto)]
    test: TestArg,
    /// Largest conditioning set to try (default: no limit).
    #[arg(long, value_name = "N")]
    max_depth: Option<usize>,
    /// Override a column's inferred type, e.g. `--type zip=categorical`.
    #[arg(long = "type", value_name = "COLUMN=TYPE", value_parser = parse_type)]
    types: Vec<(String, ColumnType)>,
    /// Drop rows with missing values instead of refusing the file.
    #[arg(long)]
    drop_missing: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiscoverFormat::Text)]
    format: DiscoverFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum TestArg {
    Auto,
    FisherZ,
    GTest,
}

/// Output formats of `discover`: the graph formats besides text and JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum DiscoverFormat {
    /// A table of edges and of removed edges with their separating sets.
    Text,
    /// The CPDAG as stable JSON.
    Json,
    /// GraphML; undirected edges carry `oriented` = false.
    Graphml,
    /// Graphviz DOT; undirected edges with `dir=none`.
    Dot,
}

pub fn run(args: &DiscoverArgs) -> Result<(), CommandError> {
    let options = LoadOptions {
        types: args.types.iter().cloned().collect::<BTreeMap<_, _>>(),
        drop_missing: args.drop_missing,
    };
    let data = Dataset::from_csv_path(&args.data, &options)?;
    let knowledge = Knowledge {
        required: parse_edges(&args.required)?,
        forbidden: parse_edges(&args.forbidden)?,
        tiers: match &args.tiers {
            Some(text) => Knowledge::parse_tiers(text)?,
            None => Vec::new(),
        },
    };
    let priors = match &args.priors {
        Some(path) => Prior::read_csv(path)?,
        None => Vec::new(),
    };
    let params = PcParams {
        alpha: args.alpha,
        max_depth: args.max_depth,
        test: match args.test {
            TestArg::Auto => TestKind::Auto,
            TestArg::FisherZ => TestKind::FisherZ,
            TestArg::GTest => TestKind::GTest,
        },
    };
    // The graph formats are for programs too: only the table gets a bar.
    let cpdag = discover_with_progress(
        &data,
        &knowledge,
        &priors,
        &params,
        &Bar::for_output(args.format == DiscoverFormat::Text),
    )?;
    let mut out = std::io::stdout().lock();
    match args.format {
        DiscoverFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &cpdag).context("writing JSON")?;
            writeln!(out).context("writing JSON")?;
        }
        DiscoverFormat::Graphml => out
            .write_all(cpdag.to_graphml()?.as_bytes())
            .context("writing GraphML")?,
        DiscoverFormat::Dot => out
            .write_all(cpdag.to_dot().as_bytes())
            .context("writing DOT")?,
        DiscoverFormat::Text => write_text(&mut out, &cpdag).context("writing the report")?,
    }
    Ok(())
}

fn parse_edges(texts: &[String]) -> Result<Vec<(String, String)>, CommandError> {
    Ok(texts
        .iter()
        .map(|t| Knowledge::parse_edge(t))
        .collect::<Result<_, _>>()?)
}

fn write_text(out: &mut impl Write, cpdag: &Cpdag) -> std::io::Result<()> {
    let oriented = cpdag.edges.iter().filter(|e| e.oriented).count();
    writeln!(
        out,
        "Causal discovery (PC-stable, {} test, alpha = {}): {} variables, {} rows, {} tests",
        cpdag.test,
        cpdag.alpha,
        cpdag.variables.len(),
        cpdag.n_rows,
        cpdag.ci_tests
    )?;
    writeln!(
        out,
        "\nEdges: {} ({oriented} oriented, {} undirected)",
        cpdag.edges.len(),
        cpdag.edges.len() - oriented
    )?;
    let rows: Vec<[String; 4]> = cpdag
        .edges
        .iter()
        .map(|e| {
            [
                format!(
                    "{} {} {}",
                    e.source,
                    if e.oriented { "->" } else { "--" },
                    e.target
                ),
                e.adjacency.to_string(),
                e.orientation
                    .map_or_else(|| "undirected".into(), |o| o.to_string()),
                e.p_value.map_or_else(|| "-".into(), format_p),
            ]
        })
        .collect();
    let header = ["edge", "present by", "direction by", "max p"];
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([header[i].len()])
            .max()
            .unwrap_or(0)
    };
    let widths = [width(0), width(1), width(2)];
    for row in std::iter::once(header.map(str::to_string)).chain(rows) {
        writeln!(
            out,
            "  {:w0$}  {:w1$}  {:w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        )?;
    }
    if !cpdag.removed.is_empty() {
        writeln!(out, "\nRemoved: {}", cpdag.removed.len())?;
        for removed in &cpdag.removed {
            writeln!(out, "  {}", removed.explanation)?;
        }
    }
    if !cpdag.notes.is_empty() {
        writeln!(out, "\nNotes:")?;
        for note in &cpdag.notes {
            writeln!(out, "  {note}")?;
        }
    }
    if oriented < cpdag.edges.len() {
        writeln!(
            out,
            "\nThe data cannot orient the undirected edges (every direction fits them equally); decide them with knowledge (--require, --forbid, --tiers) or priors."
        )?;
    }
    Ok(())
}
