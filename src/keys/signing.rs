//! Signing JWTs with a private key parsed once, at start-up.
//!
//! `jsonwebtoken::encode` builds its signer from the key's bytes on every call. For P-256
//! that means parsing the PKCS#8 document and checking the key (a scalar multiplication),
//! which costs as much as the signature itself: every token paid for two. Here the key
//! pair lives as long as the key, and the token is the same compact JWS that
//! `jsonwebtoken::encode` makes (RFC 7515 §7.1; `Key::sign_jwt`'s tests check the two agree).
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Header;
use jsonwebtoken::errors::{Error, ErrorKind};
use serde::Serialize;

use super::Key;

pub enum SigningKey {
    /// ES256: P-256 with SHA-256, the signature as r ‖ s (RFC 7518 §3.4).
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    /// RS256: PKCS #1 v1.5 with SHA-256.
    Rsa(rsa::KeyPair),
}

impl SigningKey {
    /// The key pair in a PKCS#8 document, with the JWT algorithm it signs for.
    pub fn from_pkcs8(der: &[u8]) -> Option<(jsonwebtoken::Algorithm, Self)> {
        use jsonwebtoken::Algorithm as A;
        if let Ok(pair) = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der) {
            Some((A::ES256, Self::Ecdsa(pair)))
        } else if let Ok(pair) = Ed25519KeyPair::from_pkcs8(der) {
            Some((A::EdDSA, Self::Ed25519(pair)))
        } else {
            rsa::KeyPair::from_pkcs8(der).ok().map(|pair| (A::RS256, Self::Rsa(pair)))
        }
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let failed = |_| Error::from(ErrorKind::Signing("the signing key refused to sign".into()));
        match self {
            Self::Ecdsa(pair) => Ok(pair.sign(&SystemRandom::new(), message).map_err(failed)?.as_ref().to_vec()),
            Self::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
            Self::Rsa(pair) => {
                let mut out = vec![0; pair.public_modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut out).map_err(failed)?;
                Ok(out)
            }
        }
    }
}

impl Key {
    /// A compact JWS of `claims` under `header`, signed with this key; `header.alg` must
    /// be the key's algorithm.
    pub fn sign_jwt(&self, header: &Header, claims: &impl Serialize) -> Result<String, Error> {
        if header.alg != self.algorithm {
            return Err(ErrorKind::InvalidAlgorithm.into());
        }
        let mut token = URL_SAFE_NO_PAD.encode(serde_json::to_vec(header)?);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(serde_json::to_vec(claims)?, &mut token);
        let signature = self.signing.sign(token.as_bytes())?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{Validation, decode, encode};

    use super::*;
    use crate::config::Algorithm;

    #[test]
    fn tokens_verify_and_match_what_jsonwebtoken_makes() {
        let dir = tempfile::tempdir().unwrap();
        for algorithm in [Algorithm::ES256, Algorithm::EdDSA, Algorithm::RS256] {
            super::super::generate_key_file(dir.path(), algorithm).unwrap();
        }
        let keys = super::super::load_key_files(dir.path()).unwrap();
        assert_eq!(keys.len(), 3);
        let claims = serde_json::json!({"sub": "employees/4721", "exp": 4_000_000_000u64, "roles": ["a", "é"]});
        for key in &keys {
            let mut header = Header::new(key.algorithm);
            header.kid = Some(key.kid.clone());
            header.typ = Some("at+jwt".into());
            let ours = key.sign_jwt(&header, &claims).unwrap();
            let mut validation = Validation::new(key.algorithm);
            validation.validate_aud = false;
            let read = decode::<serde_json::Value>(&ours, &key.decoding, &validation).unwrap();
            assert_eq!(read.claims, claims);
            assert_eq!(read.header.kid.as_deref(), Some(key.kid.as_str()));
            let theirs = encode(&header, &claims, &key.encoding).unwrap();
            // ECDSA signatures are randomized; Ed25519 and RSA PKCS #1 v1.5 are not.
            let unsigned = |t: &str| t.rsplit_once('.').unwrap().0.to_string();
            assert_eq!(unsigned(&ours), unsigned(&theirs), "{:?}", key.algorithm);
            if key.algorithm != jsonwebtoken::Algorithm::ES256 {
                assert_eq!(ours, theirs, "{:?}", key.algorithm);
            }
        }
        let es256 = keys.iter().find(|k| k.algorithm == jsonwebtoken::Algorithm::ES256).unwrap();
        let wrong = Header::new(jsonwebtoken::Algorithm::RS256);
        assert!(es256.sign_jwt(&wrong, &claims).is_err(), "a header for another algorithm is refused");
    }
}
