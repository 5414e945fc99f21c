//! `behest-desktop chat [--model M] [--system S] [--session S] [--thread T] [--no-stream]
//! [--temperature X] [--max-tokens N] [--conversation ID | --no-history] PROMPT` (or the
//! prompt on stdin).
//!
//! The reply goes to stdout as it arrives (flushed per delta); timings, usage, the trace id and
//! errors go to stderr. Ctrl-C cancels the request (the connection is dropped at once).
//!
//! History: the exchange is recorded in the app's history ([`record`]): a new conversation, or
//! the one named by `--conversation ID`, whose earlier messages, system prompt, model and
//! parameters become the request's context (flags override them). The user's message is saved
//! before the request is sent and the answer as it streams; `conversation: ID` is printed on
//! stderr first, so scripts can continue it. A conversation with server threads on sends its
//! thread id as `X-Thread-Id` (`--thread` overrides). `--no-history` records nothing.
//!
//! Configuration: loaded like every command ([`Loaded::from_process`]: the environment, the
//! settings file, then the OS keyring); with nothing configured, demo mode starts an
//! in-process gateway (`BEHEST_DEMO_DELAY_MS` slows its words) and chats with it.
//!
//! Exit codes: 0 done; 2 configuration or usage error (also a 400/404/422 answer: a bad model,
//! slug or thread; an unreadable settings file or stdin; an unknown `--conversation`; a history
//! that cannot be opened); 3 unauthorized or forbidden; 4 quota
//! exceeded; 5 rate limited after retries; 6 network or server error (including an error event
//! inside the stream); 7 stream interrupted (the partial text was printed); 130 cancelled by
//! Ctrl-C.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::core::auth::{minter_for, Clock, SystemClock};
use crate::core::chat::{
    ChatClient, ChatConfig, ChatEvent, ChatFailure, ChatOutcome, ChatSend, ChatStatus, SinkClosed,
};
use crate::core::config::load::{self, DemoGateway, DemoOptions, Loaded};
use crate::core::history::ChatParams;
use crate::core::protocol::chat::ChatMessage;
use crate::core::secrets::MemoryStore;
use crate::core::session::{Session, SessionOptions};
use crate::core::token::TokenSource;
use crate::core::Error;

pub mod record;

use record::{Context, Recording};

/// Arguments of `behest-desktop chat`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ChatArgs {
    /// Model; the project's default when absent.
    #[arg(long)]
    pub model: Option<String>,
    /// A system message sent before the prompt.
    #[arg(long)]
    pub system: Option<String>,
    /// Session id (`X-Session-Id`); the token's session when absent.
    #[arg(long)]
    pub session: Option<String>,
    /// Thread id (`X-Thread-Id`): persist the conversation server-side.
    #[arg(long)]
    pub thread: Option<String>,
    /// Wait for the whole answer instead of streaming it.
    #[arg(long)]
    pub no_stream: bool,
    /// Sampling temperature.
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Cap on generated tokens.
    #[arg(long)]
    pub max_tokens: Option<u32>,
    /// Continue this history conversation (its messages and parameters are the context).
    #[arg(long, value_name = "ID")]
    pub conversation: Option<String>,
    /// Record nothing in the history.
    #[arg(long, conflicts_with = "conversation")]
    pub no_history: bool,
    /// The prompt; read from stdin when absent or `-`.
    pub prompt: Option<String>,
}

/// Exit codes of `behest-desktop chat`.
pub mod exit {
    /// The answer is complete.
    pub const DONE: u8 = 0;
    /// Configuration or usage error.
    pub const CONFIG: u8 = 2;
    /// Unauthorized or forbidden.
    pub const UNAUTHORIZED: u8 = 3;
    /// Quota exceeded.
    pub const QUOTA: u8 = 4;
    /// Rate limited after retries.
    pub const RATE_LIMITED: u8 = 5;
    /// Network or server error.
    pub const NETWORK: u8 = 6;
    /// The stream broke; the partial text was printed.
    pub const INTERRUPTED: u8 = 7;
    /// Cancelled by Ctrl-C.
    pub const CANCELLED: u8 = 130;
}

/// The exit code for an error.
pub fn exit_code(error: &Error) -> u8 {
    match error {
        Error::InvalidSettings { .. }
        | Error::InvalidInput { .. }
        | Error::BadRequest(_)
        | Error::NotFound(_)
        | Error::Crypto(_)
        | Error::SecretTooLarge { .. }
        | Error::Io(_) => exit::CONFIG,
        Error::Unauthorized(_) | Error::Forbidden(_) => exit::UNAUTHORIZED,
        Error::QuotaExceeded(_) => exit::QUOTA,
        Error::RateLimited(_) => exit::RATE_LIMITED,
        _ => exit::NETWORK,
    }
}

/// Builds the send from the arguments and the prompt (no stored context).
pub fn chat_send(args: &ChatArgs, prompt: String) -> ChatSend {
    chat_send_in(args, &Context::default(), prompt)
}

