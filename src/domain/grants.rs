//! The OAuth grants behind `POST /oauth/token`: `client_credentials`, the rotating
//! `refresh_token`, and (in the HTTP layer, straight onto [`Auth::verify`]) the OTP grant.
use serde_json::{Value, json};

use super::validate::ClientClaims;
use super::{Auth, Client, ConversationState, FlowError};
use crate::clock::millis;
use crate::crypto::{random_token, sha256_hex};
use crate::store::StoreError;
use crate::store::audit::AuditEvent;
use crate::store::tokens::Rotation;

#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// The grant (refresh token, code) is invalid, expired, used or another client's.
    #[error("{0}")]
    InvalidGrant(String),
    #[error("{0}")]
    InvalidScope(String),
    /// The client may not use this grant type.
    #[error("{0}")]
    UnauthorizedClient(String),
    /// The conversation flow refused (the OTP grant follows verify's rules).
    #[error(transparent)]
    Flow(#[from] FlowError),
}

impl From<StoreError> for GrantError {
    fn from(e: StoreError) -> Self {
        GrantError::Flow(e.into())
    }
}

/// A `client_credentials` token.
pub struct ClientToken {
    pub access_token: String,
    pub expires_in: u64,
    pub scope: String,
}

impl Auth {
    /// A token for the client itself, with the requested scopes (all of its scopes when
    /// none are asked for). A client without scopes may not use this grant.
    pub async fn client_token(&self, client: &Client, requested: Option<&str>) -> Result<ClientToken, GrantError> {
        if client.scopes.is_empty() {
            return Err(GrantError::UnauthorizedClient("this client has no scopes for client_credentials".into()));
        }
        let scopes: Vec<&str> = match requested {
            Some(s) => s.split(' ').filter(|s| !s.is_empty()).collect(),
            None => client.scopes.iter().map(String::as_str).collect(),
        };
        if let Some(bad) = scopes.iter().find(|s| !client.scopes.iter().any(|allowed| allowed == *s)) {
            return Err(GrantError::InvalidScope(format!("scope `{bad}` is not allowed for this client")));
        }
        let now = self.now();
        let exp = (now + millis(self.config.tokens.access_ttl)).div_euclid(1000);
        let claims = ClientClaims {
            iss: self.config.server.public_url.clone(),
            sub: client.id.clone(),
            aud: self.config.tokens.audience.clone(),
            exp,
            iat: now.div_euclid(1000),
            jti: random_token(16),
            client_id: client.id.clone(),
            scope: scopes.join(" "),
        };
        let access_token = self.sign(&claims).map_err(FlowError::from)?;
        self.audit_client(
            "token.issued",
            client,
            json!({"jti": claims.jti, "grant": "client_credentials", "exp": exp}),
        )
        .await?;
        Ok(ClientToken { access_token, expires_in: (exp - now.div_euclid(1000)).max(0) as u64, scope: claims.scope })
    }

    /// Trades a refresh token for new tokens; the presented one is used up. Presenting a
    /// used one again means it leaked: the whole session is revoked.
    pub async fn refresh(&self, client: &Client, refresh_token: &str) -> Result<ConversationState, GrantError> {
        let ended = || GrantError::InvalidGrant("the refresh token's session has ended".into());
        let hash = sha256_hex(refresh_token.as_bytes());
        let session_id = match self.store.rotate_refresh_token(&hash, &client.id).await? {
            Rotation::Rotated { session_id } => session_id,
            Rotation::Reused { session_id } => {
                self.revoke_session(&session_id, "refresh_token_reused").await?;
                return Err(GrantError::InvalidGrant(
                    "the refresh token was already used; its session has been revoked".into(),
                ));
            }
            Rotation::Refused => return Err(GrantError::InvalidGrant("unknown refresh token".into())),
        };
        let session = self.store.find_session(&session_id).await?.filter(|s| s.ended_at.is_none()).ok_or_else(ended)?;
        let address = self.store.conversation_address(&session.conversation_id).await?.ok_or_else(ended)?;
        let now = self.now();
        let live = self.alive_or_ended(session, &address, now).await?.ok_or_else(ended)?;
        match self.refresh_session(live, &address, now, true).await {
            Err(FlowError::NotAuthenticated) => Err(ended()),
            other => Ok(other?),
        }
    }

    /// Ends a session known by its id, with its audit event; false if it was not open.
    pub async fn revoke_session(&self, session_id: &str, reason: &str) -> Result<bool, FlowError> {
        Ok(super::ending::end_session_by_id(&self.store, session_id, reason, self.now()).await?)
    }

    async fn audit_client(&self, kind: &'static str, client: &Client, detail: Value) -> Result<(), StoreError> {
        let event = AuditEvent { kind, client_id: Some(client.id.clone()), subject: None, conversation: None, detail };
        self.store.append_audit(event, self.now()).await
    }
}
