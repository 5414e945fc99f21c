//! One cached token: when it expires by the local clock, when to refresh it, and its stored
//! form in the secret store.
//!
//! Invariants: expiry comes from the JWT's `exp`; the source's ttl is used only when `exp` is
//! unreadable or already past by the local clock (a skewed clock must not cause a refresh
//! storm); a refresh is due `margin` before expiry, but never earlier than half the lifetime.

use serde::{Deserialize, Serialize};

use crate::core::auth::Minted;
use crate::core::protocol::claims::inspect;
use crate::core::redact::Secret;
use crate::core::token::Bearer;
use crate::core::{Error, Result};

/// A token in the cache.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cached {
    pub bearer: Bearer,
    /// Local epoch seconds after which the token is refreshed.
    pub refresh_at: i64,
    /// Local epoch seconds at which the token expires.
    pub expires_local: i64,
}

impl Cached {
    /// Caches a fresh token minted at `now`.
    pub fn from_minted(minted: Minted, now: i64, margin: i64) -> Cached {
        let exp = inspect(minted.token.expose()).and_then(|i| i.exp());
        let ttl = i64::try_from(minted.ttl).unwrap_or(i64::MAX);
        let expires_local = match exp {
            Some(exp) if exp > now => exp,
            Some(_) => {
                tracing::warn!(ttl, "a new token is already expired by the local clock (clock skew?); using the server's ttl");
                now.saturating_add(ttl)
            }
            None => now.saturating_add(ttl),
        };
        Cached {
            bearer: Bearer {
                token: minted.token,
                session_id: minted.session_id,
                expires_at: exp.or(Some(expires_local)),
            },
            refresh_at: refresh_at(now, expires_local, margin),
            expires_local,
        }
    }

    /// Whether the token can be handed out at `now`.
    pub fn is_fresh(&self, now: i64) -> bool {
        now < self.refresh_at
    }

    /// The form kept in the secret store.
    pub fn to_stored(&self) -> Result<Secret> {
        let stored = Stored {
            token: self.bearer.token.expose().to_string(),
            session_id: self.bearer.session_id.clone(),
            expires_at: self.expires_local,
        };
        serde_json::to_string(&stored)
            .map(Secret::new)
            .map_err(|e| Error::Storage(format!("cannot encode a cached token: {e}")))
    }

    /// Reads the stored form back; `None` when it is corrupt (not our JSON, or a token that is
    /// not a JWT). The refresh is due `margin` before the stored expiry.
    pub fn from_stored(value: &Secret, margin: i64) -> Option<Cached> {
        let stored: Stored = serde_json::from_str(value.expose()).ok()?;
        let exp = inspect(&stored.token)?.exp();
        Some(Cached {
            bearer: Bearer {
                token: Secret::new(stored.token),
                session_id: stored.session_id,
                expires_at: exp.or(Some(stored.expires_at)),
            },
            refresh_at: stored.expires_at.saturating_sub(margin),
            expires_local: stored.expires_at,
        })
    }
}

/// `margin` before expiry, but not before half the remaining lifetime (so a short-lived token
/// is not refreshed on every call).
fn refresh_at(now: i64, expires: i64, margin: i64) -> i64 {
    let lifetime = expires.saturating_sub(now).max(0);
    now.saturating_add(lifetime.saturating_sub(margin).max(lifetime / 2))
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    token: String,
    session_id: Option<String>,
    expires_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn jwt(claims: serde_json::Value) -> String {
        let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.c2ln",
            e.encode(br#"{"alg":"RS256"}"#),
            e.encode(claims.to_string())
        )
    }

    fn minted(token: String, ttl: u64) -> Minted {
        Minted {
            token: Secret::new(token),
            ttl,
            session_id: Some("s".into()),
            expires_at: None,
        }
    }

    #[test]
    fn expiry_from_exp_not_from_ttl() {
        let c = Cached::from_minted(
            minted(jwt(serde_json::json!({"exp": 1_000 + 900})), 3600),
            1_000,
            60,
        );
        assert_eq!(
            (c.expires_local, c.refresh_at, c.bearer.expires_at),
            (1_900, 1_840, Some(1_900))
        );
        assert!(c.is_fresh(1_839) && !c.is_fresh(1_840));
    }

    #[test]
    fn unreadable_exp_falls_back_to_ttl() {
        let c = Cached::from_minted(minted("opaque".into(), 600), 1_000, 60);
        assert_eq!((c.expires_local, c.refresh_at), (1_600, 1_540));
        let c = Cached::from_minted(
            minted(jwt(serde_json::json!({"exp": "soon"})), 600),
            1_000,
            60,
        );
        assert_eq!(c.expires_local, 1_600);
    }

    #[test]
    fn clock_ahead_of_server_trusts_the_ttl() {
        // The local clock is 10 min ahead: the token's exp (server time + 300) is already past.
        let now = 10_000;
        let c = Cached::from_minted(
            minted(jwt(serde_json::json!({"exp": now - 600 + 300})), 300),
            now,
            60,
        );
        assert_eq!((c.expires_local, c.refresh_at), (now + 300, now + 240));
        assert!(c.is_fresh(now), "no immediate refresh, so no storm");
    }

    #[test]
    fn short_tokens_are_not_refreshed_on_every_call() {
        let c = Cached::from_minted(
            minted(jwt(serde_json::json!({"exp": 1_030})), 30),
            1_000,
            60,
        );
        assert_eq!(c.refresh_at, 1_015);
    }

    #[test]
    fn stored_round_trip_and_corrupt_values() -> Result<()> {
        let c = Cached::from_minted(
            minted(jwt(serde_json::json!({"exp": 5_000})), 3600),
            1_000,
            60,
        );
        let back = Cached::from_stored(&c.to_stored()?, 60);
        assert_eq!(back, Some(c));
        for corrupt in [
            "",
            "not json",
            r#"{"token":"garbage","expiresAt":5}"#,
            r#"{"token":1}"#,
        ] {
            assert_eq!(
                Cached::from_stored(&Secret::new(corrupt), 60),
                None,
                "{corrupt}"
            );
        }
        Ok(())
    }
}
