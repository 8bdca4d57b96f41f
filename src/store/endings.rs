//! Sessions that ended recently, kept in memory so the proxy can refuse their tokens
//! without a database query per request.
//!
//! A session ended by this process is in the set at once. Sessions ended by other
//! replicas arrive by polling `sessions.ended_at` every [`POLL_INTERVAL`], so a token
//! of a revoked session is refused everywhere within about one interval (the
//! documented bound is 2 s). A session needs to stay in the set only while a token
//! issued before its end can still be unexpired: `access_ttl` after it ended.
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use sea_orm::ConnectionTrait;

use super::{Store, StoreResult};
use crate::clock::{Clock, Millis};

pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How far back each poll looks again, for endings committed late or stamped by a
/// replica whose clock is behind. Replicas' clocks must agree within this.
const OVERLAP_MS: Millis = 10_000;

#[derive(Default)]
pub struct EndedSessions {
    ended: RwLock<HashMap<String, Millis>>,
    /// The newest `ended_at` seen by a poll.
    cursor: Mutex<Option<Millis>>,
}

impl EndedSessions {
    pub fn contains(&self, session_id: &str) -> bool {
        self.ended.read().expect("lock").contains_key(session_id)
    }

    pub(super) fn insert(&self, session_id: String, at: Millis) {
        self.ended.write().expect("lock").insert(session_id, at);
    }

    fn forget_before(&self, horizon: Millis) {
        self.ended.write().expect("lock").retain(|_, at| *at >= horizon);
    }
}

impl Store {
    pub fn ended_sessions(&self) -> &EndedSessions {
        &self.ended
    }

    /// Reads the sessions ended since the last poll, and forgets those that ended more
    /// than `retention` ago. The first poll reads back `retention`.
    pub async fn poll_ended_sessions(&self, now: Millis, retention: Duration) -> StoreResult<()> {
        let retention = retention.as_millis() as Millis + OVERLAP_MS;
        let since = self.ended.cursor.lock().expect("lock").unwrap_or(now - retention) - OVERLAP_MS;
        let stmt = self.sql("SELECT id, ended_at FROM sessions WHERE ended_at >= $1", [since.into()]);
        let mut newest = since + OVERLAP_MS;
        for row in self.reader().query_all_raw(stmt).await? {
            let (id, at): (String, i64) = (row.try_get("", "id")?, row.try_get("", "ended_at")?);
            newest = newest.max(at);
            self.ended.insert(id, at);
        }
        *self.ended.cursor.lock().expect("lock") = Some(newest);
        self.ended.forget_before(now - retention);
        Ok(())
    }

    /// Polls every [`POLL_INTERVAL`] until the process ends.
    pub fn follow_ended_sessions(&self, clock: Arc<dyn Clock>, retention: Duration) {
        let store = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(POLL_INTERVAL);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(e) = store.poll_ended_sessions(clock.now(), retention).await {
                    tracing::warn!(error = %e, "could not read ended sessions; will retry");
                }
            }
        });
    }
}
