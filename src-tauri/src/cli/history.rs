//! `behest-desktop history`. Work in progress.

use std::process::ExitCode;

/// Arguments of `behest-desktop history`.
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {}

/// Runs `behest-desktop history`.
pub fn run(_args: HistoryArgs) -> ExitCode {
    eprintln!("behest-desktop history: not implemented yet");
    ExitCode::from(2)
}
