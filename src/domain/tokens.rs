//! RFC 9068 access tokens for a session.
use std::collections::BTreeMap;

use jsonwebtoken::Header;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Auth, FlowResult, TokenSet};
use crate::clock::{Millis, millis};
use crate::crypto::{random_token, sha256_hex};
use crate::domain::Address;
use crate::store::audit::Touch;
use crate::store::records::Record;
use crate::store::sessions::Session;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    pub sid: String,
    pub roles: Vec<String>,
    pub amr: Vec<String>,
    pub acr: String,
    pub auth_time: i64,
    pub channel: String,
    pub flow: String,
    /// The flow's `claims`: record fields copied into the token.
    #[serde(flatten)]
    pub fields: BTreeMap<String, String>,
}

impl AccessClaims {
    /// A claim by name, as text: for binding path parameters and filling templates.
    pub fn claim(&self, name: &str) -> Option<&str> {
        Some(match name {
            "sub" => &self.sub,
            "client_id" => &self.client_id,
            "sid" => &self.sid,
            "channel" => &self.channel,
            "flow" => &self.flow,
            "acr" => &self.acr,
            "iss" => &self.iss,
            _ => return self.fields.get(name).map(String::as_str),
        })
    }
}

/// What a token refresh or a login mints, and where its activity is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Minting {
    /// A login or the OAuth refresh grant: an access token and a new refresh token.
    WithRefreshToken,
    /// The conversation API's refresh, whose activity is already written: a bot that
    /// fetches tokens needs no new refresh token each time.
    AccessOnly,
    /// The same from memory: the activity is written with the `token.issued` event.
    Touching,
}

impl Auth {
    /// A token for a proxied service: the person's claims with `aud` set to the
    /// service's audience, expiring after `ttl` and never after the person's token.
    /// Returns the token and its `exp`.
    pub fn exchange_token(
        &self,
        person: &AccessClaims,
        audience: &str,
        ttl: std::time::Duration,
    ) -> Result<(String, i64), jsonwebtoken::errors::Error> {
        let now = self.clock.now().div_euclid(1000);
        let claims = AccessClaims {
            aud: audience.to_string(),
            iat: now,
            exp: (now + ttl.as_secs() as i64).min(person.exp),
            jti: random_token(16),
            ..person.clone()
        };
        Ok((self.sign(&claims)?, claims.exp))
    }

    /// Mints an access token for a live session at `now`, and (see [`Minting`]) a
    /// refresh token when they are enabled. `exp` never passes the session's end:
    /// neither its idle deadline nor its absolute lifetime.
    pub(super) async fn issue_tokens(
        &self,
        session: &Session,
        record: &Record,
        address: &Address,
        now: Millis,
        minting: Minting,
    ) -> FlowResult<TokenSet> {
        let idle_deadline = now + session.idle_timeout_ms;
        let exp_ms = (now + millis(self.config.tokens.access_ttl)).min(idle_deadline).min(session.expires_at);
        let claim_fields = self
            .config
            .flow(&session.flow)
            .map(|f| f.claims.iter().filter_map(|c| record.field(c).map(|v| (c.clone(), v.to_string()))).collect())
            .unwrap_or_default();
        let claims = AccessClaims {
            iss: self.config.issuer().to_string(),
            sub: record.subject(),
            aud: self.config.tokens.audience.clone(),
            exp: exp_ms.div_euclid(1000),
            iat: now.div_euclid(1000),
            jti: random_token(16),
            client_id: session.client_id.clone(),
            sid: session.id.clone(),
            roles: record.roles.clone(),
            amr: session.amr.split_whitespace().map(String::from).collect(),
            acr: session.acr.clone(),
            auth_time: session.auth_time.div_euclid(1000),
            channel: session.channel.clone(),
            flow: session.flow.clone(),
            fields: claim_fields,
        };
        let access_token = self.sign(&claims)?;
        let refresh_token = if minting == Minting::WithRefreshToken && self.config.tokens.refresh_tokens {
            let token = random_token(32);
            self.store.insert_refresh_token(&session.id, sha256_hex(token.as_bytes()), now).await?;
            Some(token)
        } else {
            None
        };
        let (subject, detail) =
            (Some(record.subject()), json!({"jti": claims.jti, "sid": session.id, "exp": claims.exp}));
        match minting {
            Minting::Touching => {
                let event = self.event("token.issued", address, subject, detail);
                let touch = Touch { session_id: session.id.clone(), at: now };
                self.audit_log.record_touching(event, self.now(), touch).await?
            }
            // Through `audit`, so that a login's token.issued joins its step's one commit.
            _ => self.audit("token.issued", address, subject, detail).await?,
        }
        Ok(TokenSet {
            access_token,
            token_type: "Bearer",
            expires_in: (claims.exp - now.div_euclid(1000)).max(0) as u64,
            refresh_token,
        })
    }

    /// An RFC 9068 JWT of `claims`, signed by the current signing key.
    pub(super) fn sign(&self, claims: &impl Serialize) -> Result<String, jsonwebtoken::errors::Error> {
        let key = self.keys.signer();
        let mut header = Header::new(key.algorithm);
        header.typ = Some("at+jwt".into());
        header.kid = Some(key.kid.clone());
        key.sign_jwt(&header, claims)
    }
}
