use crate::crypto::HashError;
use crate::store::StoreError;
use crate::store::audit::AuditStopped;

/// Everything a conversation step can refuse. The HTTP layer maps each variant to its
/// status and `error` code in one place (`http::error`).
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("no flow with that name")]
    UnknownFlow,
    #[error("this client may not use that flow")]
    FlowNotAllowed,
    #[error("there is no code waiting to be verified in this conversation")]
    NoPendingChallenge,
    #[error("the conversation is already authenticated")]
    AlreadyAuthenticated,
    #[error("the conversation is not authenticated")]
    NotAuthenticated,
    #[error("no record matches that identifier")]
    UnknownIdentifier { attempts_remaining: u32 },
    #[error("incorrect code")]
    InvalidCode { attempts_remaining: u32 },
    #[error("the code has expired; ask for a new one")]
    ExpiredCode,
    #[error("too many incorrect codes; the verification was cancelled, identify again")]
    TooManyAttempts,
    #[error("the record has no phone or e-mail this flow can send a code to")]
    NoDeliveryMethod,
    #[error("too many failed attempts; try again later")]
    Locked { retry_after: u64 },
    #[error("too many failed attempts in a row; code login stays locked until an operator unlocks it")]
    LockedUntilUnlocked,
    #[error("no more codes can be sent for this login; identify again")]
    TooManySends,
    #[error("a new code was sent moments ago; wait before asking again")]
    ResendTooSoon { retry_after: u64 },
    #[error("the record's phone is in a country this service does not send codes to")]
    DestinationNotAllowed,
    #[error("too many codes were sent to this destination in the last hour; try again later")]
    DestinationLimit { retry_after: u64 },
    #[error("the service has sent all the codes it may send this hour; try again later")]
    SendBudgetExhausted { retry_after: u64 },
    #[error("the code could not be delivered")]
    DeliveryFailed,
    /// 500s. Each keeps its cause, which the HTTP layer logs and never sends.
    #[error("the database failed")]
    Store(#[from] StoreError),
    #[error("hashing a code failed")]
    Hash(#[from] HashError),
    #[error("signing a token failed")]
    Signing(#[from] jsonwebtoken::errors::Error),
    #[error("encoding claims failed")]
    Encoding(#[from] serde_json::Error),
    #[error("the audit log is not accepting events")]
    Audit(#[from] AuditStopped),
}