/// The parameters in effect: each flag, else the conversation's.
pub fn effective_params(args: &ChatArgs, context: &Context) -> ChatParams {
    let stored = &context.params;
    let set = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
    ChatParams {
        model: set(&args.model).or_else(|| set(&stored.model)),
        system_prompt: args.system.clone().or_else(|| set(&stored.system_prompt)),
        temperature: args.temperature.or(stored.temperature),
        max_tokens: args.max_tokens.or(stored.max_tokens),
    }
}

/// Builds the send: the system prompt, the context's messages, then the prompt, with the
/// effective parameters ([`effective_params`]).
pub fn chat_send_in(args: &ChatArgs, context: &Context, prompt: String) -> ChatSend {
    let params = effective_params(args, context);
    let mut messages = Vec::with_capacity(context.messages.len() + 2);
    if let Some(system) = params.system_prompt {
        messages.push(ChatMessage::new("system", system));
    }
    messages.extend(context.messages.iter().cloned());
    messages.push(ChatMessage::new("user", prompt));
    let mut send = ChatSend::new(messages);
    send.stream = !args.no_stream;
    send.request.model = params.model;
    send.request.temperature = params.temperature;
    send.request.max_tokens = params.max_tokens;
    send.session_id = args.session.clone();
    send.thread_id = args.thread.clone();
    send
}

/// The prompt: the argument, else all of `stdin` (when absent or `-`); empty is an error.
pub fn read_prompt(arg: Option<&str>, stdin: &mut dyn Read) -> Result<String, Error> {
    let prompt = match arg {
        Some(p) if p != "-" => p.to_string(),
        _ => {
            let mut text = String::new();
            stdin.read_to_string(&mut text)?;
            text
        }
    };
    if prompt.trim().is_empty() {
        return Err(Error::settings(
            "PROMPT",
            "is empty; give it as an argument or on stdin",
        ));
    }
    Ok(prompt)
}

/// Sends `send` through `client`, writing the reply to `out` and the rest to `err`, and
/// recording it in `recording` when given; returns the exit code. The core of the command,
/// without configuration or signals.
pub async fn execute(
    client: &ChatClient,
    send: &ChatSend,
    cancel: &CancellationToken,
    recording: Option<Recording>,
    out: &mut (dyn Write + Send),
    err: &mut (dyn Write + Send),
) -> u8 {
    let mut printed_newline = true;
    let sink = |event: ChatEvent| -> Result<(), SinkClosed> {
        if let ChatEvent::Delta { text } = event {
            if let Some(recording) = &recording {
                recording.append(&text);
            }
            // A closed stdout (e.g. `| head`) ends the request like a closed window would.
            out.write_all(text.as_bytes()).map_err(|_| SinkClosed)?;
            out.flush().map_err(|_| SinkClosed)?;
            printed_newline = text.ends_with('\n');
        }
        Ok(())
    };
    let result = client.send(send, cancel, sink).await;
    if !printed_newline {
        // Only cosmetic: a closed stdout was already handled as a cancel.
        let _ = writeln!(out).and_then(|()| out.flush());
    }
    if let Some(recording) = recording {
        if let Err(error) = recording.finish(&result).await {
            // Best effort: the answer was printed; the history keeps what it saved so far.
            let _ = writeln!(
                err,
                "behest-desktop chat: saving the answer's outcome failed: {error}"
            );
        }
    }
    // stderr is best effort: nothing sensible is left to do when it is closed.
    let _ = report(&result, err);
    match result {
        Ok(outcome) => match outcome.status {
            ChatStatus::Completed => exit::DONE,
            ChatStatus::Interrupted { .. } => exit::INTERRUPTED,
            ChatStatus::Cancelled => exit::CANCELLED,
        },
        Err(failure) => exit_code(&failure.error),
    }
}

/// Writes timings, usage, the trace id, or the error, to `err`.
fn report(result: &Result<ChatOutcome, ChatFailure>, err: &mut dyn Write) -> std::io::Result<()> {
    match result {
        Ok(o) => {
            let mut parts = Vec::new();
            if let Some(ttft) = o.ttft {
                parts.push(format!("ttft {} ms", ttft.as_millis()));
            }
            if let Some(tps) = o.tokens_per_second {
                parts.push(format!("{tps:.1} tok/s"));
            }
            if let Some(u) = o.usage {
                parts.push(format!(
                    "tokens {} in + {} out = {}",
                    u.prompt_tokens, u.completion_tokens, u.total_tokens
                ));
            }
            if let Some(reason) = &o.finish_reason {
                parts.push(format!("finish {reason}"));
            }
            if let Some(trace) = &o.trace_id {
                parts.push(format!("trace {trace}"));
            }
            match o.status {
                ChatStatus::Completed => {}
                ChatStatus::Interrupted { reason } => writeln!(
                    err,
                    "behest-desktop chat: stream interrupted ({reason}) after {} bytes; the text above is incomplete and was not re-sent",
                    o.text.len()
                )?,
                ChatStatus::Cancelled => writeln!(err, "behest-desktop chat: cancelled")?,
            }
            if !parts.is_empty() {
                writeln!(err, "{}", parts.join(" · "))?;
            }
        }
        Err(f) => {
            writeln!(err, "behest-desktop chat: {}", f.error)?;
            if let Some(wait) = f.error.retry_after() {
                writeln!(err, "retry after {} s", wait.as_secs())?;
            }
            if !f.text.is_empty() {
                writeln!(
                    err,
                    "({} bytes of text arrived before the error)",
                    f.text.len()
                )?;
            }
        }
    }
    Ok(())
}

