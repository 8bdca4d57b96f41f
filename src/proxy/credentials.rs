//! Who is calling: a person's Bearer token, or (conversation mode) a bot's Basic
//! credentials plus the conversation it speaks for.
//!
//! A validated token is cached until its `exp`, keyed by a hash of the token, the way
//! Envoy's `jwt_cache` does, so a signature is verified once per token rather than
//! once per request. Revocation is checked on every request against the in-memory
//! set of ended sessions: no database round trip on the hot path.
use std::sync::Arc;

use quick_cache::sync::Cache;
use sha2::{Digest, Sha256};

use super::error::ProxyError;
use crate::domain::Address;
use crate::domain::validate::TokenError;
use crate::domain::{AccessClaims, Auth, ClientAuth, ConversationState, FlowError};

/// What the request presented.
pub enum Presented {
    Bearer(Arc<str>),
    Conversation { client_id: String, secret: String, channel: String, id: String },
    Nothing,
}

/// A caller whose token is valid now.
#[derive(Clone)]
pub struct Caller {
    pub token: Arc<str>,
    pub claims: Arc<AccessClaims>,
}

pub struct Credentials {
    /// SHA-256 of the token → its claims. A digest, not the token, is the key: the
    /// cache holds no credentials, and a key costs 32 bytes.
    tokens: Cache<[u8; 32], Arc<AccessClaims>>,
    /// (client, channel, conversation id) → the token last fetched for it.
    conversations: Cache<(String, String, String), Caller>,
}

const TOKENS_CACHED: usize = 8_192;
const CONVERSATIONS_CACHED: usize = 4_096;

impl Default for Credentials {
    fn default() -> Self {
        Self { tokens: Cache::new(TOKENS_CACHED), conversations: Cache::new(CONVERSATIONS_CACHED) }
    }
}

impl Credentials {
    pub async fn caller(&self, presented: Presented, auth: &Auth, clients: &ClientAuth) -> Result<Caller, ProxyError> {
        match presented {
            Presented::Bearer(token) => self.validate(token, auth),
            // Boxed: this branch awaits the client's secret check and a token refresh
            // through the database, a state machine of many KiB. Inline, every proxied
            // request's future had that size, and moving it cost a Bearer request more
            // than all of its header handling (bench/proxy_instructions.sh).
            Presented::Conversation { client_id, secret, channel, id } => {
                Box::pin(async move {
                    let client = clients.authenticate(&client_id, &secret, auth.clock.as_ref()).await?;
                    let address =
                        Address::checked(&client.id, channel, id).map_err(|e| ProxyError::InvalidHeader(e.into()))?;
                    self.conversation_caller(address, auth).await
                })
                .await
            }
            Presented::Nothing => Err(ProxyError::MissingCredentials),
        }
    }

    fn validate(&self, token: Arc<str>, auth: &Auth) -> Result<Caller, ProxyError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let claims = match self.tokens.get(&key) {
            Some(claims) => claims,
            None => {
                let claims = Arc::new(auth.validate_proxy_token(&token)?);
                self.tokens.insert(key, claims.clone());
                claims
            }
        };
        still_valid(&claims, auth)?;
        Ok(Caller { token, claims })
    }

    /// The conversation's current token, fetched (as `POST …/token` would) when there is
    /// none cached or it is no longer valid.
    async fn conversation_caller(&self, address: Address, auth: &Auth) -> Result<Caller, ProxyError> {
        let key = (address.client_id.clone(), address.channel.clone(), address.external_id.clone());
        if let Some(caller) = self.conversations.get(&key)
            && still_valid(&caller.claims, auth).is_ok()
        {
            return Ok(caller);
        }
        let token = match auth.token(&address).await {
            Ok(ConversationState::Authenticated { tokens: Some(tokens), .. }) => tokens.access_token,
            Ok(_) | Err(FlowError::NotAuthenticated) => return Err(ProxyError::NotAuthenticated),
            Err(e) => return Err(ProxyError::Internal(e.to_string())),
        };
        let caller = self.validate(token.into(), auth)?;
        self.conversations.insert(key, caller.clone());
        Ok(caller)
    }
}

fn still_valid(claims: &AccessClaims, auth: &Auth) -> Result<(), TokenError> {
    if claims.exp <= auth.clock.now().div_euclid(1000) {
        return Err(TokenError::Expired);
    }
    if auth.store.ended_sessions().contains(&claims.sid) {
        return Err(TokenError::SessionEnded);
    }
    Ok(())
}
