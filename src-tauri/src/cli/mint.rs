//! `behest-desktop mint`: obtains one token in the configured auth mode and shows it.
//!
//! Configuration: loaded by [`Loaded::from_process`] like every command: the environment
//! (`BEHEST_*`), then the settings file ([`crate::core::config::settings_path`]), then the OS
//! keyring for the key or session credential (service `BEHEST_KEYRING_SERVICE`, default
//! `ai.behest.desktop`). With nothing configured the mode is demo: an in-process gateway is
//! started and its key signs the token.
//!
//! Output: by default the mode, header, claims and expiry — never the token; `--json` prints
//! `{"mode","ttl","session_id","expires_at","header","claims"}`; `--raw` prints only the token
//! (this command's purpose, for piping). Exit codes: 0 ok, 2 configuration (also a 400 or 404
//! from the mint), 3 unauthorized or forbidden, 4 quota exceeded, 5 rate limited, 6 network or
//! server error.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use crate::core::auth::{minter_for, MintParams, Minted, SystemClock};
use crate::core::config;
use crate::core::config::load::{DemoGateway, DemoOptions, Loaded};
use crate::core::protocol::claims::inspect;
use crate::core::{Error, Result};

/// Arguments of `behest-desktop mint`.
#[derive(Debug, clap::Args)]
pub struct MintArgs {
    /// End user the token is for (default `BEHEST_USER_ID`, else `default`).
    #[arg(long, value_name = "U")]
    pub user: Option<String>,
    /// Tier: an integer id or a name (default `BEHEST_TIER`).
    #[arg(long, value_name = "T")]
    pub tier: Option<String>,
    /// Lifetime in seconds (default `BEHEST_TTL`, else 3600).
    #[arg(long, value_name = "S")]
    pub ttl: Option<u64>,
    /// Session id to use (default: a fresh one).
    #[arg(long, value_name = "S")]
    pub session: Option<String>,
    /// Print `{"mode","ttl","session_id","expires_at","header","claims"}`.
    #[arg(long, conflicts_with = "raw")]
    pub json: bool,
    /// Print only the token.
    #[arg(long)]
    pub raw: bool,
}

/// The exit code of an error (see the module docs).
pub fn exit_code(e: &Error) -> u8 {
    match e {
        Error::InvalidSettings { .. }
        | Error::Crypto(_)
        | Error::SecretTooLarge { .. }
        | Error::BadRequest(_)
        | Error::NotFound(_)
        | Error::Io(_) => 2,
        Error::Unauthorized(_) | Error::Forbidden(_) => 3,
        Error::QuotaExceeded(_) => 4,
        Error::RateLimited(_) => 5,
        _ => 6,
    }
}

/// Runs `behest-desktop mint`.
pub fn run(args: MintArgs) -> ExitCode {
    let outcome = match super::runtime() {
        Ok(rt) => rt.block_on(mint(&args)),
        Err(e) => Err(Error::Io(e)),
    };
    match outcome.and_then(|(mode, minted)| print(&args, mode, &minted)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("behest-desktop mint: {e}");
            ExitCode::from(exit_code(&e))
        }
    }
}

fn params(args: &MintArgs) -> Result<MintParams> {
    let ttl = match args.ttl {
        Some(n) if !(1..=config::MAX_TTL_SECS).contains(&n) => {
            return Err(Error::settings(
                "--ttl",
                format!("expected 1 to {} seconds", config::MAX_TTL_SECS),
            ))
        }
        other => other,
    };
    Ok(MintParams {
        user_id: args
            .user
            .as_deref()
            .map(|u| config::check_id("--user", u))
            .transpose()?,
        tier: args
            .tier
            .as_deref()
            .map(|t| config::parse_tier("--tier", t))
            .transpose()?,
        ttl,
        session_id: args
            .session
            .as_deref()
            .map(|s| config::check_id("--session", s))
            .transpose()?,
    })
}

async fn mint(args: &MintArgs) -> Result<(&'static str, Minted)> {
    let config = Loaded::from_process().await?.resolve()?;
    let params = params(args)?;
    let demo = DemoGateway::for_config(&config, &DemoOptions::headless()).await?;
    let client = crate::core::http::shared_client()?;
    let result = async {
        let credentials = demo.as_ref().map(|d| &d.credentials);
        let minter = minter_for(&config, credentials, client, Arc::new(SystemClock))?;
        minter.mint(&params).await.map(|m| (minter.mode(), m))
    }
    .await;
    if let Some(gw) = demo {
        gw.shutdown().await;
    }
    result
}

fn print(args: &MintArgs, mode: &str, minted: &Minted) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if args.raw {
        writeln!(out, "{}", minted.token.expose())?;
        return Ok(());
    }
    let parts = inspect(minted.token.expose());
    let header = parts
        .as_ref()
        .map(|p| p.header.clone())
        .unwrap_or(serde_json::Value::Null);
    let claims = parts
        .as_ref()
        .map(|p| p.claims.clone())
        .unwrap_or(serde_json::Value::Null);
    let expires_at = parts.as_ref().and_then(|p| p.exp()).or(minted.expires_at);
    if args.json {
        let doc = serde_json::json!({
            "mode": mode,
            "ttl": minted.ttl,
            "session_id": minted.session_id,
            "expires_at": expires_at,
            "header": header,
            "claims": claims,
        });
        writeln!(out, "{doc}")?;
        return Ok(());
    }
    let pretty =
        |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    let when = expires_at
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "unknown".into());
    writeln!(out, "mode:       {mode}")?;
    writeln!(out, "expires:    {when} (ttl {} s)", minted.ttl)?;
    writeln!(
        out,
        "session id: {}",
        minted.session_id.as_deref().unwrap_or("-")
    )?;
    writeln!(out, "header:     {}", pretty(&header))?;
    writeln!(out, "claims:     {}", pretty(&claims))?;
    writeln!(out, "(the token itself is printed only with --raw)")?;
    Ok(())
}