/// Opens the history and starts recording the prompt (unless `--no-history`), with the
/// conversation's context; prints `conversation: ID` on stderr.
async fn begin_recording(
    args: &ChatArgs,
    prompt: &str,
    err: &mut dyn Write,
) -> Result<(Context, Option<Recording>), Error> {
    if args.no_history {
        return Ok((Context::default(), None));
    }
    let history = record::open().await?;
    let context = match &args.conversation {
        Some(id) => record::context(&history, id).await?,
        None => Context::default(),
    };
    let params = effective_params(args, &context);
    let recording =
        Recording::begin(&history, args.conversation.as_deref(), prompt, params).await?;
    // Best effort: the id is also in `history list`.
    let _ = writeln!(err, "conversation: {}", recording.conversation().id);
    Ok((context, Some(recording)))
}

/// Builds the client and runs the command with `tokens`; trips the request on Ctrl-C.
pub async fn run_with(args: &ChatArgs, base_url: &str, tokens: Arc<dyn TokenSource>) -> u8 {
    let mut stderr = std::io::stderr();
    let prompt = match read_prompt(args.prompt.as_deref(), &mut std::io::stdin()) {
        Ok(p) => p,
        Err(e) => return fail(&mut stderr, &e),
    };
    let client = match crate::core::http::shared_client()
        .and_then(|http| ChatClient::new(http, base_url, tokens, ChatConfig::default()))
    {
        Ok(c) => c,
        Err(e) => return fail(&mut stderr, &e),
    };
    let (context, recording) = match begin_recording(args, &prompt, &mut stderr).await {
        Ok(started) => started,
        Err(e @ Error::InvalidInput { .. }) => return fail(&mut stderr, &e),
        Err(e) => {
            // Best effort, as in `fail`.
            let _ = writeln!(stderr, "behest-desktop chat: {}", record::unavailable(&e));
            return exit::CONFIG;
        }
    };
    let mut send = chat_send_in(args, &context, prompt);
    if send.thread_id.is_none() {
        send.thread_id = recording
            .as_ref()
            .and_then(|r| r.conversation().thread_header())
            .map(str::to_string);
    }
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    let signal = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_signal.cancel();
        }
    });
    let code = execute(
        &client,
        &send,
        &cancel,
        recording,
        &mut std::io::stdout(),
        &mut stderr,
    )
    .await;
    signal.abort();
    code
}

fn fail(err: &mut dyn Write, error: &Error) -> u8 {
    // Best effort: the exit code carries the failure when stderr is closed.
    let _ = writeln!(err, "behest-desktop chat: {error}");
    exit_code(error)
}

/// What the command chats with: the configured gateway and a token source for it, plus the
/// in-process gateway when the configuration selects demo mode (kept alive while chatting).
struct Target {
    base_url: String,
    tokens: Arc<dyn TokenSource>,
    _demo: Option<DemoGateway>,
}

/// Loads the configuration like every command ([`Loaded::from_process`]), starts the demo
/// gateway in demo mode, and builds the token session. Tokens live in memory for the one
/// request.
async fn configure(session_id: Option<&str>) -> Result<Target, Error> {
    let config = Loaded::from_process().await?.resolve()?;
    let demo = DemoGateway::for_config(&config, &DemoOptions::headless()).await?;
    let credentials = demo.as_ref().map(|d| &d.credentials);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let http = crate::core::http::shared_client()?;
    let minter = minter_for(&config, credentials, http, Arc::clone(&clock))?;
    let options = SessionOptions {
        user_id: Some(config.user_id.clone()),
        tier: config.tier.clone(),
        ttl: Some(config.ttl),
        session_id: session_id.map(str::to_string),
        refresh_margin: config.refresh_margin,
    };
    let session = Session::new(minter, Arc::new(MemoryStore::new()), clock, options);
    Ok(Target {
        base_url: load::chat_origin(&config, credentials),
        tokens: Arc::new(session),
        _demo: demo,
    })
}

/// Runs `behest-desktop chat`.
pub fn run(args: ChatArgs) -> ExitCode {
    let runtime = match super::runtime() {
        Ok(rt) => rt,
        Err(e) => return ExitCode::from(fail(&mut std::io::stderr(), &Error::Io(e))),
    };
    let code = runtime.block_on(async {
        match configure(args.session.as_deref()).await {
            Ok(target) => run_with(&args, &target.base_url, target.tokens).await,
            Err(e) => fail(&mut std::io::stderr(), &e),
        }
    });
    ExitCode::from(code)
}

#[cfg(test)]
mod tests;
