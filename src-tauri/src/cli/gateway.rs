//! `behest-desktop gateway`: runs the local Behest-compatible gateway on loopback.
//!
//! Once listening it prints exactly one JSON line on stdout with everything a client needs
//! (base_url, api_key, tenant_id, project_id, kid, signing_key_pem, token_url, session_token):
//! printing those secrets is this command's purpose. It then serves until SIGINT or SIGTERM and
//! shuts down gracefully. Exit codes: 0 after a clean shutdown, 1 when it cannot start (bad
//! config, port taken), 2 for bad arguments (clap).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crate::core::gateway::{file_config, DemoResponder, Gateway, GatewayConfig, UpstreamResponder};
use crate::core::redact::Secret;
use crate::core::Result;

/// Arguments of `behest-desktop gateway`.
#[derive(Debug, clap::Args)]
pub struct GatewayArgs {
    /// Address to bind (loopback unless you mean it).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port; 0 picks a free one.
    #[arg(long, default_value_t = 8787)]
    pub port: u16,
    /// A browser origin allowed by CORS (exact, or a `*` glob); repeatable.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origin: Vec<String>,
    /// Forward chats to this OpenAI-compatible server instead of the demo reply.
    #[arg(long, value_name = "URL")]
    pub upstream: Option<String>,
    /// Model name sent upstream (default: the request's model).
    #[arg(long, value_name = "MODEL")]
    pub upstream_model: Option<String>,
    /// Environment variable holding the upstream API key (never passed on the command line).
    #[arg(long, value_name = "NAME", default_value = "BEHEST_UPSTREAM_API_KEY")]
    pub upstream_key_env: String,
    /// A JSON config file naming keys, ids and limits to use instead of fresh ones.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Demo reply speed in chunks per second (0: as fast as the client reads).
    #[arg(long, default_value_t = 0)]
    pub rate: u32,
    /// Enable fault injection (the `/__behest/faults` admin route), for tests.
    #[arg(long)]
    pub faults: bool,
}

/// The JSON line printed once listening.
#[derive(serde::Serialize)]
struct Announcement {
    base_url: String,
    api_key: String,
    tenant_id: String,
    project_id: String,
    kid: String,
    signing_key_pem: String,
    token_url: String,
    session_token: String,
}

fn build_config(args: &GatewayArgs) -> Result<GatewayConfig> {
    let mut config = GatewayConfig::demo()?;
    if let Some(path) = &args.config {
        file_config::apply(&mut config, path)?;
    }
    if let Some(project) = config.projects.first_mut() {
        project
            .allowed_origins
            .extend(args.allow_origin.iter().cloned());
    }
    config.faults_enabled = args.faults;
    config.responder = match &args.upstream {
        Some(url) => {
            let key = std::env::var(&args.upstream_key_env)
                .ok()
                .filter(|k| !k.is_empty())
                .map(Secret::new);
            Arc::new(UpstreamResponder::new(
                url,
                key,
                args.upstream_model.clone(),
            ))
        }
        None => Arc::new(DemoResponder::with_rate(args.rate)),
    };
    config.validate()?;
    Ok(config)
}

#[allow(clippy::print_stdout)] // Printing the credentials is the purpose of this line.
fn announce(gateway: &crate::core::gateway::GatewayHandle) -> Result<()> {
    use std::io::Write as _;
    let c = gateway.credentials();
    let line = serde_json::to_string(&Announcement {
        base_url: c.base_url,
        api_key: c.api_key.expose().to_string(),
        tenant_id: c.tenant_id,
        project_id: c.project_id,
        kid: c.kid,
        signing_key_pem: c.signing_key_pem.expose().to_string(),
        token_url: c.token_url,
        session_token: c.session_token.expose().to_string(),
    })
    .map_err(|e| crate::core::Error::Protocol(format!("cannot encode the announcement: {e}")))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                // No SIGTERM handler available: Ctrl-C still works.
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        // Only Ctrl-C exists here; an error means no signal will ever come.
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn serve(args: GatewayArgs) -> Result<()> {
    let config = build_config(&args)?;
    let gateway = Gateway::spawn(config, SocketAddr::new(args.host, args.port)).await?;
    announce(&gateway)?;
    eprintln!(
        "behest-desktop gateway: listening on {} (Ctrl-C to stop)",
        gateway.base_url()
    );
    terminated().await;
    eprintln!("behest-desktop gateway: shutting down");
    gateway.shutdown().await;
    Ok(())
}

/// Runs `behest-desktop gateway`.
pub fn run(args: GatewayArgs) -> ExitCode {
    let runtime = match super::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("behest-desktop gateway: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("behest-desktop gateway: {e}");
            ExitCode::FAILURE
        }
    }
}
