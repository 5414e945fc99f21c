//! `check`: verifies a developer's Behest project configuration end to end, as a sequence of
//! named checks (issue 6): configuration, reachability, token, verification against the JWKS,
//! a one-token chat, limits, and CORS for each browser origin asked about.
//!
//! [`run`] takes a resolved [`Config`] and returns a [`CheckReport`], telling an optional
//! progress callback about each check as it finishes; [`unresolved`] reports a configuration
//! that cannot be resolved. Check names are a contract (tests and the UI key on them):
//! `config.mode`, `config.key`, `config.ids`, `config.baseUrl`, `config.reachable`,
//! `token.mint`, `token.header`, `token.claims`, `token.lifetime`, `token.clock`,
//! `verify.jwks`, `verify.kid`, `verify.signature`, `verify.publicKey` (sign modes),
//! `verify.controlPlane` (when configured), `chat.completion`, `limits.tier`, `limits.usage`,
//! `cors:<origin>`; `config.values` only for an unresolvable ttl, tier or user id;
//! `config.settings` only when the settings file cannot be read.
//!
//! Invariants: a check whose input depends on an earlier failure is reported as a skipped
//! failure naming that check, never run blindly; no token, key, PEM or session credential
//! reaches a detail or hint (only the token's decoded header and claims are shown); nothing is
//! retried (a 429 is a finding). Traffic per run: one GET of the JWKS (reachability, `Date`),
//! the mint or token-endpoint call of the mode, one non-streaming chat with `max_tokens: 1`,
//! two usage GETs, and per origin one `OPTIONS` preflight plus one unauthenticated `POST` of the
//! chat route (its actual answer shows the exposed headers); the control-plane JWKS once when
//! configured (`--control-plane` or `BEHEST_CONTROL_PLANE_URL`).

mod chat;
mod configuration;
mod cors;
mod limits;
mod probe;
mod result;
mod token;
mod verify;

use std::sync::Arc;
use std::time::Duration;

pub use configuration::Provenance;
pub use result::{CheckReport, CheckResult};

use crate::core::auth::{minter_for, Clock, DemoCredentials, Minter, SystemClock};
use crate::core::config::AuthMode;
use crate::core::config::Config;
use crate::core::protocol::paths;
use crate::core::Error;
use result::Recorder;

/// `config.reachable`.
pub const REACHABLE: &str = "config.reachable";
/// The default time limit of each request a check makes.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// What a run needs besides the configuration.
#[derive(Clone)]
pub struct CheckOptions {
    /// The HTTP client (the app's shared one, or a test's with short timeouts).
    pub http: reqwest::Client,
    /// This machine's clock: the skew measurement and, unless `minter` is given, local signing.
    pub clock: Arc<dyn Clock>,
    /// Browser origins to check CORS for.
    pub origins: Vec<String>,
    /// The in-process gateway's credentials, required in demo mode.
    pub demo: Option<DemoCredentials>,
    /// Obtains the token instead of the minter the configuration selects (the app passes its
    /// session's; tests pass one with a moved clock).
    pub minter: Option<Arc<dyn Minter>>,
    /// The control plane's origin (e.g. `https://api.behest.app`), whose JWKS is checked too
    /// ([`control_plane`] picks it).
    pub control_plane: Option<String>,
    /// Where the configuration came from, shown by `config.mode` and `config.baseUrl`.
    pub provenance: Option<Provenance>,
    /// The time limit of each request.
    pub timeout: Duration,
}

