//! `behest-desktop check [--origin ORIGIN]... [--control-plane URL] [--json]`: checks the
//! configured Behest project end to end ([`crate::core::check`]).
//!
//! Configuration as for `mint`: the environment (`BEHEST_*`), then the settings file, then the
//! OS keyring for the key or session credential (service `BEHEST_KEYRING_SERVICE`, read only
//! when the environment does not already decide the mode). With nothing configured, the
//! in-process demo gateway is checked.
//!
//! Output: one line per check as it finishes (`✓`/`✗`, name, detail, and the hint indented
//! under a failure); `--json` prints only `{"ok","mode","checks":[{"name","ok","detail","hint"}]}`.
//! No token, key, PEM or session credential is ever printed.
//! Exit codes: 0 every check passed; 1 a check failed (including a configuration that resolves
//! to an error: the report names the setting); 2 the configuration cannot even be read (an
//! unreadable or malformed settings file, no config dir) or the output cannot be written.

use std::io::Write as _;
use std::process::ExitCode;

use crate::core::auth::DemoCredentials;
use crate::core::check::{self, CheckOptions, CheckReport, CheckResult, Provenance};
use crate::core::config::{
    env, settings_path, AuthMode, Config, Env, Settings, SigningConfig, StoredSecrets,
};
use crate::core::gateway::{Gateway, GatewayConfig, GatewayHandle};
use crate::core::secrets::{KeyringStore, SecretStore, DEFAULT_SERVICE, KEY, SESSION_TOKEN};
use crate::core::{Error, Result};

/// Selects the keyring service secrets are read from (as for `mint`).
pub const KEYRING_SERVICE_ENV: &str = "BEHEST_KEYRING_SERVICE";

/// Arguments of `behest-desktop check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// A browser origin to check CORS for (repeatable), e.g. `https://app.example.com`.
    #[arg(long = "origin", value_name = "ORIGIN")]
    pub origins: Vec<String>,
    /// The control plane's origin (e.g. `https://api.behest.app`), whose JWKS is checked too.
    #[arg(long, value_name = "URL")]
    pub control_plane: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Secrets from the keyring, read only when the environment does not already decide the mode
/// (the same rule as `mint`).
async fn stored_secrets(env: &Env, settings: &Settings) -> StoredSecrets {
    let token_url = env.get(env::BEHEST_TOKEN_URL).is_some() || settings.token_url.is_some();
    let env_decides =
        env.key().is_some() || (token_url && env.get(env::BEHEST_SESSION_TOKEN).is_some());
    if env_decides {
        return StoredSecrets::default();
    }
    let service =
        std::env::var(KEYRING_SERVICE_ENV).unwrap_or_else(|_| DEFAULT_SERVICE.to_string());
    let store = KeyringStore::new(service);
    // An unreadable keyring counts as empty: the report then names what is missing.
    let key = store.get(KEY).await.ok().flatten();
    let session_token = store.get(SESSION_TOKEN).await.ok().flatten();
    StoredSecrets { key, session_token }
}

/// Writes one check as a line (and its hint under a failure).
fn human_line(out: &mut dyn std::io::Write, c: &CheckResult) -> std::io::Result<()> {
    let mark = if c.ok { '✓' } else { '✗' };
    writeln!(out, "{mark} {}  {}", c.name, c.detail)?;
    if let Some(hint) = &c.hint {
        writeln!(out, "    hint: {hint}")?;
    }
    out.flush()
}

async fn demo_gateway() -> Result<(GatewayHandle, DemoCredentials)> {
    let gw = Gateway::spawn(
        GatewayConfig::demo()?,
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await?;
    let c = gw.credentials();
    let demo = DemoCredentials {
        base_url: c.base_url,
        signing: SigningConfig {
            pem: c.signing_key_pem,
            kid: c.kid,
            tenant_id: c.tenant_id,
            project_id: c.project_id,
        },
    };
    Ok((gw, demo))
}

/// Loads the configuration and runs the checks; `Err` only when it cannot even be read.
async fn execute(
    args: &CheckArgs,
    mut progress: impl FnMut(&CheckResult) + Send,
) -> Result<CheckReport> {
    let process_env = Env::from_process();
    let settings = Settings::load(&settings_path()?)?;
    let stored = stored_secrets(&process_env, &settings).await;
    let provenance = Provenance::detect(&process_env, &settings, &stored);
    let config = match Config::resolve(&process_env, &settings, &stored) {
        Ok(c) => c,
        Err(e @ Error::InvalidSettings { .. }) => {
            return Ok(check::unresolved(&e, &args.origins, progress))
        }
        Err(e) => return Err(e),
    };
    let mut options = CheckOptions::new(crate::core::http::shared_client()?);
    options.origins = args.origins.clone();
    options.control_plane = args.control_plane.clone();
    options.provenance = Some(provenance);
    let gateway = if config.mode == AuthMode::Demo {
        let (gw, demo) = demo_gateway().await?;
        options.demo = Some(demo);
        Some(gw)
    } else {
        None
    };
    let report = check::run(&config, &options, &mut progress).await;
    if let Some(gw) = gateway {
        gw.shutdown().await;
    }
    Ok(report)
}

/// Runs `behest-desktop check`.
pub fn run(args: CheckArgs) -> ExitCode {
    let runtime = match super::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("behest-desktop check: {e}");
            return ExitCode::from(2);
        }
    };
    let json = args.json;
    let outcome = runtime.block_on(execute(&args, |c: &CheckResult| {
        if !json {
            // Best effort: a closed stdout still lets the exit code report the outcome.
            let _ = human_line(&mut std::io::stdout().lock(), c);
        }
    }));
    let report = match outcome {
        Ok(r) => r,
        Err(e) => {
            eprintln!("behest-desktop check: the configuration cannot be read: {e}");
            return ExitCode::from(2);
        }
    };
    let mut out = std::io::stdout().lock();
    let written = if json {
        serde_json::to_string(&report)
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|text| writeln!(out, "{text}"))
    } else {
        let passed = report.checks.iter().filter(|c| c.ok).count();
        writeln!(
            out,
            "{} mode: {passed} of {} checks passed",
            report.mode,
            report.checks.len()
        )
    };
    match (written, report.ok) {
        (Err(e), _) => {
            eprintln!("behest-desktop check: cannot write the report: {e}");
            ExitCode::from(2)
        }
        (Ok(()), true) => ExitCode::SUCCESS,
        (Ok(()), false) => ExitCode::from(1),
    }
}
