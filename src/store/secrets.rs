//! Secrets the server makes for itself and every replica shares, kept in the database
//! rather than in the configuration: nothing for an operator to set or leak.
use sea_orm::ConnectionTrait;

use super::{Store, StoreError, StoreResult};
use crate::clock::Millis;

impl Store {
    /// The secret called `name`; `candidate` becomes it if there is none yet. Racing
    /// replicas agree: the first insert wins and everyone reads the winner.
    pub async fn server_secret(&self, name: &str, candidate: &str, now: Millis) -> StoreResult<String> {
        let insert = self.sql(
            "INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
            [name.into(), candidate.into(), now.into()],
        );
        self.db().execute_raw(insert).await?;
        let select = self.sql("SELECT value FROM server_secrets WHERE name = $1", [name.into()]);
        let row = self.db().query_one_raw(select).await?;
        let row = row.ok_or_else(|| StoreError::Corrupt(format!("server secret `{name}` vanished")))?;
        Ok(row.try_get("", "value")?)
    }
}
