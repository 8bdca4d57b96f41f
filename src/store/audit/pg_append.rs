//! The audit append on PostgreSQL in one statement when the chain's head is where this
//! process's last append left it, instead of a transaction of six round trips (BEGIN,
//! claim the head, INSERT, the head's hash, the touches, COMMIT). Data-modifying CTEs: the
//! head moves only if it is the expected one, and the events and the sessions' activity
//! are written only if it moved (they read the head's UPDATE's RETURNING, which also makes
//! the chain's row lock come first, as in the transaction). Otherwise, or for a batch too
//! big for one statement's parameters, the caller takes the transaction (`chain.rs`).
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, Value};

use super::chain::{self, Head};
use super::{AuditEvent, Touch};
use crate::clock::Millis;
use crate::store::StoreResult;
use crate::store::sessions::touch_sql;

/// PostgreSQL takes at most 65,535 parameters per statement; stay well below.
const MAX_PARAMETERS: usize = 30_000;

/// Whether one statement can carry `events` and `touches`.
pub(super) fn fits(events: usize, touches: usize) -> bool {
    4 + 8 * events + 2 * touches <= MAX_PARAMETERS
}

/// The new head if the head was `expected` and everything is written; None if the head
/// had moved (then nothing was written).
pub(super) async fn in_one_statement(
    db: &DatabaseConnection,
    expected: Head,
    events: &[(AuditEvent, Millis)],
    touches: &[Touch],
) -> StoreResult<Option<Head>> {
    let (rows, last) = chain::numbered(expected, events);
    let mut values: Vec<Value> = vec![
        (events.len() as i64).into(),
        hex::encode(last).into(),
        expected.seq.into(),
        hex::encode(expected.hash).into(),
    ];
    let mut n = values.len();
    let mut next = |cast: &str| {
        n += 1;
        format!("${n}::{cast}")
    };
    let mut parts =
        vec!["moved AS (UPDATE audit_chain SET seq = seq + $1, hash = $2 WHERE id = 1 AND seq = $3 AND hash = $4 RETURNING seq)"
            .to_string()];
    if !rows.is_empty() {
        let tuples: Vec<String> = rows
            .iter()
            .map(|_| {
                let columns = ["bigint", "text", "text", "text", "text", "text", "bigint", "text"].map(&mut next);
                format!("({})", columns.join(", "))
            })
            .collect();
        parts.push(format!(
            "events AS (INSERT INTO audit_events (at, kind, client_id, subject, conversation, detail, seq, hash)
             SELECT * FROM (VALUES {}) AS v WHERE EXISTS (SELECT 1 FROM moved))",
            tuples.join(", ")
        ));
    }
    if !touches.is_empty() {
        // Each touch is an (id, at) pair of parameters.
        let mut casts = ["text", "bigint"].into_iter().cycle();
        let param = || next(casts.next().unwrap_or("text"));
        let touched = touch_sql(touches.len(), param, " AND EXISTS (SELECT 1 FROM moved)");
        parts.push(format!("touched AS ({touched})"));
    }
    for row in rows {
        values.extend([row.at.into(), row.kind.into(), row.client_id.into(), row.subject.into()]);
        values.extend([row.conversation.into(), row.detail.into(), row.seq.into(), row.hash.into()]);
    }
    for touch in touches {
        values.extend([touch.session_id.clone().into(), touch.at.into()]);
    }
    let sql = format!("WITH {} SELECT seq FROM moved", parts.join(",\n"));
    let moved = db.query_one_raw(Statement::from_sql_and_values(db.get_database_backend(), sql, values)).await?;
    Ok(moved.map(|_| Head { seq: expected.seq + events.len() as i64, hash: last }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_fits_one_statement_only_within_the_parameter_limit() {
        assert!(fits(512, 512));
        assert!(!fits(4000, 0));
        assert!(!fits(0, 15_000));
    }
}
