//! RFC 7662 introspection and RFC 7009 revocation. Anything not alive is simply
//! inactive: the caller learns nothing about why.
use serde_json::{Value, json};

use super::validate::Verified;
use super::{Auth, Client, FlowError};
use crate::crypto::sha256_hex;
use crate::store::sessions::{Lifetime, Session};

impl Auth {
    /// The claims of a live token, or `None`. Access tokens may be introspected by any
    /// client (resource servers are clients); refresh tokens only by their own client.
    pub async fn introspect(&self, client: &Client, token: &str) -> Result<Option<Value>, FlowError> {
        let mut claims = match self.verify_token(token) {
            Ok(Verified::User(claims)) => match self.check_session(&claims).await {
                Ok(()) => serde_json::to_value(&claims)?,
                Err(_) => return Ok(None),
            },
            Ok(Verified::Client(claims)) => {
                let client_active = self.store.find_client(&claims.client_id).await?.is_some_and(|c| c.active);
                if !client_active || self.store.is_revoked(&claims.jti).await? {
                    return Ok(None);
                }
                serde_json::to_value(&claims)?
            }
            Err(_) => return self.introspect_refresh_token(client, token).await,
        };
        if let Value::Object(map) = &mut claims {
            map.insert("active".into(), json!(true));
            map.insert("token_type".into(), json!("Bearer"));
        }
        Ok(Some(claims))
    }

    async fn introspect_refresh_token(&self, client: &Client, token: &str) -> Result<Option<Value>, FlowError> {
        let Some(session) = self.refresh_token_session(client, token).await? else {
            return Ok(None);
        };
        let Some(record) = self.store.find_record(session.record_id).await? else {
            return Ok(None);
        };
        Ok(Some(json!({
            "active": true,
            "token_type": "refresh_token",
            "client_id": session.client_id,
            "sub": record.subject(),
            "sid": session.id,
            "iss": self.config.server.public_url,
            "exp": session.ends_at().div_euclid(1000),
        })))
    }

    /// The live session of an unused refresh token of `client`.
    async fn refresh_token_session(&self, client: &Client, token: &str) -> Result<Option<Session>, FlowError> {
        let Some((session_id, false)) = self.store.find_refresh_token(&sha256_hex(token.as_bytes())).await? else {
            return Ok(None);
        };
        let session = self.store.find_session(&session_id).await?;
        Ok(session.filter(|s| s.client_id == client.id && s.is_alive(self.now())))
    }

    /// Revokes `token` if it is `client`'s: a person's access or refresh token ends its
    /// session, a client token is remembered as revoked. Anything else is ignored, as
    /// RFC 7009 asks, so the answer tells nothing about foreign tokens.
    pub async fn revoke(&self, client: &Client, token: &str) -> Result<(), FlowError> {
        match self.verify_token(token) {
            Ok(Verified::User(claims)) if claims.client_id == client.id => {
                self.revoke_session(&claims.sid, "revoked").await?;
            }
            Ok(Verified::Client(claims)) if claims.client_id == client.id => {
                self.store.revoke_jti(&claims.jti, claims.exp * 1000, self.now()).await?;
            }
            Ok(_) => {}
            Err(_) => {
                if let Some(session) = self.refresh_token_session(client, token).await? {
                    self.revoke_session(&session.id, "revoked").await?;
                }
            }
        }
        Ok(())
    }
}
