//! Access-token validation for introspection and the proxy: the algorithm is pinned to
//! the key (kid → key → its algorithm), and `iss`, `aud`, `typ` and `exp` are checked
//! against doorman's own configuration and clock. Whether the session still lives is a
//! separate, async check, so a caller can choose when to pay the database round trip.
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Validation, decode, decode_header};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{AccessClaims, Auth};
use crate::store::StoreError;
use crate::store::sessions::Lifetime;

/// The claims of a `client_credentials` token: the client is the subject.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClientClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    pub scope: String,
}

/// A token doorman signed, of either kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Verified {
    /// A person's token, bound to a session.
    User(AccessClaims),
    /// A `client_credentials` token.
    Client(ClientClaims),
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a JWT doorman can read")]
    Malformed,
    #[error("the token was not signed by a key doorman publishes")]
    UnknownKey,
    #[error("the token is not an access token (typ at+jwt)")]
    WrongType,
    /// The text says why in words a caller can act on, never a library's error value.
    #[error("the token is invalid: {0}")]
    Rejected(String),
    #[error("the token has expired")]
    Expired,
    #[error("the token belongs to a client, not to a person")]
    NotAUserToken,
    #[error("the token's session has ended")]
    SessionEnded,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Auth {
    /// A person's access token: signature, algorithm, `iss`, `aud`, `typ` and `exp`.
    /// Does not look at the session: see [`Auth::check_session`].
    pub fn validate_access_token(&self, token: &str) -> Result<AccessClaims, TokenError> {
        match self.verify_token(token)? {
            Verified::User(claims) => Ok(claims),
            Verified::Client(_) => Err(TokenError::NotAUserToken),
        }
    }

    /// A token the proxy accepts: a person's, minted for doorman itself. A token
    /// exchanged for a service is refused, so one leaked by a service is no key to others.
    pub fn validate_proxy_token(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let claims = self.validate_access_token(token)?;
        if claims.aud != self.config.tokens.audience {
            return Err(TokenError::Rejected("it was minted for another audience".into()));
        }
        Ok(claims)
    }

    /// Whether the token's session is still alive now.
    pub async fn check_session(&self, claims: &AccessClaims) -> Result<(), TokenError> {
        match self.store.find_session(&claims.sid).await? {
            Some(session) if session.is_alive(self.now()) => Ok(()),
            _ => Err(TokenError::SessionEnded),
        }
    }

    /// Any token doorman signed: a person's or a client's.
    pub fn verify_token(&self, token: &str) -> Result<Verified, TokenError> {
        if token.len() > 16 * 1024 {
            return Err(TokenError::Malformed);
        }
        // An unknown `alg` (including "none") fails here: the header does not parse.
        let header = decode_header(token).map_err(|_| TokenError::Malformed)?;
        // RFC 7515 §4.1.11: extensions marked critical must be understood, and doorman
        // understands none.
        if header.crit.is_some() {
            return Err(TokenError::Rejected("it has critical header parameters doorman does not understand".into()));
        }
        let typ_ok = header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt"));
        if !typ_ok {
            return Err(TokenError::WrongType);
        }
        let key = header.kid.as_deref().and_then(|kid| self.keys.get(kid)).ok_or(TokenError::UnknownKey)?;
        // The key decides the algorithm; whatever the header claims must match it.
        let mut validation = Validation::new(key.algorithm);
        validation.set_issuer(&[self.config.issuer()]);
        validation.set_audience(&self.audiences());
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Expiry is checked against doorman's clock, with no leeway.
        validation.validate_exp = false;
        validation.leeway = 0;
        let claims = decode::<Value>(token, &key.decoding, &validation).map_err(|e| rejected(e.kind()))?.claims;
        let exp = claims.get("exp").and_then(Value::as_i64).ok_or(TokenError::Malformed)?;
        if exp <= self.now().div_euclid(1000) {
            return Err(TokenError::Expired);
        }
        let verified = if claims.get("sid").is_some() {
            serde_json::from_value(claims).map(Verified::User)
        } else {
            serde_json::from_value(claims).map(Verified::Client)
        };
        verified.map_err(|_| TokenError::Malformed)
    }

    /// Audiences doorman mints tokens for: its own and each proxied service's.
    fn audiences(&self) -> Vec<String> {
        let services = self.config.services.iter().map(|s| s.audience().to_string());
        std::iter::once(self.config.tokens.audience.clone()).chain(services).collect()
    }
}

/// Why `jsonwebtoken` refused a token, in words.
fn rejected(kind: &ErrorKind) -> TokenError {
    let reason = match kind {
        ErrorKind::InvalidSignature => "its signature does not verify".to_string(),
        ErrorKind::InvalidIssuer => "it was issued by someone else".to_string(),
        ErrorKind::InvalidAudience => "it was minted for another audience".to_string(),
        ErrorKind::InvalidAlgorithm => "its algorithm is not its key's".to_string(),
        ErrorKind::ImmatureSignature => "it is not valid yet".to_string(),
        // One of the claims required above: a fixed name, not the caller's text.
        ErrorKind::MissingRequiredClaim(claim) => format!("it has no {claim} claim"),
        // Base64, JSON, UTF-8 and the rest: the token is not readable at all.
        _ => return TokenError::Malformed,
    };
    TokenError::Rejected(reason)
}
