//! Failure counters with a lockout, keyed by (scope, subject): OTP failures per record
//! (or per decoy), identify failures per conversation. A try is counted *before* it is
//! checked, so any number of concurrent tries can never get past the limit.
//!
//! Two counts live on a row: `failures` since the last lockout ran out (the short
//! window of `max_failures`), and `consecutive` since the last success or unlock, which
//! a lockout running out does not reset (the lifetime cap). Each lockout is twice the
//! last one, up to a cap; reaching the lifetime cap locks until an operator unlocks.
use sea_orm::ConnectionTrait;

use super::{Store, StoreResult};
use crate::clock::Millis;

/// `locked_until` of a lock that only an operator (or a success elsewhere) lifts.
pub const UNTIL_UNLOCKED: Millis = Millis::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// The try may go ahead; `failures` and `consecutive` count it, and `locked_until`
    /// is set when it was the last one allowed.
    Granted {
        failures: u32,
        consecutive: u32,
        locked_until: Option<Millis>,
    },
    Locked {
        until: Millis,
    },
}

pub struct Limit {
    pub max_failures: u32,
    /// The first lockout; each following one doubles, up to `max_lockout_ms`.
    pub lockout_ms: Millis,
    pub max_lockout_ms: Millis,
    /// Failures in a row, across lockouts, that lock until an unlock.
    pub lifetime_failures: u32,
}

impl Limit {
    /// A limit whose lockouts do not grow and that has no lifetime cap.
    pub fn fixed(max_failures: u32, lockout_ms: Millis) -> Self {
        Self { max_failures, lockout_ms, max_lockout_ms: lockout_ms, lifetime_failures: i32::MAX as u32 }
    }
}

/// What one more failure makes of a row, as SQL over the old row (`guards.*`) and the
/// parameters `$3` max_failures, `$4` first lockout, `$5` now, `$6` lifetime cap,
/// `$7` UNTIL_UNLOCKED, `$8` longest lockout. Every SET expression sees the old row.
struct NextRow;

impl NextRow {
    /// A lock that has run out starts a fresh window.
    const FAILURES: &str =
        "(CASE WHEN guards.locked_until IS NOT NULL AND guards.locked_until <= $5 THEN 1 ELSE guards.failures + 1 END)";
    const CONSECUTIVE: &str = "(guards.consecutive + 1)";
    const LOCKOUT: &str = "(CASE WHEN guards.lockout_ms IS NULL THEN $4
                                 WHEN guards.lockout_ms * 2 > $8 THEN $8 ELSE guards.lockout_ms * 2 END)";

    fn upsert() -> String {
        let (failures, consecutive, lockout) = (Self::FAILURES, Self::CONSECUTIVE, Self::LOCKOUT);
        format!(
            "INSERT INTO guards (scope, subject, failures, consecutive, lockout_ms, locked_until)
             VALUES ($1, $2, 1, 1, CASE WHEN 1 >= $3 THEN $4 ELSE NULL END,
                     CASE WHEN 1 >= $6 THEN $7 WHEN 1 >= $3 THEN $5 + $4 ELSE NULL END)
             ON CONFLICT (scope, subject) DO UPDATE SET
               failures = {failures},
               consecutive = {consecutive},
               lockout_ms = CASE WHEN {failures} >= $3 THEN {lockout} ELSE guards.lockout_ms END,
               locked_until = CASE WHEN {consecutive} >= $6 THEN $7
                                   WHEN {failures} >= $3 THEN $5 + {lockout} ELSE NULL END
             WHERE guards.locked_until IS NULL OR guards.locked_until <= $5
             RETURNING failures, consecutive, locked_until"
        )
    }
}

impl Store {
    pub async fn reserve_try(
        &self,
        scope: &str,
        subject: &str,
        limit: &Limit,
        now: Millis,
    ) -> StoreResult<Reservation> {
        let stmt = self.sql(
            &NextRow::upsert(),
            [
                scope.into(),
                subject.into(),
                (limit.max_failures as i32).into(),
                limit.lockout_ms.into(),
                now.into(),
                (limit.lifetime_failures.min(i32::MAX as u32) as i32).into(),
                UNTIL_UNLOCKED.into(),
                limit.max_lockout_ms.max(limit.lockout_ms).into(),
            ],
        );
        match self.db().query_one_raw(stmt).await? {
            Some(row) => Ok(Reservation::Granted {
                failures: row.try_get::<i32>("", "failures")? as u32,
                consecutive: row.try_get::<i32>("", "consecutive")? as u32,
                locked_until: row.try_get("", "locked_until")?,
            }),
            None => Ok(Reservation::Locked {
                until: self.locked_until(scope, subject).await?.unwrap_or(now + limit.lockout_ms),
            }),
        }
    }

    /// A success: the count starts again from zero and any lock is lifted.
    pub async fn clear_tries(&self, scope: &str, subject: &str) -> StoreResult<()> {
        self.clear_tries_in(self.db(), scope, subject).await
    }

    /// [`Store::clear_tries`] inside `db` (a transaction).
    pub(super) async fn clear_tries_in(
        &self,
        db: &impl ConnectionTrait,
        scope: &str,
        subject: &str,
    ) -> StoreResult<()> {
        db.execute_raw(self.delete_guard(scope, subject)).await?;
        Ok(())
    }

    /// Lifts the lock and the counts of `subject` inside `db` (an operator's unlock);
    /// returns what was there: the failures in a row and the lock, if any.
    pub async fn unlock_in(
        &self,
        db: &impl ConnectionTrait,
        scope: &str,
        subject: &str,
    ) -> StoreResult<Option<(u32, Option<Millis>)>> {
        let sql = self.delete_guard(scope, subject).sql + " RETURNING consecutive, locked_until";
        let stmt = self.sql(&sql, [scope.into(), subject.into()]);
        Ok(match db.query_one_raw(stmt).await? {
            Some(row) => Some((row.try_get::<i32>("", "consecutive")? as u32, row.try_get("", "locked_until")?)),
            None => None,
        })
    }

    fn delete_guard(&self, scope: &str, subject: &str) -> sea_orm::Statement {
        self.sql("DELETE FROM guards WHERE scope = $1 AND subject = $2", [scope.into(), subject.into()])
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
