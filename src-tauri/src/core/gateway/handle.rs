//! Starting a gateway on a socket and the [`GatewayHandle`] tests and the app hold on to.
//!
//! Invariant: `DemoCredentials` holds every secret as a [`Secret`]; shutdown is graceful and
//! bounded (open streams get a few seconds, then the server task is dropped).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::conn::{ConnListener, ResetSwitch};
use super::faults::Faults;
use super::mint::{issue, MintParams};
use super::record::RecordedRequest;
use super::router::router;
use super::state::{GatewayState, Shared};
use super::GatewayConfig;
use crate::core::keys::{Jwks, RsaKey};
use crate::core::protocol::claims::Tier;
use crate::core::protocol::paths;
use crate::core::redact::Secret;
use crate::core::{Error, Result};

/// How long shutdown waits for open connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Everything a client needs for the three auth modes against this gateway.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoCredentials {
    /// `http://127.0.0.1:PORT`, the origin without `/v1`.
    pub base_url: String,
    /// API key (API-key mode).
    pub api_key: Secret,
    /// Tenant id (local-sign mode).
    pub tenant_id: String,
    /// Project id (local-sign mode).
    pub project_id: String,
    /// Kid of the tenant signing key (local-sign mode).
    pub kid: String,
    /// The tenant signing key, PKCS#8 PEM (local-sign mode).
    pub signing_key_pem: Secret,
    /// The example integrator token endpoint (token-endpoint mode).
    pub token_url: String,
    /// A session token that endpoint accepts.
    pub session_token: Secret,
    /// The user that session maps to.
    pub session_user_id: String,
}

/// Starts gateways.
pub struct Gateway;

impl Gateway {
    /// Binds `addr` (port 0 picks a free port) and serves `config` on the current tokio runtime
    /// until [`GatewayHandle::shutdown`] (dropping the handle does not stop the server).
    pub async fn spawn(config: GatewayConfig, addr: SocketAddr) -> Result<GatewayHandle> {
        let state: Shared = Arc::new(GatewayState::new(config)?);
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        // Every accepted socket gets TCP_NODELAY and a reset switch (see `conn`).
        let listener = ConnListener::new(listener);
        let cancel = state.shutdown.clone();
        let app = router(Arc::clone(&state)).into_make_service_with_connect_info::<ResetSwitch>();
        let stop = cancel.clone();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await
        });
        Ok(GatewayHandle {
            state,
            addr: local,
            cancel,
            task,
        })
    }
}

/// A running gateway.
pub struct GatewayHandle {
    state: Shared,
    addr: SocketAddr,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl std::fmt::Debug for GatewayHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl GatewayHandle {
    /// The socket it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (the origin, no `/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Credentials for the first project, API key, tenant key and session of the config
    /// (fields are empty when the config has none).
    pub fn credentials(&self) -> DemoCredentials {
        let c = &self.state.config;
        let project = c.projects.first();
        let tenant = c.tenant_keys.first();
        let session = c.sessions.first();
        DemoCredentials {
            base_url: self.base_url(),
            api_key: c
                .api_keys
                .first()
                .map(|k| k.key.clone())
                .unwrap_or_default(),
            tenant_id: project.map(|p| p.tenant_id.clone()).unwrap_or_default(),
            project_id: project.map(|p| p.project_id.clone()).unwrap_or_default(),
            kid: tenant.map(|t| t.kid.clone()).unwrap_or_default(),
            signing_key_pem: tenant.map(|t| t.key.private_pem()).unwrap_or_default(),
            token_url: format!("{}{}", self.base_url(), paths::TOKEN_ENDPOINT),
            session_token: session.map(|s| s.token.clone()).unwrap_or_default(),
            session_user_id: session.map(|s| s.user_id.clone()).unwrap_or_default(),
        }
    }

    /// The fault queues (scripting needs `faults_enabled` in the config).
    pub fn faults(&self) -> &Faults {
        &self.state.faults
    }

    /// Every request so far, in completion order, secrets redacted.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.recorder.all()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.state.recorder.clear();
    }

    /// Removes a kid from the JWKS; tokens signed with it fail from the next request. Whether it
    /// was there.
    pub fn remove_kid(&self, kid: &str) -> bool {
        self.state.keys.remove(kid)
    }

    /// Registers (or replaces) a tenant signing key.
    pub fn add_tenant_key(&self, kid: &str, key: &RsaKey) -> Result<()> {
        self.state.keys.add(kid, key, true)
    }

    /// The JWKS currently served.
    pub fn jwks(&self) -> Jwks {
        self.state.keys.jwks()
    }

    /// The gateway's now, in epoch seconds.
    pub fn now(&self) -> i64 {
        self.state.clock.now()
    }

    /// Moves the gateway's clock (limits windows, token times) by `secs`.
    pub fn advance_clock(&self, secs: i64) {
        self.state.clock.advance(secs);
    }

    /// Mints a token for the first project in-process, as `POST /v1/auth/mint` would.
    pub fn mint(&self, user_id: &str, tier: Option<Tier>, ttl: u64) -> Result<Secret> {
        let project = self
            .state
            .config
            .projects
            .first()
            .ok_or_else(|| Error::settings("gateway.projects", "no project"))?;
        let params = MintParams {
            user_id: user_id.into(),
            role: "user".into(),
            ttl,
            session_id: None,
            tier,
        };
        let minted = issue(&self.state, project, &params).map_err(|e| Error::Crypto(e.message))?;
        minted
            .token()
            .map(Secret::new)
            .ok_or_else(|| Error::Crypto("mint failed".into()))
    }

    /// Stops accepting, lets open requests finish for a few seconds, then stops.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        let mut task = self.task;
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }

    /// The token that stops the server when cancelled (e.g. from a signal handler).
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }
}
