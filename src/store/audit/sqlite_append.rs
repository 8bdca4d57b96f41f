//! The audit append on SQLite in one round trip, or two, instead of five or six. Each
//! statement sea-orm runs is a trip to sqlx's connection thread and back, and on a busy
//! 2-core machine the trip costs far more than the statement: threads waking each other
//! (bench/README.md, "where a login's CPU goes"). Every login step and every group
//! commit of token refreshes appends, so this is where trips are worth saving.
//!
//! sqlx runs the statements of one query text one after another on its thread, binding
//! `?` parameters in order across them. The events' hashes need the chain's head, so:
//! - **one trip** when the head is where this process's last append left it (the usual
//!   case): the whole transaction, from `BEGIN IMMEDIATE` to `COMMIT`, is one query. The
//!   head moves only if it is still the one expected, and the events are inserted only if
//!   the head now carries their hash, which no other append can produce;
//! - **two trips** otherwise (the first append, or another process or transaction
//!   appended since): the first begins the transaction and claims the places, the second
//!   writes the events, the new head and the sessions' activity, and commits.
use std::sync::Arc;

use sea_orm::sqlx::{self, Row, Sqlite, SqliteConnection, SqlitePool, pool::PoolConnection, sqlite::SqliteArguments};
use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr};

use super::chain::{self, Head, HeadHint, ROWS_PER_INSERT};
use super::{AuditEvent, Touch};
use crate::clock::Millis;
use crate::store::StoreResult;
use crate::store::sessions::{TOUCHES_PER_UPDATE, latest_touches, touch_sql};

const CLAIM: &str = "BEGIN IMMEDIATE; UPDATE audit_chain SET seq = seq + ? WHERE id = 1 RETURNING seq, hash";
const MOVE_IF_EXPECTED: &str =
    "UPDATE audit_chain SET seq = seq + ?, hash = ? WHERE id = 1 AND seq = ? AND hash = ? RETURNING seq";
const COLUMNS: &str = "audit_events (at, kind, client_id, subject, conversation, detail, seq, hash)";
const EVENT_ROW: &str = "(?, ?, ?, ?, ?, ?, ?, ?)";

type Query<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments>;

/// Appends `events` and records the sessions' activity of `touches`, in one transaction.
pub(super) async fn append(
    pool: &SqlitePool,
    hint: &Arc<HeadHint>,
    events: &[(AuditEvent, Millis)],
    touches: Vec<Touch>,
) -> StoreResult<()> {
    let touches = latest_touches(touches);
    if events.is_empty() && touches.is_empty() {
        return Ok(());
    }
    let mut held = Held(Some(pool.acquire().await.map_err(acquire_error)?));
    // Until this append is known to have landed, nobody may trust the hint.
    let expected = hint.take();
    let landed = match expected {
        Some(expected) => in_one_trip(&mut held, expected, events, &touches).await?,
        None => None,
    };
    let head = match landed {
        Some(head) => head,
        None => in_two_trips(&mut held, events, &touches).await?,
    };
    // Set while the connection is held: the next append, which needs it, reads it.
    hint.set(head);
    held.finish();
    Ok(())
}

/// The whole append if the head is still `expected`; the new head, or None (then nothing
/// of the events was written, and the touches were, which is harmless: they only move
/// activity forward).
async fn in_one_trip(
    held: &mut Held,
    expected: Head,
    events: &[(AuditEvent, Millis)],
    touches: &[Touch],
) -> StoreResult<Option<Head>> {
    let (rows, last) = chain::numbered(expected, events);
    let new_hash = hex::encode(last);
    let mut statements = vec!["BEGIN IMMEDIATE".to_string(), MOVE_IF_EXPECTED.to_string()];
    statements.extend(event_inserts(rows.len(), " WHERE (SELECT hash FROM audit_chain WHERE id = 1) = ?"));
    statements.extend(touch_updates(touches.len()));
    statements.push("COMMIT".into());
    // Built of constant text and placeholders only: no value is ever part of it.
    let mut query = sqlx::query(sqlx::AssertSqlSafe(statements.join(";\n")));
    query = query.bind(events.len() as i64).bind(new_hash.clone()).bind(expected.seq).bind(hex::encode(expected.hash));
    query = bind_events(query, rows, Some(&new_hash));
    query = bind_touches(query, touches);
    let moved = query.fetch_all(held.connection()).await.map_err(exec_error)?;
    Ok((!moved.is_empty()).then_some(Head { seq: expected.seq + events.len() as i64, hash: last }))
}

