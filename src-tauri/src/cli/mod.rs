//! Command-line entry: with no subcommand the window opens; with one the core runs headless and
//! needs no display.
//!
//! Each subcommand lives in its own file and calls into `core`; exit codes are documented on
//! each. Output meant for scripts goes to stdout, everything else to stderr.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod chat;
pub mod check;
pub mod gateway;
pub mod history;
pub mod mint;

/// Behest Desktop: a desktop chat client for the Behest AI gateway.
///
/// With no subcommand the app window opens.
#[derive(Debug, Parser)]
#[command(name = "behest-desktop", version, about)]
pub struct Cli {
    /// What to run headless; none opens the window.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The headless subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the local Behest-compatible gateway on loopback.
    Gateway(gateway::GatewayArgs),
    /// Get a token in the configured auth mode and show it.
    Mint(mint::MintArgs),
    /// Send a chat and stream the reply to stdout.
    Chat(chat::ChatArgs),
    /// List, search, export and import conversation history.
    History(history::HistoryArgs),
    /// Check a Behest project's configuration end to end: config, token, JWKS, chat, limits, CORS.
    Check(check::CheckArgs),
}

/// Parses the command line and runs what it names.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::core::logging::init();
    match cli.command {
        None => crate::ipc::run_app(),
        Some(Command::Gateway(args)) => gateway::run(args),
        Some(Command::Mint(args)) => mint::run(args),
        Some(Command::Chat(args)) => chat::run(args),
        Some(Command::History(args)) => history::run(args),
        Some(Command::Check(args)) => check::run(args),
    }
}

/// A multi-threaded tokio runtime for a headless command.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}
