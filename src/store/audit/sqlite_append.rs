//! The audit append on SQLite in two round trips instead of five or six. Each statement
//! sea-orm runs is a trip to sqlx's connection thread and back, and on a busy 2-core
//! machine the trip costs far more than the statement: about 70 µs of CPU on the
//! connection thread, most of it threads waking each other (bench/README.md, "Where a
//! login's CPU goes"). Every login step and every group commit of token refreshes
//! appends, so this is where trips are worth saving.
//!
//! sqlx runs the statements of one query text one after another on its thread, binding
//! `?` parameters in order across them. The first trip begins the transaction and claims
//! the sequence numbers (the chain's head, which the events' hashes need); the second
//! writes the events, the new head and the sessions' activity, and commits.
use std::sync::Arc;

use sea_orm::sqlx::{self, Row, Sqlite, SqliteConnection, SqlitePool, pool::PoolConnection};
use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr};

use super::chain::{self, Head, ROWS_PER_INSERT};
use super::{AuditEvent, Touch};
use crate::clock::Millis;
use crate::store::StoreResult;
use crate::store::sessions::{TOUCHES_PER_UPDATE, latest_touches, touch_sql};

const CLAIM: &str = "BEGIN IMMEDIATE; UPDATE audit_chain SET seq = seq + ? WHERE id = 1 RETURNING seq, hash";
const EVENT_ROW: &str = "(?, ?, ?, ?, ?, ?, ?, ?)";

/// Appends `events` and records the sessions' activity of `touches`, in one transaction.
pub(super) async fn append(pool: &SqlitePool, events: &[(AuditEvent, Millis)], touches: Vec<Touch>) -> StoreResult<()> {
    let touches = latest_touches(touches);
    if events.is_empty() && touches.is_empty() {
        return Ok(());
    }
    let mut held = Held(Some(pool.acquire().await.map_err(acquire_error)?));
    let claimed = events.len() as i64;
    let rows = sqlx::query(CLAIM).bind(claimed).fetch_all(held.connection()).await.map_err(exec_error)?;
    let row = rows.first().ok_or_else(chain::missing_head)?;
    let (seq, hash): (i64, String) =
        (row.try_get("seq").map_err(exec_error)?, row.try_get("hash").map_err(exec_error)?);
    let claimed_from = chain::head(seq, &hash)?;
    let (rows, last) = chain::numbered(Head { seq: claimed_from.seq - claimed, ..claimed_from }, events);

    // Built of constant text and placeholders only: no value is ever part of it.
    let sql = sqlx::AssertSqlSafe(write_and_commit(rows.len(), touches.len()));
    let mut query = sqlx::query(sql);
    for row in rows {
        query = query.bind(row.at).bind(row.kind).bind(row.client_id).bind(row.subject);
        query = query.bind(row.conversation).bind(row.detail).bind(row.seq).bind(row.hash);
    }
    query = query.bind(hex::encode(last));
    for touch in touches {
        query = query.bind(touch.session_id).bind(touch.at);
    }
    query.execute(held.connection()).await.map_err(exec_error)?;
    held.finish();
    Ok(())
}

/// The second trip's text: the events' INSERTs, the head's UPDATE, the touches, COMMIT.
fn write_and_commit(events: usize, touches: usize) -> String {
    let mut statements = Vec::new();
    let mut left = events;
    while left > 0 {
        let rows = left.min(ROWS_PER_INSERT);
        statements.push(format!(
            "INSERT INTO audit_events (at, kind, client_id, subject, conversation, detail, seq, hash) VALUES {}",
            vec![EVENT_ROW; rows].join(", ")
        ));
        left -= rows;
    }
    statements.push("UPDATE audit_chain SET hash = ? WHERE id = 1".into());
    let mut left = touches;
    while left > 0 {
        let rows = left.min(TOUCHES_PER_UPDATE);
        statements.push(touch_sql(rows, || "?".into()));
        left -= rows;
    }
    statements.push("COMMIT".into());
    statements.join(";\n")
}

/// The writing connection while this module's transaction may be open on it. Let go of
/// any other way than [`Held::finish`] (an error, a cancelled future), it is closed,
/// which rolls the transaction back, instead of going back to the pool inside it.
struct Held(Option<PoolConnection<Sqlite>>);

impl Held {
    fn connection(&mut self) -> &mut SqliteConnection {
        self.0.as_mut().expect("a connection is held until it is finished")
    }

    /// The transaction is over: the connection goes back to the pool.
    fn finish(mut self) {
        self.0.take();
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(mut connection) = self.0.take() {
            connection.close_on_drop();
        }
    }
}

/// As sea-orm reports it, so that `append_patiently` and `store::unavailable` tell a
/// pool that had no connection in time from a failed statement.
fn acquire_error(error: sqlx::Error) -> DbErr {
    match error {
        sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        sqlx::Error::PoolClosed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
        other => DbErr::Conn(RuntimeErr::SqlxError(Arc::new(other))),
    }
}

fn exec_error(error: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(Arc::new(error)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_second_trip_has_one_parameter_per_bound_value_and_ends_in_the_commit() {
        let sql = write_and_commit(ROWS_PER_INSERT + 1, 2);
        assert_eq!(sql.matches('?').count(), 8 * (ROWS_PER_INSERT + 1) + 1 + 2 * 2);
        assert_eq!(sql.matches("INSERT INTO audit_events").count(), 2);
        assert!(sql.ends_with("COMMIT"), "{sql}");
        assert!(!write_and_commit(1, 0).contains("sessions"));
    }
}
