//! The `causeway` command line.
//!
//! Each subcommand lives in its own module and returns a [`CommandError`] that says
//! whether the user can fix the problem (exit code 2, one line on standard error)
//! or something else failed (exit code 1, with its cause chain).

mod demo;
mod discover;
mod draft;
mod estimate;
mod fit;
mod models;
mod progress;
mod rca;
mod serve;
mod token;
mod whatif;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use crate::auth::TokenError;
use crate::config::{ConfigError, Overrides, Settings};
use crate::store::StoreError;

/// Causeway: a conversational causal sandbox.
#[derive(Debug, Parser)]
#[command(name = "causeway", version, about, long_about = None)]
struct Cli {
    /// Settings file (default: ./causeway.toml when it exists).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory of the embedded model store (CAUSEWAY_DATA_DIR).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Estimate the causal effect of a treatment on an outcome from a CSV and a DAG.
    Estimate(Box<estimate::EstimateArgs>),
    /// Fit a structural causal model on a CSV and a DAG and save it as a model.
    Fit(Box<fit::FitArgs>),
    /// Ask a fitted model what happens under interventions (population or one unit).
    Whatif(Box<whatif::WhatIfArgs>),
    /// Attribute an anomalous KPI value (one row) or a change of a KPI's mean between
    /// two periods to its upstream causes.
    Rca(Box<rca::RcaArgs>),
    /// Discover a causal graph (CPDAG) from a CSV with PC-stable, background
    /// knowledge and priors.
    Discover(discover::DiscoverArgs),
    /// Draft priors for `discover --priors` from a document: the configured language
    /// model lists the causal edges it states, each checked against a verbatim quote.
    Draft(draft::DraftArgs),
    /// Run the web server (health checks and the JSON API) on the configured store.
    Serve(serve::ServeArgs),
    /// Install three demo models (retail, factory, onboarding) into the store and
    /// serve the web app with them, printing example questions.
    Demo(demo::DemoArgs),
    /// List the stored models and their versions.
    Models(models::ModelsArgs),
    /// Store a model document (GraphML) as the next version of its name.
    Import(models::ImportArgs),
    /// Print a stored model as GraphML.
    Export(models::ExportArgs),
    /// Create, list and revoke the access tokens of the server (in the data
    /// directory; without any, the server is open).
    Token(token::TokenArgs),
}

/// How results are printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Readable by a person.
    #[default]
    Text,
    /// Stable, machine-readable JSON.
    Json,
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// A mistake in the input that the user can fix.
    #[error(transparent)]
    Input(#[from] causeway_estimators::Error),
    /// A mistake in the command-line arguments that clap could not catch.
    #[error("{0}")]
    Usage(String),
    /// Settings that cannot be loaded.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The language model is not configured, failed, or replied with nothing usable,
    /// where a command has nothing to fall back on.
    #[error("{0}")]
    Llm(String),
    /// The model store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The token file refused or failed.
    #[error(transparent)]
    Tokens(#[from] TokenError),
    /// Anything else (I/O on standard output, a bug).
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl CommandError {
    fn exit_code(&self) -> ExitCode {
        match self {
            CommandError::Input(_)
            | CommandError::Usage(_)
            | CommandError::Config(_)
            | CommandError::Llm(_) => ExitCode::from(2),
            CommandError::Store(StoreError::Backend(_)) | CommandError::Internal(_) => {
                ExitCode::from(1)
            }
            CommandError::Store(_) => ExitCode::from(2),
            CommandError::Tokens(TokenError::Io { .. }) => ExitCode::from(1),
            CommandError::Tokens(_) => ExitCode::from(2),
        }
    }
}

/// The async runtime for commands that talk to the store.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CommandError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
        .map_err(CommandError::Internal)
}

/// Parses the arguments, runs the command, prints any error and returns the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let overrides = Overrides {
        addr: match &cli.command {
            Command::Serve(args) => args.addr.clone(),
            Command::Demo(args) => args.addr.clone(),
            _ => None,
        },
        data_dir: cli.data_dir.clone(),
    };
    let settings = || Settings::load(cli.config.as_deref(), std::env::vars(), &overrides);
    let result = match &cli.command {
        Command::Estimate(args) => estimate::run(args),
        Command::Discover(args) => discover::run(args),
        Command::Draft(args) => settings()
            .map_err(CommandError::from)
            .and_then(|s| draft::run(args, &s)),
        Command::Serve(_) => settings()
            .map_err(CommandError::from)
            .and_then(|s| serve::run(&s)),
        Command::Demo(args) => settings()
            .map_err(CommandError::from)
            .and_then(|s| demo::run(args, &s)),
        Command::Models(args) => settings()
            .map_err(CommandError::from)
            .and_then(|s| models::list(args, &s)),
        Command::Import(args) => settings()
            .map_err(CommandError::from)
            .and_then(|s| models::import(args, &s)),
        Command::Export(args) => settings()
            .map_err(CommandError::from)
            .and_then(|s| models::export(args, &s)),
        Command::Fit(args) => settings()
            .map_err(CommandError::from)
            .and_then(|s| fit::run(args, &s)),
        Command::Whatif(args) => settings()
            .map_err(CommandError::from)
            .and_then(|s| whatif::run(args, &s)),
        Command::Rca(args) => settings()
            .map_err(CommandError::from)
            .and_then(|s| rca::run(args, &s)),
        Command::Token(args) => settings()
            .map_err(CommandError::from)
            .and_then(|s| token::run(args, &s)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            error.exit_code()
        }
    }
}
