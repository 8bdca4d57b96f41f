//! The audit trail. Events are queued and written in batches by one background task,
//! so a login or a proxied request never waits for its own audit insert.
use sea_orm::{ActiveValue::NotSet, EntityTrait, IntoActiveModel, TransactionTrait};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::{Store, StoreResult};
use crate::clock::Millis;

/// One security event. `detail` never carries codes, secrets or tokens.
#[derive(Debug, Clone, Default)]
pub struct AuditEvent {
    pub kind: &'static str,
    pub client_id: Option<String>,
    pub subject: Option<String>,
    pub conversation: Option<String>,
    pub detail: Value,
}

enum Command {
    Record(AuditEvent, Millis),
    Flush(oneshot::Sender<()>),
}

const QUEUE: usize = 16_384;
const BATCH: usize = 512;

/// Handle to the audit writer. Recording waits only when the queue is full, which
/// slows callers down rather than dropping events.
#[derive(Clone)]
pub struct AuditLog {
    queue: mpsc::Sender<Command>,
}

#[derive(Debug, thiserror::Error)]
#[error("the audit writer has stopped")]
pub struct AuditStopped;

impl AuditLog {
    pub fn start(store: Store) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(store, receiver));
        Self { queue }
    }

    pub async fn record(&self, event: AuditEvent, at: Millis) -> Result<(), AuditStopped> {
        self.queue.send(Command::Record(event, at)).await.map_err(|_| AuditStopped)
    }

    /// Returns once every event recorded before the call is in the database.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.queue.send(Command::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn write_batches(store: Store, mut receiver: mpsc::Receiver<Command>) {
    let mut commands = Vec::with_capacity(BATCH);
    while receiver.recv_many(&mut commands, BATCH).await > 0 {
        let mut events = Vec::new();
        let mut flushes = Vec::new();
        for command in commands.drain(..) {
            match command {
                Command::Record(event, at) => events.push((event, at)),
                Command::Flush(done) => flushes.push(done),
            }
        }
        if !events.is_empty()
            && let Err(e) = store.insert_audit_batch(&events).await
        {
            // Not silently lost: the events go to the log instead.
            tracing::error!(error = %e, count = events.len(), "audit write failed; events follow");
            for (event, at) in &events {
                tracing::error!(at, kind = event.kind, client = ?event.client_id, subject = ?event.subject, detail = %event.detail, "audit event");
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

impl Store {
    /// Writes one event at once, for the rare operator and revocation paths that have
    /// no [`AuditLog`] at hand.
    pub async fn append_audit(&self, event: AuditEvent, at: Millis) -> StoreResult<()> {
        self.insert_audit_batch(&[(event, at)]).await
    }

    async fn insert_audit_batch(&self, events: &[(AuditEvent, Millis)]) -> StoreResult<()> {
        let models = events.iter().map(|(event, at)| {
            let mut model = entity::audit_event::Model {
                id: 0,
                at: *at,
                kind: event.kind.to_string(),
                client_id: event.client_id.clone(),
                subject: event.subject.clone(),
                conversation: event.conversation.clone(),
                detail: if event.detail.is_null() { "{}".into() } else { event.detail.to_string() },
            }
            .into_active_model();
            model.id = NotSet;
            model
        });
        let txn = self.db().begin().await?;
        entity::audit_event::Entity::insert_many(models).exec_without_returning(&txn).await?;
        txn.commit().await?;
        Ok(())
    }
}

/// Which audit events to read: every filter is optional; newest first, `before` an id.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub subject: Option<String>,
    pub client_id: Option<String>,
    pub kind: Option<String>,
    pub since: Option<Millis>,
    pub until: Option<Millis>,
    pub before: Option<i64>,
}

impl Store {
    pub async fn query_audit(&self, filter: &AuditFilter, limit: u64) -> StoreResult<Vec<entity::audit_event::Model>> {
        use entity::audit_event::Column;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
        let mut query = entity::audit_event::Entity::find().order_by_desc(Column::Id).limit(limit);
        if let Some(subject) = &filter.subject {
            query = query.filter(Column::Subject.eq(subject.as_str()));
        }
        if let Some(client) = &filter.client_id {
            query = query.filter(Column::ClientId.eq(client.as_str()));
        }
        if let Some(kind) = &filter.kind {
            query = query.filter(Column::Kind.eq(kind.as_str()));
        }
        if let Some(since) = filter.since {
            query = query.filter(Column::At.gte(since));
        }
        if let Some(until) = filter.until {
            query = query.filter(Column::At.lt(until));
        }
        if let Some(before) = filter.before {
            query = query.filter(Column::Id.lt(before));
        }
        Ok(query.all(self.db()).await?)
    }
}
