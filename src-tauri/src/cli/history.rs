//! `behest-desktop history`: list, search, show, export and import conversation history
//! headless, on the same database the app uses (`$BEHEST_DATA_DIR` or the OS data directory).
//!
//! Exit codes: 0 success; 2 bad input (unknown conversation id, malformed import file or
//! arguments); 1 storage errors (database, disk). Results go to stdout, notes (a recovery
//! report, an import summary) to stderr. `export --output` writes a temporary file beside the
//! target and renames it, so a half-written export never exists under the target name.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};

use crate::core::history::{self, ExportFormat, History};
use crate::core::{Error, Result};

/// Arguments of `behest-desktop history`.
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: HistoryAction,
}

/// The `history` subcommands.
#[derive(Debug, Subcommand)]
pub enum HistoryAction {
    /// List conversations, most recently updated first.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Full-text search over message text.
    Search {
        /// Words to find (all must match; the last may be a prefix).
        query: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// The most results to show.
        #[arg(long, default_value_t = history::search::DEFAULT_LIMIT)]
        limit: usize,
    },
    /// Show one conversation with its messages.
    Show {
        /// The conversation id.
        id: String,
        /// Print JSON instead of Markdown.
        #[arg(long)]
        json: bool,
    },
    /// Export one conversation or all of them.
    Export {
        /// Only this conversation.
        #[arg(long)]
        conversation: Option<String>,
        /// `md` or `json` (the re-importable format).
        #[arg(long, value_enum)]
        format: FormatArg,
        /// Write here instead of stdout.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Import a JSON export; importing the same file twice adds nothing.
    Import {
        /// The file written by `history export --format json`.
        file: PathBuf,
    },
}

/// Export formats on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// Markdown.
    Md,
    /// JSON (`behest-desktop-history` version 1).
    Json,
}

impl From<FormatArg> for ExportFormat {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Md => ExportFormat::Md,
            FormatArg::Json => ExportFormat::Json,
        }
    }
}

/// Runs `behest-desktop history`.
pub fn run(args: HistoryArgs) -> ExitCode {
    match execute(args.action) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("behest-desktop history: {e}");
            exit_code(&e)
        }
    }
}

/// 2 for bad input, 1 for everything else.
pub fn exit_code(e: &Error) -> ExitCode {
    match e {
        Error::InvalidInput { .. } | Error::InvalidSettings { .. } => ExitCode::from(2),
        _ => ExitCode::from(1),
    }
}

fn execute(action: HistoryAction) -> Result<()> {
    let history = History::open_default()?;
    if let Some(recovery) = &history.open_report().recovery {
        eprintln!("behest-desktop history: {}", recovery.summary());
    }
    match action {
        HistoryAction::List { json } => {
            let list = history.list_conversations()?;
            if json {
                print_json(&list)
            } else {
                let mut text = String::new();
                for c in &list {
                    text.push_str(&format!(
                        "{}\t{}\t{} messages\t{}\n",
                        c.id,
                        history::format_ms(c.updated_at),
                        c.message_count,
                        c.title
                    ));
                }
                print_text(&text)
            }
        }
        HistoryAction::Search { query, json, limit } => {
            let hits = history.search(&query, limit)?;
            if json {
                print_json(&hits)
            } else {
                let mut text = String::new();
                for h in &hits {
                    text.push_str(&format!(
                        "{}\t{}\t{}\t{}\n",
                        h.conversation_id,
                        h.conversation_title,
                        h.role.as_str(),
                        h.snippet_marked("[", "]").replace('\n', " ")
                    ));
                }
                print_text(&text)
            }
        }
        HistoryAction::Show { id, json } => {
            if json {
                print_json(&history.get_conversation(&id)?)
            } else {
                print_text(&history.export(Some(&id), ExportFormat::Md)?)
            }
        }
        HistoryAction::Export {
            conversation,
            format,
            output,
        } => match output {
            Some(path) => history.export_to_file(conversation.as_deref(), format.into(), &path),
            None => print_text(&history.export(conversation.as_deref(), format.into())?),
        },
        HistoryAction::Import { file } => {
            let text = std::fs::read_to_string(&file).map_err(|e| Error::InvalidInput {
                what: "import file".into(),
                reason: format!("cannot read {}: {e}", file.display()),
            })?;
            let report = history.import_json(&text)?;
            eprintln!(
                "imported {} conversations and {} messages ({} already present)",
                report.conversations_added, report.messages_added, report.messages_skipped
            );
            Ok(())
        }
    }
}

fn print_text(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::Storage(format!("could not encode JSON: {e}")))?;
    text.push('\n');
    print_text(&text)
}
