//! Refresh tokens (rotated by one conditional update) and revoked client-token ids.
use sea_orm::ConnectionTrait;

use super::{Store, StoreResult, execute};
use crate::clock::Millis;

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// It was unused and belongs to a session of the presenting client: now it is used.
    Rotated { session_id: String },
    /// It had been used before: whoever holds it now, it has leaked.
    Reused { session_id: String },
    /// Unknown, or another client's.
    Refused,
}

impl Store {
    /// Marks the token used. Two concurrent uses cannot both win: the `used = false`
    /// condition and the change are one statement.
    pub async fn rotate_refresh_token(&self, token_hash: &str, client_id: &str) -> StoreResult<Rotation> {
        let stmt = self.sql(
            "UPDATE refresh_tokens SET used = $1
             WHERE token_hash = $2 AND used = $3
               AND EXISTS (SELECT 1 FROM sessions s WHERE s.id = refresh_tokens.session_id AND s.client_id = $4)
             RETURNING session_id",
            [true.into(), token_hash.into(), false.into(), client_id.into()],
        );
        if let Some(row) = self.db().query_one_raw(stmt).await? {
            return Ok(Rotation::Rotated { session_id: row.try_get("", "session_id")? });
        }
        Ok(match self.find_refresh_token(token_hash).await? {
            Some((session_id, true)) => Rotation::Reused { session_id },
            _ => Rotation::Refused,
        })
    }

    /// `(session id, used)` of a refresh token.
    pub async fn find_refresh_token(&self, token_hash: &str) -> StoreResult<Option<(String, bool)>> {
        let stmt = self.sql("SELECT session_id, used FROM refresh_tokens WHERE token_hash = $1", [token_hash.into()]);
        Ok(match self.reader().query_one_raw(stmt).await? {
            Some(row) => Some((row.try_get("", "session_id")?, row.try_get("", "used")?)),
            None => None,
        })
    }

    /// Remembers a revoked token id until `expires_at`; forgets ids that have expired.
    pub async fn revoke_jti(&self, jti: &str, expires_at: Millis, now: Millis) -> StoreResult<()> {
        execute(self.db(), self.sql("DELETE FROM revoked_tokens WHERE expires_at < $1", [now.into()])).await?;
        let stmt = self.sql(
            "INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING",
            [jti.into(), expires_at.into()],
        );
        execute(self.db(), stmt).await.map(drop)
    }

    pub async fn is_revoked(&self, jti: &str) -> StoreResult<bool> {
        let stmt = self.sql("SELECT jti FROM revoked_tokens WHERE jti = $1", [jti.into()]);
        Ok(self.reader().query_one_raw(stmt).await?.is_some())
    }
}
