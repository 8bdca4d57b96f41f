//! Randomness and one-way hashing: everything that must be unguessable or unreadable.
mod hash_pool;
mod hasher;
mod random;

pub use hasher::{HashError, Hasher, HasherParams};
pub use random::{numeric_code, random_token, sha256_hex};
