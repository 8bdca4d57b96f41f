//! Exchanged tokens: the person's claims re-minted for one service's audience, living
//! at most [`EXCHANGED_TTL`], cached per (session, service) until shortly before they
//! expire, so signing happens about once a minute per active session. The
//! `Authorization: Bearer` value is made with the token and cached with it.
use std::sync::Arc;
use std::time::Duration;

use quick_cache::Equivalent;
use quick_cache::sync::Cache;

use axum::http::HeaderValue;

use super::credentials::Caller;
use super::error::ProxyError;
use crate::config::TokenMode;
use crate::domain::Auth;

pub const EXCHANGED_TTL: Duration = Duration::from_secs(60);

/// A cached token is not handed out in its last seconds: the upstream must still find
/// it valid when it reads it.
const MARGIN_SECS: i64 = 10;

pub struct Exchange {
    minted: Cache<(String, String), (Token, i64)>,
}

/// The token the upstream receives, and for an exchanged one its `Bearer` header value.
#[derive(Clone)]
pub struct Token {
    pub text: Arc<str>,
    pub bearer: Option<HeaderValue>,
}

impl Default for Exchange {
    fn default() -> Self {
        Self { minted: Cache::new(16_384) }
    }
}

impl Exchange {
    /// The token the upstream receives for `caller` under `mode`.
    pub fn token_for(
        &self,
        caller: &Caller,
        mode: TokenMode,
        audience: &str,
        auth: &Auth,
    ) -> Result<Token, ProxyError> {
        if mode == TokenMode::Forward {
            return Ok(Token { text: caller.token.clone(), bearer: None });
        }
        let now = auth.clock.now().div_euclid(1000);
        if let Some((token, exp)) = self.minted.get(&KeyRef(&caller.claims.sid, audience))
            && exp - MARGIN_SECS > now
            && exp <= caller.claims.exp
        {
            return Ok(token);
        }
        let (token, exp) = auth
            .exchange_token(&caller.claims, audience, EXCHANGED_TTL)
            .map_err(|e| ProxyError::Internal(format!("signing an exchanged token: {e}")))?;
        let bearer = super::headers::owned_value(format!("Bearer {token}"));
        let token = Token { text: token.into(), bearer };
        self.minted.insert((caller.claims.sid.clone(), audience.to_string()), (token.clone(), exp));
        Ok(token)
    }
}

/// Looks a (session, audience) key up without allocating it. Hashes exactly as the
/// owned tuple does.
struct KeyRef<'a>(&'a str, &'a str);

impl std::hash::Hash for KeyRef<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
        self.1.hash(state);
    }
}

impl Equivalent<(String, String)> for KeyRef<'_> {
    fn equivalent(&self, key: &(String, String)) -> bool {
        self.0 == key.0 && self.1 == key.1
    }
}
