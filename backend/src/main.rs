//! The `causeway` binary: parses the command line and runs one command.
//!
//! Exit codes: 0 on success, 2 for a mistake in the input (bad file, unknown
//! variable, unidentifiable effect, …) with one line saying what to fix, 1 for
//! anything else.

use std::process::ExitCode;

fn main() -> ExitCode {
    causeway::cli::main()
}
