//! The local Behest-compatible gateway (issue 2): a faithful loopback implementation of the
//! Behest wire protocol (§16 of `behest-protocol.md`), used by the app's demo mode, by the
//! client's integration tests, and checked against the official Python SDK.
//!
//! # In-process API (stable: other modules and tests code against it)
//! ```no_run
//! # async fn demo() -> behest_desktop::core::Result<()> {
//! use behest_desktop::core::gateway::{Fault, Gateway, GatewayConfig, Route};
//! let mut config = GatewayConfig::demo()?;   // fresh keys, one project, one session token
//! config.faults_enabled = true;              // only needed to script faults
//! let gw = Gateway::spawn(config, "127.0.0.1:0".parse().map_err(|_| behest_desktop::core::Error::settings("addr", "bad"))?).await?;
//! let base = gw.base_url();                  // http://127.0.0.1:PORT (origin, no /v1)
//! let creds = gw.credentials();              // api_key, tenant_id, project_id, kid, signing_key_pem, token_url, session_token
//! gw.faults().push(Route::Chat, Fault::status(503).retry_after(2))?;
//! let seen = gw.requests();                  // method, path, redacted headers, body, claims
//! gw.remove_kid(&creds.kid);                 // JWKS rotation: its tokens fail at once
//! gw.shutdown().await;
//! # let _ = (base, seen); Ok(()) }
//! ```
//!
//! # Routes
//! `POST /v1/auth/mint`, `POST /auth/v1/auth/mint` (flat envelope), `GET /.well-known/jwks.json`,
//! `POST /v1/chat/completions` (JSON or SSE), `GET /v1/threads`, `GET|DELETE /v1/threads/{id}`,
//! `GET /v1/threads/{id}/messages`, `GET /v1/usage`, `GET /v1/billing/usage`, `GET /v1/models`,
//! `POST /api/behest/token` (example integrator backend), `OPTIONS *` (CORS), and
//! `POST|DELETE /__behest/faults` only when faults are enabled.
//!
//! # Invariants
//! - Never panics on any input; every error is an envelope with `X-Trace-Id` and `X-Request-Id`.
//! - Shared state is one `Arc` of std locks held for a few lines, never across an await.
//! - No token, key or PEM is logged, recorded or echoed; recorded headers are redacted.
//! - Accepted sockets have `TCP_NODELAY` set ([`conn`]); the reset fault ends its connection
//!   with a TCP RST, every other connection closes normally.

pub mod admin;
pub mod catalog;
pub mod chat;
pub mod config;
pub mod conn;
pub mod cors;
pub mod envelope;
pub mod faults;
pub mod file_config;
pub mod limits;
pub mod mint;
pub mod record;
pub mod responder;
pub mod router;
pub mod state;
pub mod stream;
pub mod threads;
pub mod token_endpoint;
pub mod upstream;
pub mod usage;
pub mod verify;

mod handle;

pub use config::{
    ApiKeyConfig, EnvelopeStyle, GatewayConfig, ProjectConfig, SessionGrant, TenantKeyConfig,
    TierLimits,
};
pub use faults::{Fault, Faults, Route};
pub use handle::{DemoCredentials, Gateway, GatewayHandle};
pub use record::{RecordedRequest, SessionSource, SessionUse};
pub use responder::{DemoResponder, ReplyRequest, Responder, TextStream};
pub use upstream::UpstreamResponder;
