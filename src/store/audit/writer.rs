//! The audit writer: one background task commits queued events in batches (group
//! commit), and each caller waits for the commit of the batch that holds its event. A
//! burst of logins shares one commit, and an event is durable before anyone answers for it.
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::AuditEvent;
use crate::clock::Millis;
use crate::store::Store;

#[derive(Debug, Clone, thiserror::Error)]
pub enum AuditError {
    #[error("the audit writer has stopped")]
    Stopped,
    /// Shared by every caller whose event was in the failed batch; its source tells a
    /// database that did not answer in time (503) from other failures.
    #[error("the audit trail could not be written: {0}")]
    Write(#[source] Arc<crate::store::StoreError>),
}

/// Told of every event once it is committed (the metrics count them there, so the
/// domain code that records an event needs no counter of its own).
pub trait AuditObserver: Send + Sync {
    fn committed(&self, event: &AuditEvent);
}

type Done = oneshot::Sender<Result<(), AuditError>>;

/// Activity on a session, written in the same transaction as the event that records it
/// (a token refresh): as durable as the event, and one write per batch, not per token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Touch {
    pub session_id: String,
    pub at: Millis,
}

enum Command {
    Record(Vec<(AuditEvent, Millis)>, Option<Touch>, Done),
    /// Answered once every command queued before it has been written.
    Flush(oneshot::Sender<()>),
}

const QUEUE: usize = 16_384;
/// How long a batch keeps trying to get the database before its callers are failed.
const PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);
/// Commands per batch; the events of one command are never split.
const BATCH: usize = 512;

/// Handle to the audit writer. Recording waits for the commit, and for room in the
/// queue when it is full: callers slow down rather than events being dropped.
#[derive(Clone)]
pub struct AuditLog {
    queue: mpsc::Sender<Command>,
}

impl AuditLog {
    pub fn start(store: Store) -> Self {
        Self::start_observed(store, None)
    }

    /// Like [`AuditLog::start`], telling `observer` of each committed event.
    pub fn start_observed(store: Store, observer: Option<Arc<dyn AuditObserver>>) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(store, receiver, observer));
        Self { queue }
    }

    /// Returns once `event` is committed.
    pub async fn record(&self, event: AuditEvent, at: Millis) -> Result<(), AuditError> {
        self.record_all(vec![event], at).await
    }

    /// Returns once every one of `events` is committed; they are written in one batch.
    pub async fn record_all(&self, events: Vec<AuditEvent>, at: Millis) -> Result<(), AuditError> {
        self.record_each(events.into_iter().map(|event| (event, at)).collect()).await
    }

    /// Returns once every one of `events`, each with its own time, is committed.
    pub async fn record_each(&self, events: Vec<(AuditEvent, Millis)>) -> Result<(), AuditError> {
        if events.is_empty() {
            return Ok(());
        }
        self.commit(events, None).await
    }

    /// Returns once `event` is committed, and with it `touch` (see [`Touch`]).
    pub async fn record_touching(&self, event: AuditEvent, at: Millis, touch: Touch) -> Result<(), AuditError> {
        self.commit(vec![(event, at)], Some(touch)).await
    }

    async fn commit(&self, events: Vec<(AuditEvent, Millis)>, touch: Option<Touch>) -> Result<(), AuditError> {
        let (done, committed) = oneshot::channel();
        self.queue.send(Command::Record(events, touch, done)).await.map_err(|_| AuditError::Stopped)?;
        committed.await.map_err(|_| AuditError::Stopped)?
    }

    /// Returns once every event recorded before the call is in the database.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.queue.send(Command::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }
}

async fn write_batches(store: Store, mut receiver: mpsc::Receiver<Command>, observer: Option<Arc<dyn AuditObserver>>) {
    let mut commands = Vec::with_capacity(BATCH);
    while receiver.recv_many(&mut commands, BATCH).await > 0 {
        // Requests woken with the first one (their refreshes answered from memory, say)
        // are often one signature away from recording: let them run first, and their
        // events join this commit instead of each waiting for one of its own.
        tokio::task::yield_now().await;
        while commands.len() < BATCH
            && let Ok(command) = receiver.try_recv()
        {
            commands.push(command);
        }
        let mut events = Vec::new();
        let mut touches = Vec::new();
        let mut waiting = Vec::new();
        let mut flushes = Vec::new();
        for command in commands.drain(..) {
            match command {
                Command::Record(batch, touch, done) => {
                    events.extend(batch);
                    touches.extend(touch);
                    waiting.push(done);
                }
                Command::Flush(done) => flushes.push(done),
            }
        }
        let outcome = if events.is_empty() { Ok(()) } else { append_patiently(&store, &events, touches).await };
        let answer = match outcome {
            Ok(()) => {
                if let Some(observer) = &observer {
                    events.iter().for_each(|(event, _)| observer.committed(event));
                }
                Ok(())
            }
            Err(e) => {
                // The callers fail, so nothing is answered as recorded; the log keeps the events.
                tracing::error!(error = %e, count = events.len(), "audit write failed; events follow");
                for (event, at) in &events {
                    tracing::error!(at, kind = event.kind, client = ?event.client_id, subject = ?event.subject, detail = %event.detail, "audit event");
                }
                Err(AuditError::Write(Arc::new(e)))
            }
        };
        for done in waiting {
            let _ = done.send(answer.clone());
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

/// Writes a batch, trying again while no connection comes free in time: nothing of the
/// batch was written then (the connection is taken before the transaction begins), and
/// its callers are waiting for it, so a busy moment (a long write holding SQLite's one
/// writer) delays them instead of failing their requests. Any other failure is final.
async fn append_patiently(
    store: &Store,
    events: &[(AuditEvent, Millis)],
    touches: Vec<Touch>,
) -> Result<(), crate::store::StoreError> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match store.append_audit_batch(events, touches.clone()).await {
            Err(crate::store::StoreError::Db(sea_orm::DbErr::ConnectionAcquire(e)))
                if tokio::time::Instant::now() < deadline =>
            {
                tracing::warn!(error = %e, "the audit writer waited too long for the database; trying again");
            }
            outcome => return outcome,
        }
    }
}
