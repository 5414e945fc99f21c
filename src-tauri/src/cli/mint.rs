//! `behest-desktop mint`. Work in progress.

use std::process::ExitCode;

/// Arguments of `behest-desktop mint`.
#[derive(Debug, clap::Args)]
pub struct MintArgs {}

/// Runs `behest-desktop mint`.
pub fn run(_args: MintArgs) -> ExitCode {
    eprintln!("behest-desktop mint: not implemented yet");
    ExitCode::from(2)
}