impl std::fmt::Debug for CheckOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckOptions")
            .field("origins", &self.origins)
            .field("control_plane", &self.control_plane)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl CheckOptions {
    /// Options with the system clock, no origins and the default timeout.
    pub fn new(http: reqwest::Client) -> Self {
        CheckOptions {
            http,
            clock: Arc::new(SystemClock),
            origins: Vec::new(),
            demo: None,
            minter: None,
            control_plane: None,
            provenance: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// The checks after the configuration ones, in order (all skipped when it cannot be resolved).
const LATER: [&str; 12] = [
    REACHABLE,
    token::MINT,
    token::HEADER,
    token::CLAIMS,
    token::LIFETIME,
    token::CLOCK,
    verify::JWKS,
    verify::KID,
    verify::SIGNATURE,
    chat::COMPLETION,
    limits::TIER,
    limits::USAGE,
];

/// The report for a configuration that cannot be resolved: the configuration check the error
/// belongs to fails with a hint naming the setting, and every later check is skipped.
pub fn unresolved(
    error: &Error,
    origins: &[String],
    progress: impl FnMut(&CheckResult),
) -> CheckReport {
    failed_report(configuration::unresolved(error), origins, progress)
}

/// The report for configuration sources that cannot even be read (the settings file at
/// `settings_file` unreadable or malformed, no config dir): `config.settings` fails naming the
/// file, and every later check is skipped.
pub fn unreadable(
    error: &Error,
    settings_file: Option<&std::path::Path>,
    origins: &[String],
    progress: impl FnMut(&CheckResult),
) -> CheckReport {
    failed_report(
        configuration::unreadable(error, settings_file),
        origins,
        progress,
    )
}

/// The control plane to verify against: `flag` (the CLI's `--control-plane`) when given, else
/// [`BEHEST_CONTROL_PLANE_URL`](crate::core::config::env::BEHEST_CONTROL_PLANE_URL) in `env`.
pub fn control_plane(flag: Option<&str>, env: &crate::core::config::Env) -> Option<String> {
    flag.map(str::trim)
        .filter(|f| !f.is_empty())
        .or_else(|| env.get(crate::core::config::env::BEHEST_CONTROL_PLANE_URL))
        .map(str::to_string)
}

fn failed_report(
    failed: CheckResult,
    origins: &[String],
    progress: impl FnMut(&CheckResult),
) -> CheckReport {
    let mut rec = Recorder::new(progress);
    let name = failed.name.clone();
    rec.push(failed);
    rec.skip_all(&LATER, &name);
    // CORS names depend on the origins.
    for origin in origins {
        rec.push(CheckResult::skipped(cors::name(origin), &name));
    }
    rec.finish("unknown")
}

/// Runs every check on `config`, calling `progress` with each result as it finishes.
pub async fn run(
    config: &Config,
    options: &CheckOptions,
    progress: impl FnMut(&CheckResult) + Send,
) -> CheckReport {
    let mut rec = Recorder::new(progress);
    let mut push = |r: CheckResult| rec.push(r);
    let mode = &config.mode;
    let outcome = configuration::check(config, options, &mut push);
    let base = outcome.base_url.clone();
    let base_ok = outcome.base_url_ok;

    // Reachability: one GET of the JWKS, also the server's Date for the clock check.
    let jwks_answer = if base_ok {
        match probe::exchange(
            options.http.get(format!("{base}{}", paths::JWKS)),
            None,
            options.timeout,
        )
        .await
        {
            Ok(a) => {
                push(CheckResult::pass(
                    REACHABLE,
                    format!(
                        "{base} answered HTTP {} in {} ms",
                        a.status,
                        probe::millis(a.ttfb)
                    ),
                ));
                Some(a)
            }
            Err(e) => {
                push(CheckResult::fail(
                    REACHABLE,
                    format!("{base}: {e}"),
                    "nothing answers at BEHEST_BASE_URL: set it (or settings.baseUrl) to the project's origin, e.g. https://<slug>.behest.app, and check your network",
                ));
                None
            }
        }
    } else {
        push(CheckResult::skipped(REACHABLE, configuration::BASE_URL));
        None
    };
    let local_now = options.clock.now();
    let server_now = jwks_answer.as_ref().and_then(|a| a.server_date);

    // Token.
    let needs_server = matches!(mode, AuthMode::ApiKey { .. });
    let minted = if !outcome.credential_ok {
        rec_skip(&mut push, &[token::MINT], configuration::KEY);
        None
    } else if needs_server && jwks_answer.is_none() {
        rec_skip(&mut push, &[token::MINT], REACHABLE);
        None
    } else {
        let minter = match &options.minter {
            Some(m) => Ok(Arc::clone(m)),
            None => minter_for(
                config,
                options.demo.as_ref(),
                options.http.clone(),
                Arc::clone(&options.clock),
            ),
        };
        match minter {
            Ok(m) => {
                let (result, minted) = token::mint(m.as_ref(), mode).await;
                push(result);
                minted
            }
            Err(e) => {
                push(CheckResult::fail(
                    token::MINT,
                    format!("no token: {e}"),
                    "fix the configuration checks above (BEHEST_KEY, BEHEST_KID)",
                ));
                None
            }
        }
    };
    let decoded = match &minted {
        Some(m) => token::inspect_token(
            m,
            mode,
            outcome.kid.as_deref(),
            server_now.unwrap_or(local_now),
            &mut push,
        ),
        None => {
            rec_skip(&mut push, &token::NEEDS_TOKEN, token::MINT);
            None
        }
    };
    match &jwks_answer {
        Some(a) => push(token::clock(options.clock.now(), a.server_date)),
        None => push(CheckResult::skipped(token::CLOCK, REACHABLE)),
    };

    // Verification.
    let keys = match &jwks_answer {
        Some(a) => {
            let (result, keys) = verify::jwks_check(&base, a.status, &a.body);
            push(result);
            keys
        }
        None => {
            push(CheckResult::skipped(verify::JWKS, REACHABLE));
            None
        }
    };
    match (&minted, &decoded, &keys) {
        (Some(m), Some(d), Some(k)) => verify::token_checks(&m.token, d.kid(), k, mode, &mut push),
        (_, _, None) => rec_skip(&mut push, &[verify::KID, verify::SIGNATURE], verify::JWKS),
        _ => rec_skip(&mut push, &[verify::KID, verify::SIGNATURE], token::MINT),
    }
    if matches!(mode, AuthMode::LocalSign(_) | AuthMode::Demo) {
        match (&outcome.signing_key, &outcome.kid, &keys) {
            (Some(key), Some(kid), Some(k)) => {
                push(verify::public_key_check(key, kid, k));
            }
            (_, _, None) => rec_skip(&mut push, &[verify::PUBLIC_KEY], verify::JWKS),
            _ => rec_skip(&mut push, &[verify::PUBLIC_KEY], configuration::KEY),
        }
    }
    if let Some(cp) = &options.control_plane {
        let cp = cp.trim_end_matches('/');
        let url = format!("{cp}{}", paths::JWKS);
        match (&minted, decoded.as_ref().and_then(|d| d.kid())) {
            (Some(m), Some(kid)) => {
                let result = match probe::exchange(options.http.get(&url), None, options.timeout).await {
                    Ok(a) => verify::control_plane_check(&url, a.status, &a.body, &m.token, kid, mode),
                    Err(e) => CheckResult::fail(verify::CONTROL_PLANE, format!("{url}: {e}"), "nothing answers at the control plane: check BEHEST_CONTROL_PLANE_URL (or --control-plane), e.g. https://api.behest.app, and your network"),
                };
                push(result);
            }
            _ => rec_skip(&mut push, &[verify::CONTROL_PLANE], token::MINT),
        }
    }

    // Chat and limits.
    match (&minted, jwks_answer.is_some()) {
        (Some(m), true) => {
            let result = chat::completion(
                &options.http,
                &base,
                &m.token,
                decoded.as_ref().map(|d| &d.claims),
                m.session_id.as_deref(),
                mode,
                options.timeout,
            )
            .await;
            push(result);
        }
        (None, _) => rec_skip(&mut push, &[chat::COMPLETION], token::MINT),
        (_, false) => rec_skip(&mut push, &[chat::COMPLETION], REACHABLE),
    }
    match &decoded {
        Some(d) => push(limits::tier(&d.claims)),
        None => push(CheckResult::skipped(limits::TIER, token::MINT)),
    };
    match (&minted, jwks_answer.is_some()) {
        (Some(m), true) => {
            let result = limits::usage(&options.http, &base, &m.token, options.timeout).await;
            push(result);
        }
        (None, _) => rec_skip(&mut push, &[limits::USAGE], token::MINT),
        (_, false) => rec_skip(&mut push, &[limits::USAGE], REACHABLE),
    }

    // CORS.
    for origin in &options.origins {
        let result = if jwks_answer.is_some() {
            cors::check(&options.http, &base, origin, options.timeout).await
        } else {
            CheckResult::skipped(cors::name(origin), REACHABLE)
        };
        push(result);
    }

    rec.finish(mode.name())
}

fn rec_skip(push: &mut dyn FnMut(CheckResult) -> bool, names: &[&str], dependency: &str) {
    for name in names {
        push(CheckResult::skipped(*name, dependency));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::config::{Env, Settings, StoredSecrets};

    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn the_run_future_is_send_so_an_ipc_command_can_await_it() -> crate::core::Result<()> {
        let config = Config::resolve(
            &Env::default(),
            &Settings::default(),
            &StoredSecrets::default(),
        )?;
        let options = CheckOptions::new(crate::core::http::build_client(Default::default())?);
        let future = run(&config, &options, |_| {});
        assert_send(&future);
        Ok(())
    }

    #[test]
    fn options_debug_never_shows_the_demo_signing_key() -> crate::core::Result<()> {
        let mut options = CheckOptions::new(crate::core::http::build_client(Default::default())?);
        options.demo = Some(DemoCredentials {
            base_url: "http://127.0.0.1:9".into(),
            signing: crate::core::config::SigningConfig {
                pem: crate::core::redact::Secret::new(
                    "-----BEGIN PRIVATE KEY-----\nSENTINEL_PEM_BODY\n-----END PRIVATE KEY-----",
                ),
                kid: "kid-1".into(),
                tenant_id: "ten_1".into(),
                project_id: "prj_1".into(),
            },
        });
        options.control_plane = Some("https://api.behest.app".into());
        let text = format!("{options:?}");
        assert!(text.contains("https://api.behest.app"), "{text}");
        assert!(
            !text.contains("SENTINEL_PEM_BODY") && !text.contains("PRIVATE KEY"),
            "{text}"
        );
        Ok(())
    }

    #[test]
    fn the_flag_wins_over_behest_control_plane_url() {
        let env = Env::from_pairs([(
            crate::core::config::env::BEHEST_CONTROL_PLANE_URL,
            " https://env.example ",
        )]);
        assert_eq!(
            control_plane(None, &env).as_deref(),
            Some("https://env.example")
        );
        assert_eq!(
            control_plane(Some("https://flag.example"), &env).as_deref(),
            Some("https://flag.example")
        );
        assert_eq!(control_plane(Some(" "), &Env::default()), None);
    }

    #[test]
    fn an_unreadable_settings_file_is_a_failing_config_settings_check() {
        let path = std::path::Path::new("/home/u/.config/ai.behest.desktop/settings.json");
        let error = Error::settings(
            path.display().to_string(),
            "is not valid JSON (expected value at line 1); expected a settings object",
        );
        let report = unreadable(&error, Some(path), &[], |_| {});
        assert!(!report.ok);
        let first = &report.checks[0];
        assert_eq!(first.name, "config.settings");
        let hint = first.hint.clone().unwrap_or_default();
        assert!(hint.contains("settings.json"), "{hint}");
        let io = Error::Io(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
        let report = unreadable(&io, Some(path), &[], |_| {});
        assert_eq!(report.checks[0].name, "config.settings");
        assert!(report.checks[0].detail.contains("settings.json"));
        assert!(report.checks[1..].iter().all(|c| !c.ok));
    }

    #[test]
    fn an_unresolved_report_skips_everything_after_the_failing_check() {
        let origins = vec!["https://app.example.com".to_string()];
        let mut seen = 0;
        let report = unresolved(
            &Error::settings("BEHEST_TTL", "is bad; expected 1 to 86400"),
            &origins,
            |_| seen += 1,
        );
        assert_eq!(report.mode, "unknown");
        assert_eq!(report.checks.len(), 1 + LATER.len() + 1);
        assert_eq!(seen, report.checks.len());
        assert_eq!(report.checks[0].name, "config.values");
        assert!(report.checks[1..]
            .iter()
            .all(|c| !c.ok && c.detail.contains("config.values")));
    }
}
