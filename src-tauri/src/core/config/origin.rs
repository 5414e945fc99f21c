//! URL checks for the API origin and the token endpoint.
//!
//! Invariant: an accepted URL is `https`, or plain `http` to a loopback host only; it carries
//! no user info, query or fragment (so no credential can hide in it).

use crate::core::{Error, Result};

/// Whether `host` is a loopback name or address (`localhost`, 127.0.0.0/8, `::1`).
pub fn is_loopback_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => {
            d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost")
        }
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// Parses and checks a URL; `name` is the variable or setting it came from.
fn checked(name: &str, raw: &str) -> Result<url::Url> {
    let url = url::Url::parse(raw.trim()).map_err(|e| {
        Error::settings(
            name,
            format!("is not a URL ({e}); expected e.g. https://<slug>.behest.app"),
        )
    })?;
    let host = url.host().ok_or_else(|| {
        Error::settings(name, "has no host; expected e.g. https://<slug>.behest.app")
    })?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(&host) => {}
        "http" => {
            return Err(Error::settings(
                name,
                "uses plain http to a non-loopback host; expected https (http only for localhost/127.0.0.1/::1)",
            ))
        }
        other => return Err(Error::settings(name, format!("has scheme {other:?}; expected https"))),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::settings(
            name,
            "contains user info; expected no credentials in the URL",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::settings(
            name,
            "has a query or fragment; expected a plain URL",
        ));
    }
    Ok(url)
}

/// Normalises an API origin: one trailing `/` stripped, then a trailing `/v1` removed (the
/// client appends `/v1/...` itself). Returns the text without a trailing slash.
pub fn normalize_base_url(name: &str, raw: &str) -> Result<String> {
    let url = checked(name, raw)?;
    let mut text = url.as_str().to_string();
    if let Some(t) = text.strip_suffix('/') {
        text = t.to_string();
    }
    if let Some(t) = text.strip_suffix("/v1") {
        text = t.to_string();
    }
    Ok(text)
}

/// Checks a token-endpoint URL (kept as given, path included).
pub fn check_token_url(name: &str, raw: &str) -> Result<String> {
    Ok(checked(name, raw)?.to_string())
}

/// Checks an update-manifest URL (`BEHEST_UPDATE_URL`: a mirror, or a local test server).
pub fn check_update_url(name: &str, raw: &str) -> Result<url::Url> {
    checked(name, raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_table() {
        let ok = [
            ("https://api.behest.ai", "https://api.behest.ai"),
            ("https://api.behest.ai/", "https://api.behest.ai"),
            (
                "https://amber-fox-042.behest.app/v1",
                "https://amber-fox-042.behest.app",
            ),
            (
                "https://amber-fox-042.behest.app/v1/",
                "https://amber-fox-042.behest.app",
            ),
            (
                "https://proxy.example/behest/v1",
                "https://proxy.example/behest",
            ),
            ("http://127.0.0.1:8787", "http://127.0.0.1:8787"),
            ("http://localhost:8787/v1", "http://localhost:8787"),
            ("http://[::1]:9000/", "http://[::1]:9000"),
            ("  https://x.behest.app  ", "https://x.behest.app"),
        ];
        for (raw, want) in ok {
            assert_eq!(
                normalize_base_url("BEHEST_BASE_URL", raw).ok().as_deref(),
                Some(want),
                "{raw}"
            );
        }
        let refused = [
            "http://amber-fox-042.behest.app",
            "http://10.0.0.1:8080",
            "ftp://x.behest.app",
            "not a url",
            "https://user:pw@x.behest.app",
            "https://x.behest.app/?key=1",
            "https://x.behest.app/#frag",
            "",
        ];
        for raw in refused {
            match normalize_base_url("BEHEST_BASE_URL", raw) {
                Err(Error::InvalidSettings { name, reason }) => {
                    assert_eq!(name, "BEHEST_BASE_URL");
                    assert!(reason.contains("expected"), "{reason}");
                }
                other => panic!("{raw:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn token_url_keeps_its_path() {
        assert_eq!(
            check_token_url("BEHEST_TOKEN_URL", "https://app.example/api/behest/token")
                .ok()
                .as_deref(),
            Some("https://app.example/api/behest/token")
        );
        assert!(check_token_url("BEHEST_TOKEN_URL", "http://app.example/token").is_err());
    }
}
