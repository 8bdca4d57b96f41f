//! Failure counters with a lockout, keyed by (scope, subject): OTP failures per record,
//! identify failures per conversation. A try is counted *before* it is checked, so any
//! number of concurrent tries can never get past the limit.
use sea_orm::ConnectionTrait;

use super::{Store, StoreResult};
use crate::clock::Millis;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// The try may go ahead; `failures` counts it, `locked` says it was the last one.
    Granted {
        failures: u32,
        locked: bool,
    },
    Locked {
        until: Millis,
    },
}

pub struct Limit {
    pub max_failures: u32,
    pub lockout_ms: Millis,
}

impl Store {
    pub async fn reserve_try(
        &self,
        scope: &str,
        subject: &str,
        limit: &Limit,
        now: Millis,
    ) -> StoreResult<Reservation> {
        let until = now + limit.lockout_ms;
        // A lock that has run out starts a fresh count.
        let stmt = self.sql(
            "INSERT INTO guards (scope, subject, failures, locked_until)
             VALUES ($1, $2, 1, CASE WHEN 1 >= $3 THEN $4 ELSE NULL END)
             ON CONFLICT (scope, subject) DO UPDATE SET
               failures = CASE WHEN guards.locked_until IS NOT NULL AND guards.locked_until <= $5 THEN 1
                               ELSE guards.failures + 1 END,
               locked_until = CASE WHEN (CASE WHEN guards.locked_until IS NOT NULL AND guards.locked_until <= $5 THEN 1
                                              ELSE guards.failures + 1 END) >= $3 THEN $4 ELSE NULL END
             WHERE guards.locked_until IS NULL OR guards.locked_until <= $5
             RETURNING failures, locked_until",
            [scope.into(), subject.into(), (limit.max_failures as i32).into(), until.into(), now.into()],
        );
        match self.db().query_one_raw(stmt).await? {
            Some(row) => {
                let failures: i32 = row.try_get("", "failures")?;
                let locked: Option<i64> = row.try_get("", "locked_until")?;
                Ok(Reservation::Granted { failures: failures as u32, locked: locked.is_some() })
            }
            None => Ok(Reservation::Locked { until: self.locked_until(scope, subject).await?.unwrap_or(until) }),
        }
    }

    /// A success: the count starts again from zero and any lock is lifted.
    pub async fn clear_tries(&self, scope: &str, subject: &str) -> StoreResult<()> {
        let stmt = self.sql("DELETE FROM guards WHERE scope = $1 AND subject = $2", [scope.into(), subject.into()]);
        self.db().execute_raw(stmt).await?;
        Ok(())
    }

    pub async fn locked_until(&self, scope: &str, subject: &str) -> StoreResult<Option<Millis>> {
        let stmt = self
            .sql("SELECT locked_until FROM guards WHERE scope = $1 AND subject = $2", [scope.into(), subject.into()]);
        Ok(match self.reader().query_one_raw(stmt).await? {
            Some(row) => row.try_get::<Option<i64>>("", "locked_until")?,
            None => None,
        })
    }

    /// The lock on `subject` if one is in force at `now`.
    pub async fn active_lock(&self, scope: &str, subject: &str, now: Millis) -> StoreResult<Option<Millis>> {
        Ok(self.locked_until(scope, subject).await?.filter(|until| *until > now))
    }
}
