//! Live sessions kept in memory, so that a token refresh reads nothing from the
//! database: the conversation's session, its record, and the activity this process has
//! seen. The database stays the truth; what is kept here is only trusted while
//! - it was read less than [`FRESH_FOR`] ago (what other processes change, a session
//!   touched by a replica or a record imported by `doorman import`, shows within that),
//! - this process has written no record since it was read,
//! - the session is not in the ended-session set (ended here: at once; by a replica:
//!   within the feed's bound, as for the proxy), and
//! - the session's idle deadline and absolute end have not passed.
//!
//! Otherwise the refresh takes the database path and refills the entry.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::Address;
use crate::clock::Millis;
use crate::store::Store;
use crate::store::records::Record;
use crate::store::sessions::{Lifetime, Session};

/// How long a session read from the database is trusted without reading it again.
/// The same as the ended-session feed's poll interval: a refresh learns of changes
/// elsewhere no later than the proxy does.
pub const FRESH_FOR: Millis = crate::store::endings::POLL_INTERVAL.as_millis() as Millis;

/// Entries kept at most; past it, stale ones are dropped, and if none is stale nothing
/// new is kept (those refreshes take the database path). About 1 KiB each.
const MAX_ENTRIES: usize = 10_000;

#[derive(Clone)]
pub struct LiveSession {
    pub session: Session,
    pub record: Arc<Record>,
    read_at: Millis,
    record_writes: u64,
}

#[derive(Default)]
pub struct LiveSessions {
    entries: Mutex<HashMap<Key, LiveSession>>,
}

type Key = (String, String, String);

fn key(address: &Address) -> Key {
    (address.client_id.clone(), address.channel.clone(), address.external_id.clone())
}

impl LiveSessions {
    /// The conversation's session if what is kept of it can be trusted at `now`; its
    /// activity is moved to `now` (the caller refreshes it).
    pub fn touch(&self, address: &Address, store: &Store, now: Millis) -> Option<LiveSession> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get_mut(&key(address))?;
        let trusted = now.saturating_sub(entry.read_at) < FRESH_FOR
            && now >= entry.read_at
            && entry.record_writes == store.record_writes()
            && entry.record.active
            && !store.ended_sessions().contains(&entry.session.id)
            && entry.session.is_alive(now);
        if !trusted {
            entries.remove(&key(address));
            return None;
        }
        entry.session.last_activity = entry.session.last_activity.max(now);
        Some(entry.clone())
    }

    /// Keeps `session` and `record`, read from the database at `read_at` while the
    /// store's record-write count was `record_writes`.
    pub fn keep(&self, address: &Address, session: Session, record: Record, read_at: Millis, record_writes: u64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| read_at.saturating_sub(e.read_at) < FRESH_FOR);
            if entries.len() >= MAX_ENTRIES {
                return;
            }
        }
        entries.insert(key(address), LiveSession { session, record: Arc::new(record), read_at, record_writes });
    }

    /// Forgets the conversation's entry (its session ended or changed here).
    pub fn forget(&self, address: &Address) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).remove(&key(address));
    }
}
