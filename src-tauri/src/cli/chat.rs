//! `behest-desktop chat [--model M] [--system S] [--session S] [--thread T] [--no-stream]
//! [--temperature X] [--max-tokens N] PROMPT` (or the prompt on stdin).
//!
//! The reply goes to stdout as it arrives (flushed per delta); timings, usage, the trace id and
//! errors go to stderr. Ctrl-C cancels the request (the connection is dropped at once).
//!
//! Configuration: the same as `mint` (the environment, the settings file, then the OS keyring);
//! with nothing configured, demo mode starts an in-process gateway and chats with it.
//!
//! Exit codes: 0 done; 2 configuration or usage error (also a 400/404/422 answer: a bad model,
//! slug or thread; an unreadable settings file or stdin); 3 unauthorized or forbidden; 4 quota
//! exceeded; 5 rate limited after retries; 6 network or server error (including an error event
//! inside the stream); 7 stream interrupted (the partial text was printed); 130 cancelled by
//! Ctrl-C.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::core::auth::{minter_for, Clock, DemoCredentials, SystemClock};
use crate::core::chat::{
    ChatClient, ChatConfig, ChatEvent, ChatFailure, ChatOutcome, ChatSend, ChatStatus, SinkClosed,
};
use crate::core::config::{
    env, settings_path, AuthMode, Config, Env, Settings, SigningConfig, StoredSecrets,
};
use crate::core::gateway::{Gateway, GatewayConfig, GatewayHandle};
use crate::core::protocol::chat::ChatMessage;
use crate::core::secrets::{
    KeyringStore, MemoryStore, SecretStore, DEFAULT_SERVICE, KEY, SESSION_TOKEN,
};
use crate::core::session::{Session, SessionOptions};
use crate::core::token::TokenSource;
use crate::core::Error;

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

/// Builds the send from the arguments and the prompt.
pub fn chat_send(args: &ChatArgs, prompt: String) -> ChatSend {
    let mut messages = Vec::new();
    if let Some(system) = &args.system {
        messages.push(ChatMessage::new("system", system.clone()));
    }
    messages.push(ChatMessage::new("user", prompt));
    let mut send = ChatSend::new(messages);
    send.stream = !args.no_stream;
    send.request.model = args.model.clone().filter(|m| !m.is_empty());
    send.request.temperature = args.temperature;
    send.request.max_tokens = args.max_tokens;
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

/// Sends `send` through `client`, writing the reply to `out` and the rest to `err`; returns the
/// exit code. The core of the command, without configuration or signals (tests call it).
pub async fn execute(
    client: &ChatClient,
    send: &ChatSend,
    cancel: &CancellationToken,
    out: &mut (dyn Write + Send),
    err: &mut (dyn Write + Send),
) -> u8 {
    let mut printed_newline = true;
    let sink = |event: ChatEvent| -> Result<(), SinkClosed> {
        if let ChatEvent::Delta { text } = event {
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
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    let signal = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_signal.cancel();
        }
    });
    let send = chat_send(args, prompt);
    let code = execute(&client, &send, &cancel, &mut std::io::stdout(), &mut stderr).await;
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
    _demo: Option<GatewayHandle>,
}

