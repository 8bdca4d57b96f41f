//! Reading a JWKS into keys with their algorithm pinned. A key the verifier cannot use
//! safely is skipped, never guessed at: no symmetric keys, no encryption keys, no RSA
//! key without an `alg` (it could be RS* or PS*), no key without a `kid`.
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use serde_json::Value;

pub(crate) struct PinnedKey {
    pub algorithm: Algorithm,
    pub key: DecodingKey,
}

pub(crate) type Keys = HashMap<String, Arc<PinnedKey>>;

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<Value>,
}

/// The usable signing keys of a JWKS document, by `kid`.
pub(crate) fn parse_jwks(body: &[u8]) -> Result<Keys, String> {
    let set: RawSet = serde_json::from_slice(body).map_err(|e| format!("not a JWKS document: {e}"))?;
    let mut keys = HashMap::new();
    for raw in set.keys {
        match serde_json::from_value::<Jwk>(raw).map_err(|e| e.to_string()).and_then(|jwk| pin(&jwk)) {
            Ok((kid, key)) => {
                keys.insert(kid, Arc::new(key));
            }
            Err(reason) => tracing::debug!(reason, "JWKS key skipped"),
        }
    }
    if keys.is_empty() {
        return Err("the JWKS holds no usable signing key".into());
    }
    Ok(keys)
}

fn pin(jwk: &Jwk) -> Result<(String, PinnedKey), String> {
    let kid = jwk.common.key_id.clone().ok_or("no kid")?;
    if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
        return Err(format!("{kid}: not a signing key"));
    }
    let named = match jwk.common.key_algorithm {
        Some(alg) => Some(Algorithm::from_str(&alg.to_string()).map_err(|_| format!("{kid}: unsupported alg {alg}"))?),
        None => None,
    };
    let algorithm = match (&jwk.algorithm, named) {
        (AlgorithmParameters::EllipticCurve(ec), alg) => match (&ec.curve, alg) {
            (EllipticCurve::P256, None | Some(Algorithm::ES256)) => Algorithm::ES256,
            (EllipticCurve::P384, None | Some(Algorithm::ES384)) => Algorithm::ES384,
            _ => return Err(format!("{kid}: EC curve and alg do not agree")),
        },
        (AlgorithmParameters::OctetKeyPair(okp), None | Some(Algorithm::EdDSA))
            if okp.curve == EllipticCurve::Ed25519 =>
        {
            Algorithm::EdDSA
        }
        (AlgorithmParameters::RSA(_), Some(alg)) if is_rsa(alg) => alg,
        _ => return Err(format!("{kid}: key type not usable for signatures with alg {named:?}")),
    };
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("{kid}: {e}"))?;
    Ok((kid, PinnedKey { algorithm, key }))
}

fn is_rsa(alg: Algorithm) -> bool {
    use Algorithm::*;
    matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EC_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const EC_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

    fn ec(extra: &str) -> String {
        format!(r#"{{"kty":"EC","crv":"P-256","x":"{EC_X}","y":"{EC_Y}"{extra}}}"#)
    }

    fn kids(body: &str) -> Result<Vec<(String, Algorithm)>, String> {
        let mut found: Vec<_> = parse_jwks(body.as_bytes())?.into_iter().map(|(k, v)| (k, v.algorithm)).collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(found)
    }

    #[test]
    fn keys_are_pinned_to_their_algorithm_and_unsafe_ones_skipped() {
        let body = format!(
            r#"{{"keys":[{},{},{},{},{},{{"kty":"oct","k":"c2VjcmV0","kid":"hmac","alg":"HS256"}},{{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"rsa-no-alg"}},{{"kty":"new","kid":"future"}}]}}"#,
            ec(r#","kid":"a","alg":"ES256","use":"sig""#),
            ec(r#","kid":"b""#),
            ec(r#","kid":"enc","use":"enc""#),
            ec(r#","kid":"lying","alg":"RS256""#),
            ec(r#","alg":"ES256""#),
        );
        assert_eq!(kids(&body).unwrap(), [("a".to_string(), Algorithm::ES256), ("b".to_string(), Algorithm::ES256)]);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for body in ["", "null", "{}", "{\"keys\":{}}", "{\"keys\":[]}", "{\"keys\":[1,\"x\",null]}", "<html>"] {
            assert!(kids(body).is_err(), "{body}");
        }
    }
}
