//! Scrubbing of secrets from any text that may reach a log, an error message or the UI.
//!
//! Invariant: every server-provided string kept in an error, and every log line the app writes,
//! passes through [`scrub`]. It removes JWTs (three base64url segments starting `eyJ`), Behest API
//! keys, `Bearer` credentials and PEM blocks, replacing each with `[redacted]`.

/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Whether a header carries a credential by its (lowercase) name alone: cookies, and any name
/// with `key`, `token`, `secret`, `password`, `auth` (so `Authorization` and
/// `Proxy-Authorization`) or `signature` in it. Every place that keeps headers (the request log,
/// the gateway's record) redacts these values whole.
pub fn is_secret_header(name: &str) -> bool {
    matches!(name, "cookie" | "set-cookie")
        || ["key", "token", "secret", "password", "auth", "signature"]
            .iter()
            .any(|word| name.contains(word))
}

/// A string that must never be printed: its `Debug` and `Display` show `[redacted]`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The secret itself; call only where it is sent to its one legitimate destination.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(REDACTED)
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(REDACTED)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

fn is_b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Returns `text` with every JWT, API key, bearer credential and PEM block replaced by
/// `[redacted]`. Text without secrets comes back unchanged.
pub fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        // PEM blocks: everything from BEGIN to the matching END line.
        if rest.starts_with("-----BEGIN ") {
            let end = rest
                .find("-----END ")
                .and_then(|e| rest[e + 9..].find("-----").map(|t| e + 9 + t + 5))
                .unwrap_or(rest.len());
            out.push_str(REDACTED);
            i += end;
            continue;
        }
        // Bearer credentials, whatever their shape.
        if rest.len() >= 7 && rest.as_bytes()[..7].eq_ignore_ascii_case(b"bearer ") {
            out.push_str(&rest[..7]);
            i += 7;
            let len = rest[7..]
                .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == ',')
                .unwrap_or(rest.len() - 7);
            if len > 0 {
                out.push_str(REDACTED);
                i += len;
            }
            continue;
        }
        // API keys (live and legacy) and the base64 signing-key form.
        let key_prefix = ["behest_sk_", "behest_pk_", "bh_live_"]
            .iter()
            .find(|p| rest.starts_with(**p));
        let at_word_start = i == 0 || !is_b64url(bytes[i - 1]);
        if let (Some(_), true) = (key_prefix, at_word_start) {
            let len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || "-_+/=".contains(c)))
                .unwrap_or(rest.len());
            out.push_str(REDACTED);
            i += len;
            continue;
        }
        // JWTs: eyJ... . ... . ...
        if at_word_start && rest.starts_with("eyJ") {
            let mut j = 0;
            let mut dots = 0;
            while j < rest.len() {
                let b = rest.as_bytes()[j];
                if is_b64url(b) {
                    j += 1;
                } else if b == b'.' && dots < 2 {
                    dots += 1;
                    j += 1;
                } else {
                    break;
                }
            }
            if dots == 2 {
                out.push_str(REDACTED);
                i += j;
                continue;
            }
        }
        let ch = rest.chars().next().map(char::len_utf8).unwrap_or(1);
        out.push_str(&rest[..ch]);
        i += ch;
    }
    out
}

/// [`scrub`], then cut to at most `max` characters (adding `…` when cut).
pub fn excerpt(text: &str, max: usize) -> String {
    let clean = scrub(text);
    if clean.chars().count() <= max {
        return clean;
    }
    let mut cut: String = clean.chars().take(max).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_headers_are_known_by_name() {
        for name in [
            "authorization",
            "proxy-authorization",
            "cookie",
            "set-cookie",
            "x-api-key",
            "x-session-token",
            "x-client-secret",
            "x-signature",
        ] {
            assert!(is_secret_header(name), "{name}");
        }
        for name in [
            "accept",
            "content-type",
            "x-session-id",
            "x-thread-id",
            "origin",
        ] {
            assert!(!is_secret_header(name), "{name}");
        }
    }

    #[test]
    fn scrubs_every_secret_shape() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJ1aWQiOiJhIn0.c2lnbmF0dXJl";
        let cases = [
            (
                format!("token {jwt} refused"),
                "token [redacted] refused".to_string(),
            ),
            (
                "Authorization: Bearer abc.def".into(),
                "Authorization: Bearer [redacted]".into(),
            ),
            (
                "key behest_sk_live_0123456789abcdef0123456789abcdef!".into(),
                "key [redacted]!".into(),
            ),
            (
                "x -----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY----- y".into(),
                "x [redacted] y".into(),
            ),
            (
                "plain text, nothing secret: eyJ only".into(),
                "plain text, nothing secret: eyJ only".into(),
            ),
            ("ünïcödé stays".into(), "ünïcödé stays".into()),
            (
                "bearer\u{e9}x béarer ö".into(),
                "bearer\u{e9}x béarer ö".into(),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(scrub(&input), want, "input {input:?}");
        }
    }

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("SENTINEL_TOK_1");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
        assert_eq!(s.expose(), "SENTINEL_TOK_1");
    }

    proptest::proptest! {
        #[test]
        fn scrub_never_panics_and_keeps_secret_free_text(text in "\\PC{0,80}") {
            let out = scrub(&text);
            if !text.contains("eyJ") && !text.to_ascii_lowercase().contains("bearer ")
                && !text.contains("behest_") && !text.contains("bh_live_") && !text.contains("-----BEGIN ")
            {
                proptest::prop_assert_eq!(out, text);
            }
        }
    }

    #[test]
    fn excerpt_cuts_after_scrubbing() {
        assert_eq!(excerpt("abcdef", 3), "abc…");
        assert_eq!(excerpt("abc", 3), "abc");
    }
}
