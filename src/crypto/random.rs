use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use rand::{Rng, RngExt};
use sha2::{Digest, Sha256};

/// A code of `length` decimal digits, uniform over 10^length, from the OS CSPRNG.
pub fn numeric_code(length: u32) -> String {
    let bound = 10u64.pow(length);
    let value = UnwrapErr(SysRng).random_range(0..bound);
    format!("{value:0width$}", width = length as usize)
}

/// `bytes` random bytes from the OS CSPRNG, base64url without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    UnwrapErr(SysRng).fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_the_requested_length_and_only_digits() {
        for length in [4, 6, 10] {
            let code = numeric_code(length);
            assert_eq!(code.len(), length as usize);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn codes_cover_every_leading_digit() {
        // Zero-padding must keep codes that start with 0: a biased generator would not.
        let mut seen = [false; 10];
        for _ in 0..2000 {
            seen[(numeric_code(6).as_bytes()[0] - b'0') as usize] = true;
        }
        assert!(seen.iter().all(|s| *s), "{seen:?}");
    }

    #[test]
    fn tokens_differ() {
        assert_ne!(random_token(16), random_token(16));
        assert_eq!(random_token(32).len(), 43);
    }
}
