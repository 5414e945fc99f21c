//! The app's one HTTP client: built once, shared by auth (mint, token endpoint) and chat.
//!
//! Invariants: a connect timeout and a read (idle) timeout, no whole-request timeout (streams
//! may run for minutes); no redirects (an API never needs one, and a redirect must not carry a
//! bearer anywhere else); `TCP_NODELAY`. Transport errors are reported without their URL.

use std::sync::OnceLock;
use std::time::Duration;

use crate::core::{Error, Result};

/// How long to wait for a TCP (and TLS) connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a read may wait for the next byte (headers or body).
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Timeouts of the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpOptions {
    /// See [`CONNECT_TIMEOUT`].
    pub connect_timeout: Duration,
    /// See [`READ_TIMEOUT`].
    pub read_timeout: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: CONNECT_TIMEOUT,
            read_timeout: READ_TIMEOUT,
        }
    }
}

/// Builds a client with these timeouts (tests use millisecond timeouts).
pub fn build_client(options: HttpOptions) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(options.connect_timeout)
        .read_timeout(options.read_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .user_agent(concat!("behest-desktop/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::Network(format!("cannot build the http client: {}", e.without_url())))
}

/// The process-wide client with the default timeouts, built on first use (cloning it is cheap
/// and shares the connection pool).
pub fn shared_client() -> Result<reqwest::Client> {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(c) = CLIENT.get() {
        return Ok(c.clone());
    }
    let client = build_client(HttpOptions::default())?;
    Ok(CLIENT.get_or_init(|| client).clone())
}

/// A transport error as a typed error: timeouts as [`Error::Timeout`], the rest as
/// [`Error::Network`], without the URL.
pub fn transport_error(e: reqwest::Error) -> Error {
    let timeout = e.is_timeout();
    let e = e.without_url();
    // reqwest's own text ("error sending request") hides the cause; add the innermost one.
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(&e);
    while let Some(next) = cause.and_then(std::error::Error::source) {
        cause = Some(next);
    }
    let text = match cause {
        Some(c) => format!("{e}: {c}"),
        None => e.to_string(),
    };
    let text = crate::core::redact::excerpt(&text, 200);
    if timeout {
        Error::Timeout(text)
    } else {
        Error::Network(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refused_connection_is_a_network_error_without_the_url() -> Result<()> {
        // Bind then drop a listener: the port is free and nothing accepts on it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let client = build_client(HttpOptions::default())?;
        let err = client
            .get(format!("http://127.0.0.1:{port}/v1/secret-path"))
            .send()
            .await
            .map_err(transport_error)
            .err();
        assert!(matches!(err, Some(Error::Network(_))), "{err:?}");
        assert!(!format!("{err:?}").contains("secret-path"));
        assert!(shared_client().is_ok());
        Ok(())
    }
}
