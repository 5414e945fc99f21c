//! Where secrets live: the API key or signing key, the session credential, and cached tokens.
//!
//! [`SecretStore`] is the one interface; [`KeyringStore`] keeps secrets in the OS store
//! (Secret Service, Keychain, Credential Manager) and [`MemoryStore`] in process memory.
//! Invariants: a secret is never written to a plaintext file; a value larger than
//! [`MAX_SECRET_BYTES`] is refused before anything is written and any older value under that
//! name is deleted; secret values are never logged, only their names.

mod keyring;
mod memory;

pub use self::keyring::{
    KeyringBackend, KeyringStore, OsKeyring, DEFAULT_KEYRING_TIMEOUT, DEFAULT_SERVICE,
};
/// The keyring crate's error, which [`KeyringBackend`] implementations return.
pub use ::keyring::Error as KeyringError;
pub use memory::MemoryStore;

use crate::core::redact::Secret;
use crate::core::token::BoxFuture;
use crate::core::{Error, Result};

/// The smallest per-secret limit of the supported stores: Windows Credential Manager's
/// `CRED_MAX_CREDENTIAL_BLOB_SIZE` (5 × 512 bytes).
pub const MAX_SECRET_BYTES: usize = 2560;

/// Name of the key secret (`BEHEST_KEY` form: API key or signing key).
pub const KEY: &str = "key";
/// Name of the token endpoint's session credential.
pub const SESSION_TOKEN: &str = "session-token";

/// Where secrets are being kept right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyringState {
    /// In the OS store: they survive a restart.
    Persisted,
    /// In process memory only: they vanish on exit. `reason` says why (no keyring reachable,
    /// a timeout), without any secret.
    MemoryOnly {
        /// Why the OS store is not used.
        reason: String,
    },
}

/// Secrets by name. Implementations never block the async runtime.
pub trait SecretStore: Send + Sync {
    /// The secret, or `None` when absent (or stored corrupt, in which case it is deleted).
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<Secret>>>;
    /// Stores a secret, replacing any previous value. Oversized values give
    /// [`Error::SecretTooLarge`] and leave no entry under `name`.
    fn set<'a>(&'a self, name: &'a str, value: &'a Secret) -> BoxFuture<'a, Result<()>>;
    /// Removes a secret; absent is fine.
    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<()>>;
    /// Where secrets are kept right now.
    fn state(&self) -> KeyringState;
}

/// How many bytes Windows counts for `value` stored as a string (`set_password`): UTF-16.
pub fn utf16_size(value: &str) -> usize {
    value.encode_utf16().count() * 2
}

/// How many bytes every store counts for `value` stored as bytes (`set_secret`, which
/// [`KeyringStore`] uses): its UTF-8 length.
pub fn byte_size(value: &str) -> usize {
    value.len()
}

/// Refuses a value the stores would not hold. The stores here write bytes, so the UTF-8 size
/// is what counts.
pub fn check_size(name: &str, value: &Secret) -> Result<()> {
    let bytes = byte_size(value.expose());
    if bytes > MAX_SECRET_BYTES {
        return Err(Error::SecretTooLarge {
            name: name.to_string(),
            bytes,
            limit: MAX_SECRET_BYTES,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_count_utf16_for_strings_and_bytes_for_secrets() {
        let token_1281 = "a".repeat(1281);
        assert_eq!(
            utf16_size(&token_1281),
            2562,
            "over the limit as a Windows string"
        );
        assert_eq!(byte_size(&token_1281), 1281);
        assert!(check_size("t", &Secret::new(token_1281)).is_ok());
        assert_eq!(utf16_size("é😀"), 6);
        assert_eq!(byte_size("é😀"), 6);
        match check_size("token", &Secret::new("x".repeat(2600))) {
            Err(Error::SecretTooLarge { name, bytes, limit }) => {
                assert_eq!((name.as_str(), bytes, limit), ("token", 2600, 2560));
            }
            other => panic!("{other:?}"),
        }
        assert!(check_size("t", &Secret::new("x".repeat(2560))).is_ok());
    }

    #[test]
    fn default_keyring_builder_is_a_real_store_not_the_mock() {
        // keyring 3 without a platform feature silently falls back to its in-memory mock.
        let persistence = ::keyring::default::default_credential_builder().persistence();
        assert!(
            matches!(
                persistence,
                ::keyring::credential::CredentialPersistence::UntilDelete
            ),
            "the keyring crate is built without a persistent store"
        );
    }
}
