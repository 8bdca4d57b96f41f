//! Checkpoint signatures: a compact JWS over the checkpoint's statement, by a server
//! signing key. Whoever can write the database but not read the keys directory cannot
//! forge a checkpoint, so cannot cut events off the chain and rebuild it unnoticed.
use std::path::Path;

use jsonwebtoken::{Header, Validation, decode, decode_header};

use super::Failure;
use crate::config::Config;
use crate::keys::{Key, KeyRing, load_key_files};
use crate::store::audit::checkpoints::CheckpointStatement;

/// Not `at+jwt`: no validator can take a checkpoint for an access token.
const TYP: &str = "doorman-audit-checkpoint+jwt";

fn keys(config: &Config) -> Result<Vec<Key>, Failure> {
    load_key_files(Path::new(&config.keys.dir)).map_err(|e| Failure::Runtime(e.to_string()))
}

/// Signs with the key `doorman serve` signs tokens with.
pub fn sign(config: &Config, statement: &CheckpointStatement) -> Result<String, Failure> {
    let ring = KeyRing::new(keys(config)?, config.keys.algorithm).map_err(|e| {
        Failure::Runtime(format!("{e} ({}): checkpoints are signed with the server's key", config.keys.dir))
    })?;
    let key = ring.signer();
    let mut header = Header::new(key.algorithm);
    header.typ = Some(TYP.into());
    header.kid = Some(key.kid.clone());
    key.sign_jwt(&header, statement).map_err(|e| Failure::Runtime(format!("cannot sign the checkpoint: {e}")))
}

/// Checks signatures against every key in the keys directory, retired ones included.
pub struct Seals {
    keys: Vec<Key>,
}

impl Seals {
    pub fn load(config: &Config) -> Result<Self, Failure> {
        Ok(Self { keys: keys(config)? })
    }

    /// Why `signature` does not vouch for `statement`, if it does not.
    pub fn check(&self, signature: &str, statement: &CheckpointStatement) -> Result<(), String> {
        let header = decode_header(signature).map_err(|_| "its signature is not a JWS".to_string())?;
        if header.typ.as_deref() != Some(TYP) {
            return Err("its signature is not a checkpoint signature".into());
        }
        let kid = header.kid.unwrap_or_default();
        let key = self
            .keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or_else(|| format!("it is signed by key {kid:?}, which is not in the keys directory"))?;
        let mut validation = Validation::new(key.algorithm);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_aud = false;
        let signed = decode::<CheckpointStatement>(signature, &key.decoding, &validation)
            .map_err(|e| format!("its signature does not verify ({:?})", e.kind()))?
            .claims;
        if &signed != statement {
            return Err("its columns differ from what was signed".into());
        }
        Ok(())
    }
}
