//! The verification checks: the JWKS served at the base URL (`verify.jwks`), the token's kid in
//! it (`verify.kid`), the signature verified with jsonwebtoken pinned to RS256
//! (`verify.signature`), in sign modes the configured key's public half equal to the JWKS entry
//! for its kid (`verify.publicKey`), and the control-plane JWKS when one is configured
//! (`verify.controlPlane`).
//!
//! Invariant: JWKS documents are read leniently (keys of other types are ignored) and only as
//! data: a kid is a key into the parsed list, never a URL.

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::result::CheckResult;
use crate::core::config::AuthMode;
use crate::core::keys::RsaKey;
use crate::core::protocol::paths;
use crate::core::redact::Secret;

/// `verify.jwks`.
pub const JWKS: &str = "verify.jwks";
/// `verify.kid`.
pub const KID: &str = "verify.kid";
/// `verify.signature`.
pub const SIGNATURE: &str = "verify.signature";
/// `verify.publicKey`.
pub const PUBLIC_KEY: &str = "verify.publicKey";
/// `verify.controlPlane`.
pub const CONTROL_PLANE: &str = "verify.controlPlane";

/// The RSA keys of a JWKS: `(kid, n, e)`.
#[derive(Debug, Clone, Default)]
pub struct KeySet(Vec<(String, String, String)>);

impl KeySet {
    /// Parses a JWKS document, keeping the RSA keys that have a kid, `n` and `e`.
    pub fn parse(body: &[u8]) -> Option<KeySet> {
        let doc: Value = serde_json::from_slice(body).ok()?;
        let keys = doc.get("keys")?.as_array()?;
        let text = |k: &Value, f: &str| k.get(f).and_then(Value::as_str).map(str::to_string);
        Some(KeySet(
            keys.iter()
                .filter(|k| k.get("kty").and_then(Value::as_str) == Some("RSA"))
                .filter_map(|k| Some((text(k, "kid")?, text(k, "n")?, text(k, "e")?)))
                .collect(),
        ))
    }

    /// `(n, e)` of the key with this kid.
    pub fn find(&self, kid: &str) -> Option<(&str, &str)> {
        self.0
            .iter()
            .find(|(k, _, _)| k == kid)
            .map(|(_, n, e)| (n.as_str(), e.as_str()))
    }

    /// The kids, for details.
    pub fn kids(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _, _)| k.as_str()).collect()
    }
}

/// `verify.jwks` from the answer to `GET {base}/.well-known/jwks.json`.
pub fn jwks_check(base: &str, status: u16, body: &[u8]) -> (CheckResult, Option<KeySet>) {
    let url = format!("{base}{}", paths::JWKS);
    let hint = "set BEHEST_BASE_URL to the project's origin (https://<slug>.behest.app, without /v1), which serves the JWKS";
    if status != 200 {
        return (
            CheckResult::fail(JWKS, format!("{url} answered HTTP {status}"), hint),
            None,
        );
    }
    match KeySet::parse(body) {
        Some(set) if !set.0.is_empty() => {
            let detail = format!(
                "{url}: {} RSA key(s): {}",
                set.0.len(),
                set.kids().join(", ")
            );
            (CheckResult::pass(JWKS, detail), Some(set))
        }
        Some(_) => (
            CheckResult::fail(JWKS, format!("{url} holds no RSA key"), hint),
            None,
        ),
        None => (
            CheckResult::fail(JWKS, format!("{url} is not a JWKS document"), hint),
            None,
        ),
    }
}

fn kid_hint(mode: &AuthMode, kid: &str) -> String {
    match mode {
        AuthMode::LocalSign(_) | AuthMode::Demo => format!(
            "register the signing key's public half under kid {kid} in the project's signing keys, or set BEHEST_KID to the kid it is registered under (JWKS caches may take ~5 minutes)"
        ),
        AuthMode::TokenEndpoint { .. } => {
            "your token endpoint (BEHEST_TOKEN_URL) issues tokens for another project than BEHEST_BASE_URL serves: point both at the same project".into()
        }
        AuthMode::ApiKey { .. } => "the token was signed by a key the server does not publish: check BEHEST_BASE_URL is the project's origin".into(),
    }
}

/// Verifies `token` with `(n, e)`: RS256 only, signature only (times and claims are judged by
/// the token checks). `Err` holds why.
pub fn verify_signature(token: &Secret, n: &str, e: &str) -> Result<(), String> {
    let key = DecodingKey::from_rsa_components(n, e)
        .map_err(|_| "the JWKS entry is not a usable RSA key".to_string())?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.algorithms = vec![Algorithm::RS256];
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    jsonwebtoken::decode::<Value>(token.expose(), &key, &validation)
        .map(|_| ())
        .map_err(|e| format!("the RS256 signature does not verify ({:?})", e.kind()))
}

