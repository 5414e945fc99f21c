//! Key-format detection: the SDK's `detect_mode` (§3.2), plus `behest_pk_` followed by a
//! base64 PEM, the form the docs recommend and the SDK mishandles.
//!
//! Invariant: no error message built here contains any part of the key.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

use crate::core::protocol::{API_KEY_PREFIX, SIGNING_KEY_PREFIX};
use crate::core::redact::Secret;
use crate::core::{Error, Result};

/// What a key turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum DetectedKey {
    /// `behest_sk_live_…`: the whole string is the bearer of the mint call.
    ApiKey(Secret),
    /// A PEM private key (PKCS#8 or PKCS#1) to sign tokens locally.
    SigningKey(Secret),
}

/// The PEM markers that make decoded text a signing key.
const PEM_MARKERS: [&str; 2] = ["BEGIN PRIVATE KEY", "BEGIN RSA PRIVATE KEY"];

/// Python's `b64decode(validate=False)`: characters outside the alphabet are skipped and the
/// padding is not checked.
fn lenient_base64(text: &str) -> Option<String> {
    let engine = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let cleaned: String = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '+' || *c == '/')
        .collect();
    let bytes = engine.decode(cleaned).ok()?;
    String::from_utf8(bytes).ok()
}

fn is_pem(text: &str) -> bool {
    PEM_MARKERS.iter().any(|m| text.contains(m))
}

/// Detects the key's mode; `variable` names where it came from in errors.
pub fn detect_key(variable: &str, raw: &Secret) -> Result<DetectedKey> {
    let key = raw.expose().trim();
    let expected =
        "expected behest_sk_live_<32 hex digits>, behest_pk_<PEM or base64 PEM>, or a base64 PEM";
    if key.is_empty() {
        return Err(Error::settings(variable, format!("is empty; {expected}")));
    }
    if key.starts_with(API_KEY_PREFIX) {
        return Ok(DetectedKey::ApiKey(Secret::new(key)));
    }
    if let Some(rest) = key.strip_prefix(SIGNING_KEY_PREFIX) {
        if rest.contains("-----BEGIN") {
            // The SDK's reading: the rest is the PEM text itself.
            return Ok(DetectedKey::SigningKey(Secret::new(rest.trim())));
        }
        // The documented form the SDK fails on: the rest is a base64 PEM.
        return match lenient_base64(rest) {
            Some(pem) if is_pem(&pem) => Ok(DetectedKey::SigningKey(Secret::new(pem))),
            _ => Err(Error::settings(
                variable,
                format!("starts with behest_pk_ but what follows is neither a PEM nor a base64 PEM private key; {expected}"),
            )),
        };
    }
    if key.starts_with("bh_live_") {
        return Err(Error::settings(
            variable,
            format!("is a legacy v1.x key, which v1.5 refuses; {expected}"),
        ));
    }
    if key.starts_with("-----BEGIN") {
        return Err(Error::settings(
            variable,
            format!("is a bare PEM; prefix it with behest_pk_ or base64-encode it ({expected})"),
        ));
    }
    match lenient_base64(key) {
        Some(pem) if is_pem(&pem) => Ok(DetectedKey::SigningKey(Secret::new(pem))),
        _ => Err(Error::settings(
            variable,
            format!("has an unknown format; {expected}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM8: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQ==\n-----END PRIVATE KEY-----\n";
    const PEM1: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow==\n-----END RSA PRIVATE KEY-----\n";

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn detect(raw: &str) -> Result<DetectedKey> {
        detect_key("BEHEST_KEY", &Secret::new(raw))
    }

    #[test]
    fn detection_table() {
        let api = "behest_sk_live_0123456789abcdef0123456789abcdef";
        let sign = |pem: &str| Ok(DetectedKey::SigningKey(Secret::new(pem)));
        let wrapped = {
            // A base64 PEM split over lines (as `base64` prints it) still decodes.
            let one = b64(PEM8);
            format!("{}\n{}", &one[..20], &one[20..])
        };
        let table: Vec<(String, Result<DetectedKey>)> = vec![
            (api.into(), Ok(DetectedKey::ApiKey(Secret::new(api)))),
            (
                format!("  {api}\n"),
                Ok(DetectedKey::ApiKey(Secret::new(api))),
            ),
            // The SDK takes any behest_sk_live_ prefix; the server judges the rest.
            (
                "behest_sk_live_short".into(),
                Ok(DetectedKey::ApiKey(Secret::new("behest_sk_live_short"))),
            ),
            (format!("behest_pk_{PEM8}"), sign(PEM8.trim())),
            (format!("behest_pk_{PEM1}"), sign(PEM1.trim())),
            (format!("behest_pk_{}", b64(PEM8)), sign(PEM8)),
            (format!("behest_pk_{}", b64(PEM1)), sign(PEM1)),
            (b64(PEM8), sign(PEM8)),
            (b64(PEM1), sign(PEM1)),
            (wrapped, sign(PEM8)),
            (b64(PEM8).trim_end_matches('=').to_string(), sign(PEM8)),
        ];
        for (input, want) in table {
            let got = detect(&input);
            match (&got, &want) {
                (Ok(g), Ok(w)) => assert_eq!(g, w, "input {input:?}"),
                _ => panic!("input {input:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn refusals_name_the_variable_and_never_echo_the_key() {
        let refused = [
            "",
            "   ",
            "bh_live_0123456789abcdef0123456789abcdef",
            PEM8,
            "behest_pk_SENTINEL_KEY_notbase64pem",
            "SENTINEL_KEY_random",
            &b64("hello, not a key"),
            "behest_sk_test_0123",
        ];
        for raw in refused {
            match detect_key("BEHEST_API_KEY", &Secret::new(raw)) {
                Err(Error::InvalidSettings { name, reason }) => {
                    assert_eq!(name, "BEHEST_API_KEY");
                    assert!(
                        !reason.contains("SENTINEL") && !reason.contains("MIIE"),
                        "{reason}"
                    );
                    assert!(reason.contains("expected"), "{reason}");
                }
                other => panic!("{raw:?} gave {other:?}"),
            }
        }
    }
}
