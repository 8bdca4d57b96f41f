//! The hash chain. One global chain: every writer (each batch of the audit writer, each
//! direct append, every replica) claims its sequence numbers by updating the chain's
//! head row, which locks it until the commit. Sequence numbers therefore have no gaps
//! and follow commit order, and `verify` can tell a deleted event from a late one.
use std::sync::Mutex;

use sea_orm::{
    ActiveValue::NotSet, ConnectionTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, Statement,
    TransactionTrait,
};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::AuditEvent;
use crate::clock::Millis;
use crate::store::{Store, StoreError, StoreResult};

pub type Hash = [u8; 32];

/// What the first event is chained to.
pub const GENESIS: Hash = [0; 32];

/// The bytes an event's hash covers: everything stored about it except its row id, which
/// the database assigns. Version-tagged so the form can change without ambiguity.
pub fn canonical(event: &entity::audit_event::Model) -> Vec<u8> {
    let form = json!([
        "doorman-audit-v1",
        event.seq,
        event.at,
        event.kind,
        event.client_id,
        event.subject,
        event.conversation,
        event.detail,
    ]);
    serde_json::to_vec(&form).unwrap_or_default()
}

/// The hash of `event` chained to `previous`.
pub fn link(previous: &Hash, event: &entity::audit_event::Model) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(previous);
    hasher.update(canonical(event));
    hasher.finalize().into()
}

pub fn parse_hash(text: &str) -> Option<Hash> {
    hex::decode(text).ok()?.try_into().ok()
}

/// The chain's head: the last sequence number handed out and the hash of that event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub seq: i64,
    pub hash: Hash,
}

/// Where this process's last append left the chain's head: a guess, checked by the
/// database in the same statement that moves the head.
#[derive(Default)]
pub struct HeadHint(Mutex<Option<Head>>);

impl HeadHint {
    pub(super) fn take(&self) -> Option<Head> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    pub(super) fn set(&self, head: Head) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(head);
    }
}

fn statement(db: &impl ConnectionTrait, sql: &str, values: Vec<sea_orm::Value>) -> Statement {
    Statement::from_sql_and_values(db.get_database_backend(), sql, values)
}

fn head_from(row: Option<sea_orm::QueryResult>) -> StoreResult<Head> {
    let row = row.ok_or_else(missing_head)?;
    head(row.try_get("", "seq")?, &row.try_get::<String>("", "hash")?)
}

pub(super) fn missing_head() -> StoreError {
    StoreError::Corrupt("the audit chain's head row is missing".into())
}

/// The head as stored: its sequence number and its hash in hex.
pub(super) fn head(seq: i64, hash: &str) -> StoreResult<Head> {
    let hash = parse_hash(hash).ok_or_else(|| StoreError::Corrupt(format!("the audit chain's head hash {hash:?}")))?;
    Ok(Head { seq, hash })
}

/// Claims `count` sequence numbers and returns the head before the claim. The UPDATE is
/// the transaction's first statement so that it takes the lock at once (SQLite's write
/// lock, PostgreSQL's row lock) and holds it to the commit.
pub(super) async fn lock_head(db: &impl ConnectionTrait, count: i64) -> StoreResult<Head> {
    let stmt =
        statement(db, "UPDATE audit_chain SET seq = seq + $1 WHERE id = 1 RETURNING seq, hash", vec![count.into()]);
    let head = head_from(db.query_one_raw(stmt).await?)?;
    Ok(Head { seq: head.seq - count, hash: head.hash })
}

pub(super) async fn read_head(db: &impl ConnectionTrait) -> StoreResult<Head> {
    head_from(db.query_one_raw(statement(db, "SELECT seq, hash FROM audit_chain WHERE id = 1", vec![])).await?)
}

/// The stored form of `event`, without its place in the chain.
fn model(event: &AuditEvent, at: Millis) -> entity::audit_event::Model {
    entity::audit_event::Model {
        id: 0,
        at,
        kind: event.kind.to_string(),
        client_id: event.client_id.clone(),
        subject: event.subject.clone(),
        conversation: event.conversation.clone(),
        detail: if event.detail.is_null() { "{}".into() } else { event.detail.to_string() },
        seq: None,
        hash: None,
    }
}

/// Rows per INSERT: 9 columns each stays far below SQLite's and PostgreSQL's limits on
/// bound parameters, however many events the proxy hands over at once.
pub(super) const ROWS_PER_INSERT: usize = 1000;

/// `events` given the places after `head`, each linked to the one before: the rows to
/// insert, and the hash that becomes the chain's head.
pub(super) fn numbered(head: Head, events: &[(AuditEvent, Millis)]) -> (Vec<entity::audit_event::Model>, Hash) {
    let mut previous = head.hash;
    let rows = events
        .iter()
        .zip(head.seq + 1..)
        .map(|((event, at), seq)| {
            let mut stored = model(event, *at);
            stored.seq = Some(seq);
            previous = link(&previous, &stored);
            stored.hash = Some(hex::encode(previous));
            stored
        })
        .collect();
    (rows, previous)
}

