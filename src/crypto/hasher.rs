use std::sync::Arc;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::Rng;
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;

use super::hash_pool::HashPool;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("argon2: {0}")]
    Argon2(String),
    #[error("hashing task failed")]
    Join,
}

fn argon2_error(e: impl std::fmt::Display) -> HashError {
    HashError::Argon2(e.to_string())
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

const SALT_BYTES: usize = 16;
const OUTPUT_BYTES: usize = 32;

/// argon2id hashing on the hasher's own threads (see `hash_pool`), never on the async
/// workers: no more hashes run at once than there are cores, which also bounds the memory
/// a burst of logins can claim.
#[derive(Clone)]
pub struct Hasher {
    argon2: Arc<Argon2<'static>>,
    /// Kept apart from `argon2` to verify hashes made with other parameters.
    pepper: Option<&'static [u8]>,
    pool: Arc<HashPool>,
}

impl Hasher {
    pub fn new(params: HasherParams, pepper: Option<&str>) -> Result<Self, HashError> {
        let params = Params::new(params.memory_kib, params.iterations, 1, Some(OUTPUT_BYTES)).map_err(argon2_error)?;
        // The pepper must outlive the Argon2 instance, which lives as long as the app.
        let pepper = pepper.map(|p| &*Box::leak(p.as_bytes().to_vec().into_boxed_slice()));
        let argon2 = argon2_with(pepper, Algorithm::Argon2id, Version::V0x13, params)?;
        Ok(Self { argon2: Arc::new(argon2), pepper, pool: Arc::new(HashPool::new("argon2")) })
    }

    pub async fn hash(&self, secret: String) -> Result<String, HashError> {
        let argon2 = self.argon2.clone();
        self.pool
            .run(move |memory| {
                let mut salt = [0u8; SALT_BYTES];
                UnwrapErr(SysRng).fill_bytes(&mut salt);
                let mut out = [0u8; OUTPUT_BYTES];
                memory
                    .with_blocks(argon2.params().block_count(), |blocks| {
                        argon2.hash_password_into_with_memory(secret.as_bytes(), &salt, &mut out, blocks)
                    })
                    .map_err(argon2_error)?;
                Ok(phc_string(&argon2, &salt, &out)?.to_string())
            })
            .await
            .ok_or(HashError::Join)?
    }

    /// True when `secret` matches `phc`, whatever argon2 parameters `phc` was made with.
    /// A malformed stored hash is an error, not a mismatch.
    pub async fn verify(&self, secret: String, phc: String) -> Result<bool, HashError> {
        let parsed = PasswordHash::new(&phc).map_err(argon2_error)?;
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Err(HashError::Argon2(format!("`{phc}` has no salt or no hash")));
        };
        let argon2 = match (Params::try_from(&parsed), Algorithm::try_from(parsed.algorithm.as_str())) {
            (Ok(params), Ok(algorithm)) => {
                let version = parsed.version.map_or(Ok(Version::default()), Version::try_from);
                argon2_with(self.pepper, algorithm, version.map_err(argon2_error)?, params)?
            }
            // Parameters or an algorithm this argon2 cannot run: nothing can match.
            _ => return Ok(false),
        };
        self.pool
            .run(move |memory| {
                let mut out = vec![0u8; expected.len()];
                let computed = memory.with_blocks(argon2.params().block_count(), |blocks| {
                    argon2.hash_password_into_with_memory(secret.as_bytes(), &salt, &mut out, blocks)
                });
                // `Output`'s equality is constant-time.
                computed.is_ok() && Output::new(&out).is_ok_and(|out| out == expected)
            })
            .await
            .ok_or(HashError::Join)
    }

    /// A PHC string in this hasher's parameters that no known secret matches (random salt
    /// and random "hash"): verifying against it costs what verifying a real hash costs, and
    /// making it costs nothing, where hashing a random secret would cost a whole hash and,
    /// at start-up, leave its 19 MiB buffer resident in an idle process.
    pub fn unmatchable(&self) -> Result<String, HashError> {
        let mut bytes = [0u8; SALT_BYTES + OUTPUT_BYTES];
        UnwrapErr(SysRng).fill_bytes(&mut bytes);
        let (salt, hash) = bytes.split_at(SALT_BYTES);
        Ok(phc_string(&self.argon2, salt, hash)?.to_string())
    }
}

fn argon2_with(
    pepper: Option<&'static [u8]>,
    algorithm: Algorithm,
    version: Version,
    params: Params,
) -> Result<Argon2<'static>, HashError> {
    match pepper {
        Some(p) => Argon2::new_with_secret(p, algorithm, version, params).map_err(argon2_error),
        None => Ok(Argon2::new(algorithm, version, params)),
    }
}

fn phc_string(argon2: &Argon2<'_>, salt: &[u8], hash: &[u8]) -> Result<PasswordHash, HashError> {
    Ok(PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params()).map_err(argon2_error)?,
        salt: Some(Salt::new(salt).map_err(argon2_error)?),
        hash: Some(Output::new(hash).map_err(argon2_error)?),
    })
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

    /// Hashes stored before the pool (made by the argon2 crate's own PHC hasher) still
    /// verify, hashes made here verify there, and other parameters are read off the hash.
    #[tokio::test]
    async fn hashes_are_standard_phc_strings_in_both_directions() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let ours = Hasher::new(HasherParams::CODES, Some("pepper")).unwrap();
        let theirs =
            argon2_with(ours.pepper, Algorithm::Argon2id, Version::V0x13, ours.argon2.params().clone()).unwrap();
        let stored = theirs.hash_password(b"424242").unwrap().to_string();
        assert!(ours.verify("424242".into(), stored.clone()).await.unwrap());
        assert!(!ours.verify("424243".into(), stored).await.unwrap());
        let made = ours.hash("424242".into()).await.unwrap();
        assert!(theirs.verify_password(b"424242", made.as_str()).is_ok());
        // A hash with more memory and passes than this hasher's (a secret checked by the
        // code hasher, say) is verified with its own parameters, bigger than the kept memory.
        let bigger = Params::new(9 * 1024, 2, 1, None).unwrap();
        let other = argon2_with(ours.pepper, Algorithm::Argon2id, Version::V0x13, bigger).unwrap();
        let stored = other.hash_password(b"secret").unwrap().to_string();
        assert!(ours.verify("secret".into(), stored.clone()).await.unwrap());
        assert!(!ours.verify("Secret".into(), stored).await.unwrap());
        assert!(ours.verify("x".into(), "not a phc string".into()).await.is_err());
    }

    #[tokio::test]
    async fn many_hashes_at_once_all_answer() {
        let hasher = Hasher::new(HasherParams::CODES, None).unwrap();
        let codes: Vec<String> = (0..12).map(|i| format!("{i:06}")).collect();
        let hashes = futures::future::try_join_all(codes.iter().map(|c| hasher.hash(c.clone()))).await.unwrap();
        for (code, phc) in codes.iter().zip(&hashes) {
            assert!(hasher.verify(code.clone(), phc.clone()).await.unwrap());
        }
        assert!(!hasher.verify(codes[0].clone(), hashes[1].clone()).await.unwrap());
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