/// `verify.kid` and `verify.signature` of `token` (whose header names `kid`) against `keys`.
pub fn token_checks(
    token: &Secret,
    kid: Option<&str>,
    keys: &KeySet,
    mode: &AuthMode,
    push: &mut dyn FnMut(CheckResult) -> bool,
) {
    let Some(kid) = kid else {
        push(CheckResult::fail(
            KID,
            "the token header has no kid",
            kid_hint(mode, "?"),
        ));
        push(CheckResult::skipped(SIGNATURE, KID));
        return;
    };
    let Some((n, e)) = keys.find(kid) else {
        push(CheckResult::fail(
            KID,
            format!(
                "kid {kid} is not in the JWKS (it has {})",
                keys.kids().join(", ")
            ),
            kid_hint(mode, kid),
        ));
        push(CheckResult::skipped(SIGNATURE, KID));
        return;
    };
    push(CheckResult::pass(KID, format!("kid {kid} found")));
    let hint = match mode {
        AuthMode::LocalSign(_) | AuthMode::Demo => {
            "BEHEST_KEY is not the private half of the key registered under BEHEST_KID: set BEHEST_KEY to that key, or register this key's public half under a new kid and set BEHEST_KID"
        }
        _ => "the server publishes a different key under this kid: check BEHEST_BASE_URL (and BEHEST_TOKEN_URL) name the same project",
    };
    push(match verify_signature(token, n, e) {
        Ok(()) => CheckResult::pass(
            SIGNATURE,
            format!("RS256 signature verifies with the JWKS key {kid}"),
        ),
        Err(why) => CheckResult::fail(SIGNATURE, why, hint),
    });
}

fn unsigned_magnitude(b64: &str) -> Option<Vec<u8>> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(b64.trim_end_matches('='))
        .ok()?;
    Some(raw.into_iter().skip_while(|b| *b == 0).collect())
}

/// `verify.publicKey`: the configured key's modulus and exponent equal the JWKS entry for `kid`.
pub fn public_key_check(key: &RsaKey, kid: &str, keys: &KeySet) -> CheckResult {
    let Some((n, e)) = keys.find(kid) else {
        return CheckResult::fail(
            PUBLIC_KEY,
            format!("no JWKS entry for kid {kid}"),
            format!("register the public half of BEHEST_KEY ({}) under kid {kid} in the project's signing keys, or set BEHEST_KID to the kid it is registered under", key.fingerprint()),
        );
    };
    let same = unsigned_magnitude(n).is_some_and(|n| n == key.modulus())
        && unsigned_magnitude(e).is_some_and(|e| e == key.exponent());
    if same {
        CheckResult::pass(
            PUBLIC_KEY,
            format!(
                "the JWKS entry for {kid} is the public half of BEHEST_KEY ({})",
                key.fingerprint()
            ),
        )
    } else {
        CheckResult::fail(
            PUBLIC_KEY,
            format!("the JWKS entry for {kid} is a different key than BEHEST_KEY ({})", key.fingerprint()),
            "BEHEST_KEY and BEHEST_KID do not belong together: set BEHEST_KEY to the key registered under BEHEST_KID, or register this key and set BEHEST_KID to its kid",
        )
    }
}

/// `verify.controlPlane` from the control plane's JWKS answer. Tenant-signed tokens need not be
/// published there; a kid that is there must verify.
pub fn control_plane_check(
    url: &str,
    status: u16,
    body: &[u8],
    token: &Secret,
    kid: &str,
    mode: &AuthMode,
) -> CheckResult {
    let hint = "check BEHEST_CONTROL_PLANE_URL (or --control-plane): it must be the control plane's origin (https://api.behest.app) serving /.well-known/jwks.json";
    if status != 200 {
        return CheckResult::fail(CONTROL_PLANE, format!("{url} answered HTTP {status}"), hint);
    }
    let Some(keys) = KeySet::parse(body) else {
        return CheckResult::fail(CONTROL_PLANE, format!("{url} is not a JWKS document"), hint);
    };
    match (keys.find(kid), mode) {
        (Some((n, e)), _) => match verify_signature(token, n, e) {
            Ok(()) => CheckResult::pass(CONTROL_PLANE, format!("{url}: kid {kid} found, signature verifies")),
            Err(why) => CheckResult::fail(CONTROL_PLANE, format!("{url}: kid {kid} found, but {why}"), "the control plane publishes a different key under this kid: check BEHEST_BASE_URL and BEHEST_CONTROL_PLANE_URL (or --control-plane) name the same environment"),
        },
        (None, AuthMode::LocalSign(_) | AuthMode::Demo) => {
            CheckResult::pass(CONTROL_PLANE, format!("{url}: {} key(s); the tenant kid {kid} is served by the project host, not here", keys.0.len()))
        }
        (None, _) => CheckResult::fail(CONTROL_PLANE, format!("{url}: kid {kid} is not published (it has {})", keys.kids().join(", ")), kid_hint(mode, kid)),
    }
}
