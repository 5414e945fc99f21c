//! `behest-desktop chat`. Work in progress.

use std::process::ExitCode;

/// Arguments of `behest-desktop chat`.
#[derive(Debug, clap::Args)]
pub struct ChatArgs {}

/// Runs `behest-desktop chat`.
pub fn run(_args: ChatArgs) -> ExitCode {
    eprintln!("behest-desktop chat: not implemented yet");
    ExitCode::from(2)
}
