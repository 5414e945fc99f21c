//! RSA signing keys: generation, PEM parsing (PKCS#8 and PKCS#1), RS256 compact JWS signing,
//! and the public half as a JWK. Used by local signing (client) and by the gateway.
//!
//! Invariant: the private key never leaves this type except through [`RsaKey::private_pem`],
//! whose result is a [`Secret`]; `Debug` prints only the key size and fingerprint.
//!
//! Signing is done here with aws-lc-rs rather than `jsonwebtoken::encode`, because
//! jsonwebtoken re-parses (and re-validates) the DER key on every signature; a token must cost one
//! RSA operation, with the key parsed once.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use serde::Serialize;
use sha2::Digest as _;

use crate::core::redact::Secret;
use crate::core::{Error, Result};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// An RSA private key, parsed once.
pub struct RsaKey {
    pair: KeyPair,
    pkcs8: Vec<u8>,
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaKey({} bits, {})", self.bits(), self.fingerprint())
    }
}

impl RsaKey {
    /// Generates a fresh RSA-2048 key.
    pub fn generate() -> Result<Self> {
        let pair = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| Error::Crypto("rsa key generation failed".into()))?;
        let pkcs8 = pair
            .as_der()
            .map_err(|_| Error::Crypto("rsa key encoding failed".into()))?
            .as_ref()
            .to_vec();
        Ok(RsaKey { pair, pkcs8 })
    }

    /// Parses a PEM private key: `PRIVATE KEY` (PKCS#8) or `RSA PRIVATE KEY` (PKCS#1).
    /// Refuses other key types and moduli under [`MIN_RSA_BITS`].
    pub fn from_pem(text: &str) -> Result<Self> {
        let block = pem::parse(text.trim())
            .map_err(|_| Error::Crypto("the signing key is not a PEM block".into()))?;
        let pair = match block.tag() {
            "PRIVATE KEY" => KeyPair::from_pkcs8(block.contents()),
            "RSA PRIVATE KEY" => KeyPair::from_der(block.contents()),
            other => {
                return Err(Error::Crypto(format!(
                    "the signing key is a {other:?} PEM, expected PRIVATE KEY or RSA PRIVATE KEY"
                )))
            }
        }
        .map_err(|e| {
            Error::Crypto(format!(
                "the signing key is not a usable rsa private key ({e})"
            ))
        })?;
        let bits = pair.public_modulus_len() * 8;
        if bits < MIN_RSA_BITS {
            return Err(Error::Crypto(format!(
                "the signing key has {bits} bits, at least {MIN_RSA_BITS} are required"
            )));
        }
        let pkcs8 = pair
            .as_der()
            .map_err(|_| Error::Crypto("rsa key encoding failed".into()))?
            .as_ref()
            .to_vec();
        Ok(RsaKey { pair, pkcs8 })
    }

    /// The key as a PKCS#8 PEM, for handing to a client or the keyring.
    pub fn private_pem(&self) -> Secret {
        Secret::new(pem::encode(&pem::Pem::new(
            "PRIVATE KEY",
            self.pkcs8.clone(),
        )))
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.pair.public_modulus_len() * 8
    }

    /// Big-endian modulus without leading zeros.
    pub fn modulus(&self) -> Vec<u8> {
        self.pair
            .public_key()
            .modulus()
            .big_endian_without_leading_zero()
            .to_vec()
    }

    /// Big-endian public exponent without leading zeros.
    pub fn exponent(&self) -> Vec<u8> {
        self.pair
            .public_key()
            .exponent()
            .big_endian_without_leading_zero()
            .to_vec()
    }

    /// A short, stable, public identifier of the key: `sha256:` and 16 hex digits of the
    /// SHA-256 of the modulus.
    pub fn fingerprint(&self) -> String {
        let digest = sha2::Sha256::digest(self.modulus());
        let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    }

    /// The public half as an RS256 signing JWK with the given `kid`.
    pub fn jwk(&self, kid: &str) -> PublicJwk {
        PublicJwk {
            kty: "RSA".into(),
            kid: kid.into(),
            use_: "sig".into(),
            alg: "RS256".into(),
            n: B64.encode(self.modulus()),
            e: B64.encode(self.exponent()),
        }
    }

    /// Signs `header` and `claims` (serialized as given, so field order is kept) into a compact
    /// RS256 JWS.
    pub fn sign_jwt<H: Serialize, C: Serialize>(&self, header: &H, claims: &C) -> Result<String> {
        let mut jws = b64_json(header)?;
        jws.push('.');
        jws.push_str(&b64_json(claims)?);
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.pair
            .sign(&RSA_PKCS1_SHA256, &rng, jws.as_bytes(), &mut sig)
            .map_err(|_| Error::Crypto("rsa signing failed".into()))?;
        jws.push('.');
        jws.push_str(&B64.encode(sig));
        Ok(jws)
    }
}

fn b64_json<T: Serialize>(value: &T) -> Result<String> {
    let json = serde_json::to_vec(value)
        .map_err(|e| Error::Crypto(format!("cannot encode token: {e}")))?;
    Ok(B64.encode(json))
}

/// The public half of an RSA key in JWKS form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PublicJwk {
    /// `RSA`.
    pub kty: String,
    /// Key id.
    pub kid: String,
    /// `sig`.
    #[serde(rename = "use")]
    pub use_: String,
    /// `RS256`.
    pub alg: String,
    /// Modulus, base64url.
    pub n: String,
    /// Exponent, base64url.
    pub e: String,
}

/// A JWKS document: `{"keys":[…]}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<PublicJwk>,
}

impl Jwks {
    /// The key with this `kid`.
    pub fn find(&self, kid: &str) -> Option<&PublicJwk> {
        self.keys.iter().find(|k| k.kid == kid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_round_trips_through_pem_and_verifies() -> Result<()> {
        let key = RsaKey::generate()?;
        assert_eq!(key.bits(), 2048);
        let again = RsaKey::from_pem(key.private_pem().expose())?;
        assert_eq!(again.modulus(), key.modulus());
        assert_eq!(again.fingerprint(), key.fingerprint());
        assert!(!format!("{key:?}").contains("PRIVATE"));

        #[derive(Serialize)]
        struct H {
            alg: &'static str,
            kid: &'static str,
            typ: &'static str,
        }
        let token = key.sign_jwt(
            &H {
                alg: "RS256",
                kid: "k1",
                typ: "JWT",
            },
            &serde_json::json!({"uid": "a", "exp": 4_000_000_000u64}),
        )?;
        let jwk = key.jwk("k1");
        let decoding = jsonwebtoken::DecodingKey::from_rsa_components(&jwk.n, &jwk.e)
            .map_err(|e| Error::Crypto(e.to_string()))?;
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.required_spec_claims.clear();
        v.validate_aud = false;
        let data = jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &v)
            .map_err(|e| Error::Crypto(e.to_string()))?;
        assert_eq!(data.claims["uid"], "a");
        assert_eq!(data.header.kid.as_deref(), Some("k1"));
        Ok(())
    }

    #[test]
    fn refuses_non_keys() {
        assert!(matches!(RsaKey::from_pem("nope"), Err(Error::Crypto(_))));
        let not_rsa = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(matches!(RsaKey::from_pem(not_rsa), Err(Error::Crypto(_))));
        let garbage = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(matches!(RsaKey::from_pem(garbage), Err(Error::Crypto(_))));
    }
}