/// Appends `events` to the chain inside the caller's transaction: they become durable,
/// and visible, with its commit; the chain stays locked until then. Call it last in the
/// transaction, so that nothing waits for another lock while holding the chain's.
pub async fn append_in(db: &DatabaseTransaction, events: &[(AuditEvent, Millis)]) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    appended_in(db, events).await.map(drop)
}

/// [`append_in`], returning the chain's new head (valid once the transaction commits).
async fn appended_in(db: &DatabaseTransaction, events: &[(AuditEvent, Millis)]) -> StoreResult<Head> {
    let claimed = events.len() as i64;
    let from = lock_head(db, claimed).await?;
    let (rows, last) = numbered(from, events);
    let mut models: Vec<_> = rows
        .into_iter()
        .map(|row| {
            let mut active = row.into_active_model();
            active.id = NotSet;
            active
        })
        .collect();
    while !models.is_empty() {
        let rest = models.split_off(models.len().min(ROWS_PER_INSERT));
        entity::audit_event::Entity::insert_many(std::mem::replace(&mut models, rest))
            .exec_without_returning(db)
            .await?;
    }
    let stmt = statement(db, "UPDATE audit_chain SET hash = $1 WHERE id = 1", vec![hex::encode(last).into()]);
    db.execute_raw(stmt).await?;
    Ok(Head { seq: from.seq + claimed, hash: last })
}

impl Store {
    /// Writes events at once, in their own transaction, for the paths that have no
    /// [`super::AuditLog`] at hand. Returns after the commit.
    pub async fn append_audit(&self, event: AuditEvent, at: Millis) -> StoreResult<()> {
        self.append_audit_batch(&[(event, at)], Vec::new()).await
    }

    /// Appends `events` and records the sessions' activity in one transaction (on
    /// SQLite `sqlite_append`; on PostgreSQL one statement when the head is where this
    /// process left it, `pg_append`). The touches come after the chain's lock, which makes batches take session rows one
    /// batch at a time: two batches touching the same sessions cannot deadlock
    /// (PostgreSQL), and nothing that holds a session row waits for the chain.
    pub(super) async fn append_audit_batch(
        &self,
        events: &[(AuditEvent, Millis)],
        touches: Vec<super::Touch>,
    ) -> StoreResult<()> {
        if self.backend() == sea_orm::DbBackend::Sqlite {
            let pool = self.db().get_sqlite_connection_pool();
            return super::sqlite_append::append(pool, &self.audit_head_hint, events, touches).await;
        }
        let hint = &self.audit_head_hint;
        let touches = crate::store::sessions::latest_touches(touches);
        if let Some(expected) = hint.take()
            && super::pg_append::fits(events.len(), touches.len())
            && let Some(head) = super::pg_append::in_one_statement(self.db(), expected, events, &touches).await?
        {
            hint.set(head);
            return Ok(());
        }
        let txn = self.db().begin().await?;
        let head = appended_in(&txn, events).await?;
        self.touch_sessions_in(&txn, touches).await?;
        txn.commit().await?;
        hint.set(head);
        Ok(())
    }

    pub async fn audit_head(&self) -> StoreResult<Head> {
        read_head(self.reader()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i64, detail: &str) -> entity::audit_event::Model {
        entity::audit_event::Model {
            id: 7,
            at: 1_000,
            kind: "token.issued".into(),
            client_id: Some("bot".into()),
            subject: None,
            conversation: None,
            detail: detail.into(),
            seq: Some(seq),
            hash: None,
        }
    }

    #[test]
    fn every_stored_field_but_the_id_changes_the_hash() {
        let base = link(&GENESIS, &event(1, "{}"));
        assert_ne!(base, link(&GENESIS, &event(2, "{}")), "the place in the chain");
        assert_ne!(base, link(&GENESIS, &event(1, "{\"a\":1}")), "the detail");
        assert_ne!(base, link(&[1; 32], &event(1, "{}")), "the previous hash");
        let mut no_client = event(1, "{}");
        no_client.client_id = None;
        assert_ne!(base, link(&GENESIS, &no_client), "a missing value is not an empty one");
        let mut other_id = event(1, "{}");
        other_id.id = 8;
        assert_eq!(base, link(&GENESIS, &other_id));
    }

    #[test]
    fn hashes_round_trip_through_hex_and_garbage_is_refused() {
        let hash = link(&GENESIS, &event(1, "{}"));
        assert_eq!(parse_hash(&hex::encode(hash)), Some(hash));
        assert_eq!(parse_hash("abc"), None);
        assert_eq!(parse_hash(&"zz".repeat(32)), None);
    }
}
