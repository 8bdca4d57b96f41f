//! Why a token was refused, and why a verifier could not be set up.

/// A token the verifier refuses. The text is safe to show to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the token is not a JWT")]
    Malformed,
    #[error("the token is not an access token (typ at+jwt)")]
    WrongType,
    #[error("the token was not signed by a key the issuer publishes")]
    UnknownKey,
    #[error("the token's algorithm is not its key's")]
    AlgorithmMismatch,
    #[error("the token is invalid: {0}")]
    Invalid(&'static str),
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    /// The token names a key the verifier does not have and cannot fetch now.
    #[error("the issuer's keys cannot be fetched: {0}")]
    KeysUnavailable(String),
}

/// The verifier could not start: the issuer's metadata or keys are unreachable or wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    #[error("{url}: {reason}")]
    Fetch { url: String, reason: String },
    #[error("the metadata at {url} names issuer {found:?}, not {expected:?}")]
    IssuerMismatch { url: String, expected: String, found: String },
    #[error("invalid issuer URL {0:?}")]
    IssuerUrl(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}
