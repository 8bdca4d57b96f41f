//! Hourly send counters behind the delivery limits (per destination, and a global
//! budget). Each reservation is one conditional UPSERT, so the limits hold with several
//! doorman processes on one database.
use sea_orm::ConnectionTrait;

use super::{Store, StoreResult, execute};
use crate::clock::Millis;

const HOUR_MS: Millis = 3_600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendBudget {
    Granted,
    /// The hour's budget is spent; it renews at `until`.
    Exhausted {
        until: Millis,
    },
}

fn window_of(now: Millis) -> Millis {
    now - now.rem_euclid(HOUR_MS)
}

impl Store {
    /// Counts one send in `bucket`'s current hour if fewer than `max` were counted.
    pub async fn reserve_send(&self, bucket: &str, max: u32, now: Millis) -> StoreResult<SendBudget> {
        let window = window_of(now);
        // A row from an earlier hour starts a fresh count.
        let stmt = self.sql(
            "INSERT INTO send_counters (bucket, window_start, sends) VALUES ($1, $2, 1)
             ON CONFLICT (bucket) DO UPDATE SET
               sends = CASE WHEN send_counters.window_start = $2 THEN send_counters.sends + 1 ELSE 1 END,
               window_start = $2
             WHERE send_counters.window_start <> $2 OR send_counters.sends < $3
             RETURNING sends",
            [bucket.into(), window.into(), (max as i32).into()],
        );
        Ok(match self.db().query_one_raw(stmt).await? {
            Some(_) => SendBudget::Granted,
            None => SendBudget::Exhausted { until: window + HOUR_MS },
        })
    }

    /// Gives back a send that did not happen (refused by another limit, or failed).
    pub async fn release_send(&self, bucket: &str, now: Millis) -> StoreResult<()> {
        let stmt = self.sql(
            "UPDATE send_counters SET sends = sends - 1 WHERE bucket = $1 AND window_start = $2 AND sends > 0",
            [bucket.into(), window_of(now).into()],
        );
        execute(self.db(), stmt).await.map(drop)
    }
}
