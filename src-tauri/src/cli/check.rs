//! `behest-desktop check [--origin ORIGIN]... [--control-plane URL] [--json]`: checks the
//! configured Behest project end to end ([`crate::core::check`]).
//!
//! Configuration as for every command ([`Loaded::from_process`]): the environment
//! (`BEHEST_*`), then the settings file, then the OS keyring for the key or session credential
//! (service `BEHEST_KEYRING_SERVICE`, read only when the environment does not already decide
//! the mode). With nothing configured, the in-process demo gateway is checked.
//!
//! Output: one line per check as it finishes (`✓`/`✗`, name, detail, and the hint indented
//! under a failure); `--json` prints only `{"ok","mode","checks":[{"name","ok","detail","hint"}]}`.
//! No token, key, PEM or session credential is ever printed.
//! Exit codes: 0 every check passed; 1 otherwise: a check failed, including a configuration
//! that cannot be read (an unreadable or malformed settings file, no config dir: a failing
//! `config.settings` check, still printed with `--json`) or resolves to an error (the report
//! names the setting), and a report that cannot be written. 2 only for a malformed command
//! line (clap's usage error, as for every command).

use std::io::Write as _;
use std::process::ExitCode;

use crate::core::check::{self, CheckOptions, CheckReport, CheckResult, Provenance};
use crate::core::config::load::{DemoGateway, DemoOptions, Loaded};
use crate::core::config::Config;
use crate::core::Result;

/// Arguments of `behest-desktop check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// A browser origin to check CORS for (repeatable), e.g. `https://app.example.com`.
    #[arg(long = "origin", value_name = "ORIGIN")]
    pub origins: Vec<String>,
    /// The control plane's origin (e.g. `https://api.behest.app`), whose JWKS is checked too;
    /// overrides `BEHEST_CONTROL_PLANE_URL`.
    #[arg(long, value_name = "URL")]
    pub control_plane: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
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

/// Loads the configuration and runs the checks. Every problem is a report: one that cannot be
/// read or resolved fails its configuration check and skips the rest.
async fn execute(args: &CheckArgs, mut progress: impl FnMut(&CheckResult) + Send) -> CheckReport {
    let file = crate::core::config::settings_path().ok();
    let loaded = match Loaded::from_process().await {
        Ok(l) => l,
        Err(e) => return check::unreadable(&e, file.as_deref(), &args.origins, progress),
    };
    let (config, http, gateway) = match prepare(&loaded).await {
        Ok(prepared) => prepared,
        Err(e) => return check::unresolved(&e, &args.origins, progress),
    };
    let mut options = CheckOptions::new(http);
    options.origins = args.origins.clone();
    options.control_plane = check::control_plane(args.control_plane.as_deref(), &loaded.env);
    options.provenance = Some(Provenance::detect(
        &loaded.env,
        &loaded.settings,
        &loaded.stored,
    ));
    options.demo = gateway.as_ref().map(|g| g.credentials.clone());
    let report = check::run(&config, &options, &mut progress).await;
    if let Some(gw) = gateway {
        gw.shutdown().await;
    }
    report
}

/// What a run needs beyond the loaded sources: the resolved configuration, the HTTP client and,
/// in demo mode, the in-process gateway.
async fn prepare(loaded: &Loaded) -> Result<(Config, reqwest::Client, Option<DemoGateway>)> {
    let config = loaded.resolve()?;
    let http = crate::core::http::shared_client()?;
    let gateway = DemoGateway::for_config(&config, &DemoOptions::headless()).await?;
    Ok((config, http, gateway))
}

/// Runs `behest-desktop check`.
pub fn run(args: CheckArgs) -> ExitCode {
    let runtime = match super::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("behest-desktop check: {e}");
            return ExitCode::from(1);
        }
    };
    let json = args.json;
    let report = runtime.block_on(execute(&args, |c: &CheckResult| {
        if !json {
            // Best effort: a closed stdout still lets the exit code report the outcome.
            let _ = human_line(&mut std::io::stdout().lock(), c);
        }
    }));
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
            ExitCode::from(1)
        }
        (Ok(()), true) => ExitCode::SUCCESS,
        (Ok(()), false) => ExitCode::from(1),
    }
}
