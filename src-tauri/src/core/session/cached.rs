//! One cached token: when it expires by the local clock, when to refresh it, and its stored
//! form in the secret store.
//!
//! Invariants: expiry comes from the JWT's `exp`; the source's ttl is used only when `exp` is
//! unreadable or already past by the local clock (a skewed clock must not cause a refresh
//! storm); a refresh is due `margin` before expiry, but never earlier than half the lifetime.
//! A token restored from the secret store follows the same rule: its stored form keeps when it
//! was minted, and the refresh point is computed again from that, the expiry and the current
//! margin.

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
    /// Local epoch seconds at which the token was minted.
    pub minted_local: i64,
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
            minted_local: now,
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
            minted_at: Some(self.minted_local),
        };
        serde_json::to_string(&stored)
            .map(Secret::new)
            .map_err(|e| Error::Storage(format!("cannot encode a cached token: {e}")))
    }

    /// Reads the stored form back; `None` when it is corrupt (not our JSON, or a token that is
    /// not a JWT). The refresh is due by the same rule as for a fresh token ([`refresh_at`]),
    /// from when it was minted: the stored time, else (a value stored before that was kept) the
    /// JWT's `iat` when it is before the expiry, else the expiry itself (`margin` before it).
    pub fn from_stored(value: &Secret, margin: i64) -> Option<Cached> {
        let stored: Stored = serde_json::from_str(value.expose()).ok()?;
        let parts = inspect(&stored.token)?;
        let exp = parts.exp();
        let iat = parts.claims.get("iat").and_then(serde_json::Value::as_i64);
        let expires_local = stored.expires_at;
        let minted_local = stored
            .minted_at
            .or(iat)
            .filter(|&t| t <= expires_local)
            .unwrap_or(expires_local);
        Some(Cached {
            bearer: Bearer {
                token: Secret::new(stored.token),
                session_id: stored.session_id,
                expires_at: exp.or(Some(expires_local)),
            },
            refresh_at: refresh_at(minted_local, expires_local, margin),
            expires_local,
            minted_local,
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
    /// Absent in values stored by earlier versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    minted_at: Option<i64>,
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
            http_status: None,
            trace_id: None,
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
    fn a_restored_token_is_refreshed_by_the_same_rule_as_a_fresh_one() -> Result<()> {
        // Lifetimes where "margin before expiry" and "not before half the lifetime" differ,
        // and one where they agree; margins 60 s and a configured 10 s.
        for (lifetime, margin) in [(30, 60), (100, 60), (3600, 60), (100, 10), (0, 60)] {
            let fresh = Cached::from_minted(
                minted(jwt(serde_json::json!({"exp": 1_000 + lifetime})), 3600),
                1_000,
                margin,
            );
            let restored = Cached::from_stored(&fresh.to_stored()?, margin);
            assert_eq!(
                restored.as_ref().map(|c| c.refresh_at),
                Some(fresh.refresh_at),
                "lifetime {lifetime}, margin {margin}"
            );
        }
        // A value stored before the mint time was kept: the JWT's iat stands in for it.
        let legacy = Secret::new(
            serde_json::json!({
                "token": jwt(serde_json::json!({"iat": 1_000, "exp": 1_100})),
                "sessionId": "s",
                "expiresAt": 1_100,
            })
            .to_string(),
        );
        assert_eq!(
            Cached::from_stored(&legacy, 60).map(|c| c.refresh_at),
            Some(1_050)
        );
        Ok(())
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
