//! The `doorman` binary: parses the command line and hands over to the library.
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    doorman::cli::run(doorman::cli::Cli::parse())
}
