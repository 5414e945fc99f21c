//! `behest-desktop gateway`. Work in progress.

use std::process::ExitCode;

/// Arguments of `behest-desktop gateway`.
#[derive(Debug, clap::Args)]
pub struct GatewayArgs {}

/// Runs `behest-desktop gateway`.
pub fn run(_args: GatewayArgs) -> ExitCode {
    eprintln!("behest-desktop gateway: not implemented yet");
    ExitCode::from(2)
}
