//! The developer panel's backend: [`Backend::run_check`] runs the configuration checks
//! ([`crate::core::check`]) on the connection chats use, [`Backend::current_token`] describes
//! the session's token (the one chats send and Copy token copies), and
//! [`Backend::recent_requests`] reads the request log.
//!
//! Invariants: the check sees exactly what chat sees: the resolved [`crate::core::config::Config`]
//! of the current connection, its minter (so tokens are obtained as for a chat, and recorded),
//! and in demo mode the running in-process gateway, and the control plane of
//! `BEHEST_CONTROL_PLANE_URL` when set; nothing is resolved a second way. Origins
//! are validated before anything is sent; the report carries no secret (the check module's
//! invariant).

use std::time::Instant;

use super::link::{demo_credentials, stored_secrets};
use super::requests::{Exchange, RequestKind, RequestRecord};
use super::{Backend, TokenInfo};
use crate::core::check::{self, CheckOptions, CheckReport, CheckResult, Provenance};
use crate::core::protocol::claims;
use crate::core::redact::Secret;
use crate::core::token::TokenSource as _;
use crate::core::{Error, Result};

/// The most origins one run checks.
pub const MAX_ORIGINS: usize = 10;

/// `origins` trimmed and validated: each an `http(s)://host[:port]` origin, at most
/// [`MAX_ORIGINS`], no duplicates.
pub fn parse_origins(origins: &[String]) -> Result<Vec<String>> {
    let mut parsed: Vec<String> = Vec::new();
    for raw in origins.iter().map(|o| o.trim()).filter(|o| !o.is_empty()) {
        let bad = || Error::settings("origins", "expected origins like https://app.example.com");
        let url = url::Url::parse(raw).map_err(|_| bad())?;
        let plain = matches!(url.scheme(), "http" | "https")
            && url.host_str().is_some()
            && url.username().is_empty()
            && url.password().is_none()
            && url.path() == "/"
            && url.query().is_none()
            && url.fragment().is_none();
        if !plain {
            return Err(bad());
        }
        let origin = url.origin().ascii_serialization();
        if !parsed.contains(&origin) {
            parsed.push(origin);
        }
    }
    if parsed.len() > MAX_ORIGINS {
        return Err(Error::settings(
            "origins",
            format!("expected at most {MAX_ORIGINS} origins"),
        ));
    }
    Ok(parsed)
}

/// What `token` says, for the panel: its decoded header and claims, its expiry (the `exp`
/// claim, else `expires_at` as the issuer reported it) and session id (the issuer's, else the
/// `sid` claim); never the token. Shared by [`Backend::current_token`] and `Backend::mint`.
pub(super) fn describe_token(
    mode: &str,
    token: &Secret,
    expires_at: Option<i64>,
    session_id: Option<&str>,
) -> Result<TokenInfo> {
    let inspected = claims::inspect(token.expose())
        .ok_or_else(|| Error::Protocol("the token is not a readable jwt".into()))?;
    Ok(TokenInfo {
        mode: mode.to_string(),
        expires_at: inspected.exp().or(expires_at),
        session_id: session_id.or_else(|| inspected.sid()).map(str::to_string),
        header: inspected.header,
        claims: inspected.claims,
    })
}

impl Backend {
    /// Runs every check on the current connection, telling `progress` about each as it
    /// finishes. A configuration that does not resolve is a report (its first check fails
    /// with a hint), not an error; malformed `origins` are an error.
    pub async fn run_check(
        &self,
        origins: &[String],
        progress: impl FnMut(&CheckResult) + Send,
    ) -> Result<CheckReport> {
        let origins = parse_origins(origins)?;
        let began = Instant::now();
        let report = match self.ready_link().await {
            Err(error) => check::unresolved(&error, &origins, progress),
            Ok(link) => {
                let settings = self.settings();
                let stored = stored_secrets(self.secrets.as_ref()).await?;
                let mut options = CheckOptions::new(self.http.clone());
                options.origins = origins;
                options.minter = Some(std::sync::Arc::clone(&link.minter));
                options.provenance = Some(Provenance::detect(&self.env, &settings, &stored));
                options.control_plane = check::control_plane(None, &self.env);
                if link.mode == "demo" {
                    let gateway = self.demo.handle().await.ok_or_else(|| {
                        Error::settings("demo", "the in-process gateway is not running")
                    })?;
                    options.demo = Some(demo_credentials(&gateway));
                }
                check::run(&link.config, &options, progress).await
            }
        };
        let passed = report.checks.iter().filter(|c| c.ok).count();
        let what = format!("{passed} of {} checks passed", report.checks.len());
        let mut exchange =
            Exchange::ok(RequestKind::Check, "RUN", what.clone()).took(began.elapsed());
        if !report.ok {
            exchange.ok = false;
            exchange.error = Some(what);
        }
        self.requests.record(exchange);
        Ok(report)
    }

    /// What the current chat token says: the one chats send and `copy_token` copies, from the
    /// session's cache (a new one is obtained only when none is cached or it is due for
    /// refresh, exactly as for a chat). Header, claims, expiry and session id; never the token.
    pub async fn current_token(&self) -> Result<TokenInfo> {
        let link = self.ready_link().await?;
        let bearer = link.tokens.bearer().await?;
        describe_token(
            link.mode,
            &bearer.token,
            bearer.expires_at,
            bearer.session_id.as_deref(),
        )
    }

    /// Up to `limit` of the last exchanges, newest first.
    pub fn recent_requests(&self, limit: usize) -> Vec<RequestRecord> {
        self.requests.recent(limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn origins_are_normalized_and_deduplicated() -> Result<()> {
        let parsed = parse_origins(&strings(&[
            " https://App.Example.com ",
            "https://app.example.com/",
            "",
            "http://localhost:5173",
        ]))?;
        assert_eq!(
            parsed,
            strings(&["https://app.example.com", "http://localhost:5173"])
        );
        Ok(())
    }

    #[test]
    fn anything_but_an_origin_is_invalid_settings() {
        for bad in [
            "app.example.com",
            "ftp://app.example.com",
            "https://app.example.com/path",
            "https://app.example.com/?q=1",
            "https://user:pw@app.example.com",
            "javascript:alert(1)",
        ] {
            let error = parse_origins(&strings(&[bad])).err();
            assert!(
                matches!(error, Some(Error::InvalidSettings { .. })),
                "{bad} was accepted"
            );
        }
        let many: Vec<String> = (0..=MAX_ORIGINS)
            .map(|i| format!("https://a{i}.example.com"))
            .collect();
        assert!(matches!(
            parse_origins(&many),
            Err(Error::InvalidSettings { .. })
        ));
    }
}
