//! Hourly send counters behind the delivery limits (per destination, and a global
//! budget). Each reservation is one conditional UPSERT, so the limits hold with several
//! doorman processes on one database.
use sea_orm::{ConnectionTrait, TransactionTrait};

use super::{Store, StoreResult, execute};
use crate::clock::Millis;

const HOUR_MS: Millis = 3_600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendBudget {
    Granted,
    /// `buckets[index]` has spent this hour's budget; it renews at `until`.
    Exhausted {
        index: usize,
        until: Millis,
    },
}

fn window_of(now: Millis) -> Millis {
    now - now.rem_euclid(HOUR_MS)
}

impl Store {
    /// Counts one send in each `(bucket, max)` for the current hour, all or none, in
    /// one transaction (one commit): a bucket that already counts `max` refuses, and
    /// then nothing is counted.
    pub async fn reserve_sends(&self, buckets: &[(&str, u32)], now: Millis) -> StoreResult<SendBudget> {
        let window = window_of(now);
        let txn = self.db().begin().await?;
        for (index, (bucket, max)) in buckets.iter().enumerate() {
            // A row from an earlier hour starts a fresh count.
            let stmt = self.sql(
                "INSERT INTO send_counters (bucket, window_start, sends) VALUES ($1, $2, 1)
                 ON CONFLICT (bucket) DO UPDATE SET
                   sends = CASE WHEN send_counters.window_start = $2 THEN send_counters.sends + 1 ELSE 1 END,
                   window_start = $2
                 WHERE send_counters.window_start <> $2 OR send_counters.sends < $3
                 RETURNING sends",
                [(*bucket).into(), window.into(), (*max as i32).into()],
            );
            if txn.query_one_raw(stmt).await?.is_none() {
                txn.rollback().await?;
                return Ok(SendBudget::Exhausted { index, until: window + HOUR_MS });
            }
        }
        txn.commit().await?;
        Ok(SendBudget::Granted)
    }

    /// Whether `bucket` has spent this hour's `max` (a check that counts nothing): the
    /// hour's end if so.
    pub async fn send_budget_spent(&self, bucket: &str, max: u32, now: Millis) -> StoreResult<Option<Millis>> {
        let window = window_of(now);
        let stmt = self.sql(
            "SELECT sends FROM send_counters WHERE bucket = $1 AND window_start = $2 AND sends >= $3",
            [bucket.into(), window.into(), (max as i32).into()],
        );
        Ok(self.reader().query_one_raw(stmt).await?.map(|_| window + HOUR_MS))
    }

    /// Gives back a send that did not happen (the provider failed).
    pub async fn release_sends(&self, buckets: &[&str], now: Millis) -> StoreResult<()> {
        let txn = self.db().begin().await?;
        for bucket in buckets {
            let stmt = self.sql(
                "UPDATE send_counters SET sends = sends - 1 WHERE bucket = $1 AND window_start = $2 AND sends > 0",
                [(*bucket).into(), window_of(now).into()],
            );
            execute(&txn, stmt).await?;
        }
        Ok(txn.commit().await?)
    }
}
