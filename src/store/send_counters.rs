//! Hourly send counters behind the delivery limits (per destination, and a global
//! budget). Each reservation is one conditional UPSERT, so the limits hold with several
//! doorman processes on one database.
use sea_orm::{ConnectionTrait, TransactionTrait, Value};

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
    /// Counts one send in each `(bucket, max)` for the current hour, all or none. One
    /// conditional UPSERT counts every bucket that has room (a row from an earlier hour
    /// starts a fresh count) and leaves alone one that already counts `max`; if one was
    /// left alone, the others' sends are given back. Between the two, another send may
    /// find a bucket one higher than it ends up: a refusal at the limit, never a send
    /// over it. One statement, not a transaction of one per bucket: every code sent pays
    /// for this, and each statement is a trip to the database.
    pub async fn reserve_sends(&self, buckets: &[(&str, u32)], now: Millis) -> StoreResult<SendBudget> {
        debug_assert!(
            buckets.iter().enumerate().all(|(i, (b, _))| buckets[..i].iter().all(|(other, _)| other != b)),
            "a bucket counted twice in one statement"
        );
        let window = window_of(now);
        // $1 is the window; bucket i is named by $(2i + 2) and allows $(2i + 3) sends.
        let mut values: Vec<Value> = vec![window.into()];
        let (mut rows, mut limits) = (Vec::new(), Vec::new());
        for (i, (bucket, max)) in buckets.iter().enumerate() {
            let (name, max_at) = (2 * i + 2, 2 * i + 3);
            rows.push(format!("(${name}, $1, 1)"));
            limits.push(format!("WHEN ${name} THEN ${max_at}"));
            values.extend([(*bucket).into(), (*max as i32).into()]);
        }
        let stmt = self.sql(
            &format!(
                "INSERT INTO send_counters (bucket, window_start, sends) VALUES {}
                 ON CONFLICT (bucket) DO UPDATE SET
                   sends = CASE WHEN send_counters.window_start = $1 THEN send_counters.sends + 1 ELSE 1 END,
                   window_start = $1
                 WHERE send_counters.window_start <> $1
                    OR send_counters.sends < CASE send_counters.bucket {} END
                 RETURNING bucket",
                rows.join(", "),
                limits.join(" ")
            ),
            values,
        );
        let mut counted = Vec::with_capacity(buckets.len());
        for row in self.db().query_all_raw(stmt).await? {
            counted.push(row.try_get::<String>("", "bucket")?);
        }
        let Some(index) = buckets.iter().position(|(bucket, _)| !counted.iter().any(|c| c == bucket)) else {
            return Ok(SendBudget::Granted);
        };
        let given_back: Vec<&str> = counted.iter().map(String::as_str).collect();
        if !given_back.is_empty() {
            self.release_sends(&given_back, now).await?;
        }
        Ok(SendBudget::Exhausted { index, until: window + HOUR_MS })
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