/// The append from whatever head the database has; returns the new head.
async fn in_two_trips(held: &mut Held, events: &[(AuditEvent, Millis)], touches: &[Touch]) -> StoreResult<Head> {
    let claimed = events.len() as i64;
    let rows = sqlx::query(CLAIM).bind(claimed).fetch_all(held.connection()).await.map_err(exec_error)?;
    let row = rows.first().ok_or_else(chain::missing_head)?;
    let (seq, hash): (i64, String) =
        (row.try_get("seq").map_err(exec_error)?, row.try_get("hash").map_err(exec_error)?);
    let claimed_to = chain::head(seq, &hash)?;
    let (rows, last) = chain::numbered(Head { seq: claimed_to.seq - claimed, ..claimed_to }, events);

    let mut statements = event_inserts(rows.len(), "");
    statements.push("UPDATE audit_chain SET hash = ? WHERE id = 1".into());
    statements.extend(touch_updates(touches.len()));
    statements.push("COMMIT".into());
    let mut query = sqlx::query(sqlx::AssertSqlSafe(statements.join(";\n")));
    query = bind_events(query, rows, None).bind(hex::encode(last));
    query = bind_touches(query, touches);
    query.execute(held.connection()).await.map_err(exec_error)?;
    Ok(Head { seq: claimed_to.seq, hash: last })
}

/// INSERTs of `events` rows, `ROWS_PER_INSERT` at most each, every one ending in `guard`
/// (a condition on the head, with one parameter, or nothing).
fn event_inserts(events: usize, guard: &str) -> Vec<String> {
    chunk_sizes(events, ROWS_PER_INSERT)
        .map(|rows| {
            let values = vec![EVENT_ROW; rows].join(", ");
            match guard {
                "" => format!("INSERT INTO {COLUMNS} VALUES {values}"),
                _ => format!("INSERT INTO {COLUMNS} SELECT * FROM (VALUES {values}){guard}"),
            }
        })
        .collect()
}

fn touch_updates(touches: usize) -> Vec<String> {
    chunk_sizes(touches, TOUCHES_PER_UPDATE).map(|rows| touch_sql(rows, || "?".into(), "")).collect()
}

fn chunk_sizes(total: usize, most: usize) -> impl Iterator<Item = usize> {
    (0..total.div_ceil(most)).map(move |i| most.min(total - i * most))
}

/// Binds the rows in the order of [`event_inserts`]: each INSERT's rows, then the
/// value of its guard, if it has one.
fn bind_events<'q>(mut query: Query<'q>, rows: Vec<entity::audit_event::Model>, guard: Option<&str>) -> Query<'q> {
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        for row in rows.by_ref().take(ROWS_PER_INSERT) {
            query = query.bind(row.at).bind(row.kind).bind(row.client_id).bind(row.subject);
            query = query.bind(row.conversation).bind(row.detail).bind(row.seq).bind(row.hash);
        }
        if let Some(value) = guard {
            query = query.bind(value.to_string());
        }
    }
    query
}

fn bind_touches<'q>(mut query: Query<'q>, touches: &[Touch]) -> Query<'q> {
    for touch in touches {
        query = query.bind(touch.session_id.clone()).bind(touch.at);
    }
    query
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

    fn placeholders(statements: &[String]) -> usize {
        statements.iter().map(|s| s.matches('?').count()).sum()
    }

    #[test]
    fn each_insert_has_a_placeholder_for_every_value_bound_to_it() {
        let guarded = event_inserts(ROWS_PER_INSERT + 1, " WHERE x = ?");
        assert_eq!(guarded.len(), 2);
        assert_eq!(placeholders(&guarded), 8 * (ROWS_PER_INSERT + 1) + 2, "the rows and one guard per INSERT");
        assert!(guarded.iter().all(|s| s.ends_with("WHERE x = ?")));
        assert_eq!(placeholders(&event_inserts(3, "")), 24);
        assert!(event_inserts(0, "").is_empty());
        assert_eq!(placeholders(&touch_updates(TOUCHES_PER_UPDATE + 2)), 2 * (TOUCHES_PER_UPDATE + 2));
        assert_eq!(chunk_sizes(2001, 1000).collect::<Vec<_>>(), [1000, 1000, 1]);
    }
}
