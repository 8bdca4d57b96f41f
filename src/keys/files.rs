use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::{rsa, signature};
use jsonwebtoken::{DecodingKey, EncodingKey};

use super::{Key, SigningKey, publishable_jwk};
use crate::config::Algorithm;

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("key file {0}: {1}")]
    Io(String, std::io::Error),
    #[error("key {0}: {1}")]
    Invalid(String, String),
    #[error("no {0:?} signing key in the keys directory")]
    NoSigningKey(Algorithm),
    #[error("key generation failed")]
    Generate,
}

/// Every `*.pem` in `dir`, oldest first (by modification time, then name).
pub fn load_key_files(dir: &Path) -> Result<Vec<Key>, KeyFileError> {
    let io = |e| KeyFileError::Io(dir.display().to_string(), e);
    let mut found: Vec<(SystemTime, String, PathBuf)> = Vec::new();
    if !dir.exists() {
        return Ok(Vec::new());
    }
    for entry in fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let Some(kid) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".pem")) else {
            continue;
        };
        let modified = fs::metadata(&path).and_then(|m| m.modified()).map_err(io)?;
        found.push((modified, kid.to_string(), path));
    }
    found.sort();
    found.into_iter().map(|(_, kid, path)| parse_key(&kid, &path)).collect()
}

fn parse_key(kid: &str, path: &Path) -> Result<Key, KeyFileError> {
    let invalid = |m: &str| KeyFileError::Invalid(kid.to_string(), m.to_string());
    let text = fs::read(path).map_err(|e| KeyFileError::Io(path.display().to_string(), e))?;
    let block = pem::parse(&text).map_err(|e| invalid(&e.to_string()))?;
    if block.tag() != "PRIVATE KEY" {
        return Err(invalid("expected a PKCS#8 \"PRIVATE KEY\" PEM block"));
    }
    let der = block.contents();
    let (algorithm, signing) =
        SigningKey::from_pkcs8(der).ok_or_else(|| invalid("not a P-256, Ed25519 or RSA private key"))?;
    // aws-lc-rs tells the key type and signs; jsonwebtoken's PEM readers unwrap PKCS#8
    // the way its JWK export expects (PKCS#1 inside for RSA).
    let encoding = match algorithm {
        jsonwebtoken::Algorithm::ES256 => EncodingKey::from_ec_pem(&text),
        jsonwebtoken::Algorithm::EdDSA => EncodingKey::from_ed_pem(&text),
        _ => EncodingKey::from_rsa_pem(&text),
    }
    .map_err(|e| invalid(&e.to_string()))?;
    let jwk = publishable_jwk(kid, &encoding, algorithm)?;
    let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| invalid(&e.to_string()))?;
    Ok(Key { kid: kid.to_string(), algorithm, encoding, signing, decoding, jwk })
}

/// Writes a new private key to `dir` (created with mode 0700; the file gets 0600) and
/// returns its kid: the creation time and a random suffix, so names sort by age.
pub fn generate_key_file(dir: &Path, algorithm: Algorithm) -> Result<String, KeyFileError> {
    let der = match algorithm {
        Algorithm::ES256 => signature::EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
            .and_then(|k| k.to_pkcs8v1())
            .map(|d| d.as_ref().to_vec()),
        Algorithm::EdDSA => {
            signature::Ed25519KeyPair::generate().and_then(|k| k.to_pkcs8v1()).map(|d| d.as_ref().to_vec())
        }
        Algorithm::RS256 => rsa::KeyPair::generate(rsa::KeySize::Rsa2048)
            .and_then(|k| AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&k))
            .map(|d| d.as_ref().to_vec()),
    }
    .map_err(|_| KeyFileError::Generate)?;
    let io = |e| KeyFileError::Io(dir.display().to_string(), e);
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io)?;
    // A directory that already existed (a clone's `keys/` is 0755) is made private too.
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io)?;
    let stamp = humantime::format_rfc3339_seconds(SystemTime::now()).to_string().replace([':', '-'], "");
    let kid = format!("{}-{}", stamp.trim_end_matches('Z'), &crate::crypto::random_token(6)[..6]).to_lowercase();
    let text = pem::encode(&pem::Pem::new("PRIVATE KEY", der));
    let mut file =
        OpenOptions::new().write(true).create_new(true).mode(0o600).open(dir.join(format!("{kid}.pem"))).map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    Ok(kid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_load_with_their_algorithm_and_private_mode() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("keys");
        fs::DirBuilder::new().mode(0o755).create(&dir).unwrap();
        for algorithm in [Algorithm::ES256, Algorithm::EdDSA, Algorithm::RS256] {
            let kid = generate_key_file(&dir, algorithm).unwrap();
            let mode = fs::metadata(dir.join(format!("{kid}.pem"))).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let mode = fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "an existing 0755 keys directory is made private");
        let keys = load_key_files(&dir).unwrap();
        let algorithms: Vec<_> = keys.iter().map(|k| k.algorithm).collect();
        assert_eq!(algorithms.len(), 3);
        for alg in [jsonwebtoken::Algorithm::ES256, jsonwebtoken::Algorithm::EdDSA, jsonwebtoken::Algorithm::RS256] {
            assert!(algorithms.contains(&alg));
        }
    }
}
