//! The `causeway` command line.
//!
//! Each subcommand lives in its own module and returns a [`CommandError`] that says
//! whether the user can fix the problem (exit code 2, one line on standard error)
//! or something else failed (exit code 1, with its cause chain).

mod estimate;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Causeway: a conversational causal sandbox.
#[derive(Debug, Parser)]
#[command(name = "causeway", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Estimate the causal effect of a treatment on an outcome from a CSV and a DAG.
    Estimate(estimate::EstimateArgs),
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
    /// Anything else (I/O on standard output, a bug).
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl CommandError {
    fn exit_code(&self) -> ExitCode {
        match self {
            CommandError::Input(_) | CommandError::Usage(_) => ExitCode::from(2),
            CommandError::Internal(_) => ExitCode::from(1),
        }
    }
}

/// Parses the arguments, runs the command, prints any error and returns the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Estimate(args) => estimate::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            error.exit_code()
        }
    }
}
