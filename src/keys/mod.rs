//! Signing keys: PEM files in the keys directory, the file name (without `.pem`) is the
//! `kid`. Parsed once at start-up; the newest key of the configured algorithm signs and
//! every key is published, so tokens in flight stay valid across a rotation.
mod files;
mod signing;

use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{DecodingKey, EncodingKey};

use crate::config::Algorithm;
pub use files::{KeyFileError, generate_key_file, load_key_files};
pub use signing::SigningKey;

pub struct Key {
    pub kid: String,
    pub algorithm: jsonwebtoken::Algorithm,
    /// For the JWK it publishes; tokens are signed with `signing`.
    pub encoding: EncodingKey,
    pub signing: SigningKey,
    pub decoding: DecodingKey,
    pub jwk: Jwk,
}

pub struct KeyRing {
    keys: Vec<Key>,
    signer: usize,
    jwks: JwkSet,
}

impl KeyRing {
    /// `keys` in order of age, oldest first.
    pub fn new(keys: Vec<Key>, algorithm: Algorithm) -> Result<Self, KeyFileError> {
        let wanted = jwt_algorithm(algorithm);
        let signer = keys.iter().rposition(|k| k.algorithm == wanted).ok_or(KeyFileError::NoSigningKey(algorithm))?;
        let jwks = JwkSet { keys: keys.iter().map(|k| k.jwk.clone()).collect() };
        Ok(Self { keys, signer, jwks })
    }

    pub fn signer(&self) -> &Key {
        &self.keys[self.signer]
    }

    pub fn get(&self, kid: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }
}

pub fn jwt_algorithm(algorithm: Algorithm) -> jsonwebtoken::Algorithm {
    match algorithm {
        Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
        Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
        Algorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
    }
}

pub(crate) fn publishable_jwk(
    kid: &str,
    encoding: &EncodingKey,
    algorithm: jsonwebtoken::Algorithm,
) -> Result<Jwk, KeyFileError> {
    let mut jwk =
        Jwk::from_encoding_key(encoding, algorithm).map_err(|e| KeyFileError::Invalid(kid.into(), e.to_string()))?;
    jwk.common.key_id = Some(kid.to_string());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    Ok(jwk)
}