/// Resolves the configuration exactly as `mint` does (the environment, the settings file, then
/// the OS keyring for the key or session credential when the environment does not decide) and
/// builds the token session. Tokens live in memory for the one request.
async fn configure(session_id: Option<&str>) -> Result<Target, Error> {
    let process_env = Env::from_process();
    let settings = Settings::load(&settings_path()?)?;
    let stored = stored_secrets(&process_env, &settings).await;
    let config = Config::resolve(&process_env, &settings, &stored)?;
    let http = crate::core::http::shared_client()?;
    let (base_url, demo, handle) = if config.mode == AuthMode::Demo {
        let mut gateway_config = GatewayConfig::demo()?;
        gateway_config.faults_enabled = false;
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let gw = Gateway::spawn(gateway_config, addr).await?;
        let c = gw.credentials();
        let signing = SigningConfig {
            pem: c.signing_key_pem,
            kid: c.kid,
            tenant_id: c.tenant_id,
            project_id: c.project_id,
        };
        let demo = DemoCredentials {
            base_url: c.base_url.clone(),
            signing,
        };
        (c.base_url, Some(demo), Some(gw))
    } else {
        (config.base_url.clone(), None, None)
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let minter = minter_for(&config, demo.as_ref(), http, Arc::clone(&clock))?;
    let options = SessionOptions {
        user_id: Some(config.user_id.clone()),
        tier: config.tier.clone(),
        ttl: Some(config.ttl),
        session_id: session_id.map(str::to_string),
        refresh_margin: config.refresh_margin,
    };
    let session = Session::new(minter, Arc::new(MemoryStore::new()), clock, options);
    Ok(Target {
        base_url,
        tokens: Arc::new(session),
        _demo: handle,
    })
}

/// Secrets from the keyring, read only when the environment does not already decide the mode
/// (the same rule as `mint`; service `BEHEST_KEYRING_SERVICE`, default `ai.behest.desktop`).
async fn stored_secrets(env: &Env, settings: &Settings) -> StoredSecrets {
    let token_url = env.get(env::BEHEST_TOKEN_URL).is_some() || settings.token_url.is_some();
    let env_decides =
        env.key().is_some() || (token_url && env.get(env::BEHEST_SESSION_TOKEN).is_some());
    if env_decides {
        return StoredSecrets::default();
    }
    let service = std::env::var(super::mint::KEYRING_SERVICE_ENV)
        .unwrap_or_else(|_| DEFAULT_SERVICE.to_string());
    let store = KeyringStore::new(service);
    // An unreadable keyring counts as empty: the resolution then names what is missing.
    let key = store.get(KEY).await.ok().flatten();
    let session_token = store.get(SESSION_TOKEN).await.ok().flatten();
    StoredSecrets { key, session_token }
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
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn arguments_become_the_request() {
        let args = ChatArgs {
            model: Some(String::new()),
            system: Some("be brief".into()),
            session: Some("s1".into()),
            thread: Some("t1".into()),
            no_stream: true,
            temperature: Some(0.5),
            max_tokens: Some(7),
            prompt: None,
        };
        let send = chat_send(&args, "hi".into());
        assert!(!send.stream);
        assert_eq!(
            send.request.model, None,
            "an empty model means the project default"
        );
        assert_eq!(send.request.messages.len(), 2);
        assert_eq!(send.request.messages[0].role, "system");
        assert_eq!(send.request.temperature, Some(0.5));
        assert_eq!(send.request.max_tokens, Some(7));
        assert_eq!(send.session_id.as_deref(), Some("s1"));
        assert_eq!(send.thread_id.as_deref(), Some("t1"));
    }

    #[test]
    fn the_prompt_comes_from_the_argument_or_stdin() {
        let mut stdin: &[u8] = b"from stdin";
        assert_eq!(
            read_prompt(Some("arg"), &mut stdin).ok().as_deref(),
            Some("arg")
        );
        assert_eq!(
            read_prompt(Some("-"), &mut stdin).ok().as_deref(),
            Some("from stdin")
        );
        let mut empty: &[u8] = b"  \n";
        assert!(matches!(
            read_prompt(None, &mut empty),
            Err(Error::InvalidSettings { .. })
        ));
    }

    #[test]
    fn exit_codes_by_error() {
        let failure = || {
            Box::new(crate::core::HttpFailure {
                status: 429,
                code: None,
                message: "m".into(),
                trace_id: None,
                retry_after: Some(Duration::from_secs(1)),
                details: None,
            })
        };
        let table = [
            (Error::settings("X", "y"), exit::CONFIG),
            (Error::BadRequest(failure()), exit::CONFIG),
            (Error::Unauthorized(failure()), exit::UNAUTHORIZED),
            (Error::Forbidden(failure()), exit::UNAUTHORIZED),
            (Error::QuotaExceeded(failure()), exit::QUOTA),
            (Error::RateLimited(failure()), exit::RATE_LIMITED),
            (Error::Upstream(failure()), exit::NETWORK),
            (Error::StreamError(failure()), exit::NETWORK),
            (Error::Network("down".into()), exit::NETWORK),
            (Error::Timeout("slow".into()), exit::NETWORK),
        ];
        for (error, code) in table {
            assert_eq!(exit_code(&error), code, "{error:?}");
        }
    }
}
