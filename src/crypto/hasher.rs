use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::Rng;
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use tokio::sync::Semaphore;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("argon2: {0}")]
    Argon2(String),
    #[error("hashing task failed")]
    Join,
}

#[derive(Debug, Clone, Copy)]
pub struct HasherParams {
    pub memory_kib: u32,
    pub iterations: u32,
}

impl HasherParams {
    /// Client secrets: OWASP's argon2id recommendation (19 MiB, 2 passes).
    pub const SECRETS: Self = Self { memory_kib: 19 * 1024, iterations: 2 };
    /// One-time codes live minutes and allow a handful of tries; see README "Security".
    pub const CODES: Self = Self { memory_kib: 4 * 1024, iterations: 1 };
}

/// argon2id hashing off the async executor, with a bound on how many hashes run at once
/// so a burst of logins cannot claim unbounded memory.
#[derive(Clone)]
pub struct Hasher {
    argon2: Arc<Argon2<'static>>,
    permits: Arc<Semaphore>,
}

impl Hasher {
    pub fn new(params: HasherParams, pepper: Option<&str>) -> Result<Self, HashError> {
        let params =
            Params::new(params.memory_kib, params.iterations, 1, None).map_err(|e| HashError::Argon2(e.to_string()))?;
        let argon2 = match pepper {
            // The pepper must outlive the Argon2 instance, which lives as long as the app.
            Some(p) => Argon2::new_with_secret(
                Box::leak(p.as_bytes().to_vec().into_boxed_slice()),
                Algorithm::Argon2id,
                Version::V0x13,
                params,
            )
            .map_err(|e| HashError::Argon2(e.to_string()))?,
            None => Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
        };
        let parallel = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
        Ok(Self { argon2: Arc::new(argon2), permits: Arc::new(Semaphore::new(parallel)) })
    }

    pub async fn hash(&self, secret: String) -> Result<String, HashError> {
        let argon2 = self.argon2.clone();
        self.blocking(move || {
            argon2.hash_password(secret.as_bytes()).map(|h| h.to_string()).map_err(|e| HashError::Argon2(e.to_string()))
        })
        .await?
    }

    /// True when `secret` matches `phc`. A malformed stored hash is an error, not a mismatch.
    pub async fn verify(&self, secret: String, phc: String) -> Result<bool, HashError> {
        let argon2 = self.argon2.clone();
        self.blocking(move || {
            let parsed = PasswordHash::new(&phc).map_err(|e| HashError::Argon2(e.to_string()))?;
            Ok(argon2.verify_password(secret.as_bytes(), &parsed).is_ok())
        })
        .await?
    }

    /// A PHC string in this hasher's parameters that no known secret matches (random salt
    /// and random "hash"): verifying against it costs what verifying a real hash costs, and
    /// making it costs nothing, where hashing a random secret would cost a whole hash and,
    /// at start-up, leave its 19 MiB buffer resident in an idle process.
    pub fn unmatchable(&self) -> Result<String, HashError> {
        use argon2::password_hash::phc::{Output, ParamsString, Salt};
        let mut bytes = [0u8; 48];
        UnwrapErr(SysRng).fill_bytes(&mut bytes);
        let argon = |e: argon2::password_hash::phc::Error| HashError::Argon2(e.to_string());
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(self.argon2.params()).map_err(|e| HashError::Argon2(e.to_string()))?,
            salt: Some(Salt::new(&bytes[..16]).map_err(argon)?),
            hash: Some(Output::new(&bytes[16..]).map_err(argon)?),
        };
        Ok(phc.to_string())
    }

    async fn blocking<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, HashError> {
        let _permit = self.permits.acquire().await.map_err(|_| HashError::Join)?;
        tokio::task::spawn_blocking(work).await.map_err(|_| HashError::Join)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_verifies_and_pepper_matters() {
        let peppered = Hasher::new(HasherParams::CODES, Some("pepper")).unwrap();
        let phc = peppered.hash("123456".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(peppered.verify("123456".into(), phc.clone()).await.unwrap());
        assert!(!peppered.verify("123457".into(), phc.clone()).await.unwrap());
        let plain = Hasher::new(HasherParams::CODES, None).unwrap();
        assert!(!plain.verify("123456".into(), phc).await.unwrap());
    }

    #[tokio::test]
    async fn an_unmatchable_hash_has_the_hashers_parameters_and_matches_nothing() {
        let hasher = Hasher::new(HasherParams::CODES, None).unwrap();
        let (real, unmatchable) = (hasher.hash("123456".into()).await.unwrap(), hasher.unmatchable().unwrap());
        // Same algorithm, version, m, t and p, so a verify against either costs the same.
        let head = |phc: &str| phc.rsplitn(3, '$').nth(2).unwrap().to_string();
        assert_eq!(head(&unmatchable), head(&real));
        assert!(unmatchable.starts_with("$argon2id$v=19$m=4096,t=1,p=1$"), "{unmatchable}");
        assert!(!hasher.verify("123456".into(), unmatchable.clone()).await.unwrap());
        assert!(!hasher.verify(String::new(), unmatchable.clone()).await.unwrap());
        assert_ne!(unmatchable, hasher.unmatchable().unwrap(), "each one has its own salt");
    }
}
