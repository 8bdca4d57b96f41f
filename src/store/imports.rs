//! Bulk imports in short transactions. Rows are staged in batches, checked as a whole
//! (keys and identifiers repeated in the import, identifiers held by records outside
//! it), then applied in batches. A rejected import leaves nothing behind; an accepted
//! one is finished even if its process dies: whoever finds it abandoned rolls it
//! forward. No transaction holds the (SQLite) writer for more than one batch, so logins
//! keep being served while a million rows arrive.
use sea_orm::{ConnectionTrait, QueryResult, TransactionTrait, Value};

use super::records::{RecordUpsert, UpsertError};
use super::{Store, StoreError, StoreResult, execute, json_list, to_json};
use crate::clock::{Clock, Millis, SystemClock};

/// Rows staged per transaction: one multi-row INSERT per table, a few milliseconds.
const STAGE_BATCH: usize = ROWS_PER_INSERT;
/// How long one apply transaction should hold the (SQLite) writer. Rows are applied in
/// batches sized to that, not to a fixed count: what a row costs depends on the machine,
/// the build and the load, and a fixed count that takes 30 ms on a quiet machine took
/// over 2 s on a loaded one, longer than a login waits for the database.
/// Each of a login's writes may wait for one such batch, so it is kept short.
const APPLY_HOLD: std::time::Duration = std::time::Duration::from_millis(10);
/// The first batch, and the bounds every later batch stays within.
const APPLY_BATCH: std::ops::RangeInclusive<i64> = 5..=1000;
const APPLY_FIRST_BATCH: i64 = 20;
/// Rows per multi-row INSERT, well under SQLite's limit on parameters.
const ROWS_PER_INSERT: usize = 200;
/// Staged rows deleted per transaction when an import is dropped.
const DISCARD_BATCH: i64 = 5000;
/// An import whose heartbeat is older than this was left by a process that died.
const ABANDONED_AFTER_MS: Millis = 60_000;

/// One import being staged. Nothing of it is visible until [`StagedImport::finish`].
/// Dropped unfinished (a client that went away), it is cleaned up as abandoned.
pub struct StagedImport<'s> {
    store: &'s Store,
    directory: String,
    id: Option<i64>,
    pending: Vec<(u64, RecordUpsert)>,
}

/// A failure of one row (by its line), or of the store (line 0).
pub type ImportFailure = (u64, UpsertError);

fn store_failure(e: impl Into<StoreError>) -> ImportFailure {
    (0, UpsertError::Store(e.into()))
}

impl Store {
    pub fn begin_import(&self, directory: &str) -> StagedImport<'_> {
        StagedImport { store: self, directory: directory.to_string(), id: None, pending: Vec::new() }
    }

    /// Finishes imports whose process died after they were accepted and drops those
    /// that died while staging. Returns the ids of records the finished ones made
    /// inactive.
    pub async fn recover_imports(&self, now: Millis) -> Result<Vec<i64>, ImportFailure> {
        let stale = heartbeat_now() - ABANDONED_AFTER_MS;
        let stmt =
            self.sql("SELECT id, directory, state, heartbeat_at FROM imports WHERE heartbeat_at < $1", [stale.into()]);
        let mut inactive = Vec::new();
        for row in self.db().query_all_raw(stmt).await.map_err(store_failure)? {
            let (id, directory, state, beat): (i64, String, String, i64) =
                (get(&row, "id")?, get(&row, "directory")?, get(&row, "state")?, get(&row, "heartbeat_at")?);
            // Claimed by moving the heartbeat: of two processes recovering at once, one wins.
            let claim = self.sql(
                "UPDATE imports SET heartbeat_at = $1 WHERE id = $2 AND heartbeat_at = $3",
                [heartbeat_now().into(), id.into(), beat.into()],
            );
            if execute(self.db(), claim).await.map_err(store_failure)? != 1 {
                continue;
            }
            if state == "applying" {
                tracing::warn!(import = id, directory, "finishing an import its process left half applied");
                inactive.extend(self.apply_import(id, &directory, now, &mut || {}).await?);
            } else {
                tracing::warn!(import = id, directory, "dropping an import its process left unfinished");
                self.discard_import(id).await.map_err(store_failure)?;
            }
        }
        Ok(inactive)
    }

    async fn create_import(&self, directory: &str) -> StoreResult<i64> {
        let stmt = self.sql(
            "INSERT INTO imports (directory, state, heartbeat_at) VALUES ($1, $2, $3) RETURNING id",
            [directory.into(), "staging".into(), heartbeat_now().into()],
        );
        let row = self.db().query_one_raw(stmt).await?.ok_or_else(|| StoreError::Corrupt("no import id".into()))?;
        Ok(row.try_get("", "id")?)
    }

    /// Writes `rows` into staging in one transaction.
    async fn stage(&self, id: i64, rows: &[(u64, RecordUpsert)]) -> StoreResult<()> {
        let txn = self.db().begin().await?;
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 7);
            let mut identifiers: Vec<Value> = Vec::new();
            for (line, record) in chunk {
                let line = *line as i64;
                values.extend([
                    id.into(),
                    line.into(),
                    record.key.clone().into(),
                    to_json(&record.fields).into(),
                    to_json(&record.roles).into(),
                    record.active.into(),
                    to_json(&record.identifiers).into(),
                ]);
                for (field, value) in &record.identifiers {
                    identifiers.extend([
                        id.into(),
                        line.into(),
                        record.key.clone().into(),
                        field.clone().into(),
                        value.clone().into(),
                    ]);
                }
            }
            let sql =
                insert_sql("import_rows (import_id, line, key, fields, roles, active, identifiers)", 7, chunk.len());
            execute(&txn, self.sql(&sql, values)).await?;
            if !identifiers.is_empty() {
                let sql =
                    insert_sql("import_identifiers (import_id, line, key, field, value)", 5, identifiers.len() / 5);
                execute(&txn, self.sql(&sql, identifiers)).await?;
            }
        }
        self.heartbeat(&txn, id, None).await?;
        Ok(txn.commit().await?)
    }

    async fn heartbeat(&self, db: &impl ConnectionTrait, id: i64, state: Option<&str>) -> StoreResult<()> {
        let stmt = match state {
            None => self.sql("UPDATE imports SET heartbeat_at = $1 WHERE id = $2", [heartbeat_now().into(), id.into()]),
            Some(state) => self.sql(
                "UPDATE imports SET heartbeat_at = $1, state = $2 WHERE id = $3",
                [heartbeat_now().into(), state.into(), id.into()],
            ),
        };
        execute(db, stmt).await.map(drop)
    }

    /// The whole import against the rules a row-by-row write would enforce: the first
    /// repeated key, repeated identifier, or identifier that belongs to a record the
    /// import does not rewrite. Reads only: it does not hold the writer. Each query
    /// walks one index once (a self-join on `line > line` would be quadratic).
    async fn check_import(&self, id: i64, directory: &str) -> Result<(), ImportFailure> {
        let first = |sql: &str, values: Vec<Value>| {
            let stmt = self.sql(sql, values);
            async move { self.reader().query_one_raw(stmt).await.map_err(store_failure) }
        };
        let repeated_key = first(
            "SELECT b.line AS line, a.first AS first, b.key AS key FROM (
               SELECT key, MIN(line) AS first FROM import_rows WHERE import_id = $1
               GROUP BY key HAVING COUNT(*) > 1) a
             JOIN import_rows b ON b.import_id = $1 AND b.key = a.key AND b.line > a.first
             ORDER BY b.line LIMIT 1",
            vec![id.into()],
        )
        .await?;
        if let Some(row) = repeated_key {
            let error = UpsertError::RepeatedKey { key: get(&row, "key")?, first_line: line(&row, "first")? };
            return Err((line(&row, "line")?, error));
        }
        let repeated_identifier = first(
            "SELECT b.line AS line, a.first AS first, b.field AS field, b.value AS value FROM (
               SELECT field, value, MIN(line) AS first FROM import_identifiers WHERE import_id = $1
               GROUP BY field, value HAVING COUNT(*) > 1) a
             JOIN import_identifiers b ON b.import_id = $1 AND b.field = a.field AND b.value = a.value
               AND b.line > a.first
             ORDER BY b.line LIMIT 1",
            vec![id.into()],
        )
        .await?;
        if let Some(row) = repeated_identifier {
            let error = UpsertError::RepeatedIdentifier {
                field: get(&row, "field")?,
                value: get(&row, "value")?,
                first_line: line(&row, "first")?,
            };
            return Err((line(&row, "line")?, error));
        }
        let taken = first(
            "SELECT s.line AS line, s.field AS field, s.value AS value FROM import_identifiers s
             JOIN record_identifiers i ON i.directory = $2 AND i.field = s.field AND i.value = s.value
             JOIN records r ON r.id = i.record_id
             WHERE s.import_id = $1 AND r.key <> s.key
               AND NOT EXISTS (SELECT 1 FROM import_rows o WHERE o.import_id = $1 AND o.key = r.key)
             ORDER BY s.line LIMIT 1",
            vec![id.into(), directory.into()],
        )
        .await?;
        if let Some(row) = taken {
            let error = UpsertError::IdentifierTaken { field: get(&row, "field")?, value: get(&row, "value")? };
            return Err((line(&row, "line")?, error));
        }
        Ok(())
    }

    /// Applies a checked import batch by batch, each batch in one transaction that also
    /// removes it from staging, so that a crash resumes where it stopped.
    async fn apply_import(
        &self,
        id: i64,
        directory: &str,
        now: Millis,
        on_row: &mut (dyn FnMut() + Send),
    ) -> Result<Vec<i64>, ImportFailure> {
        let mut inactive = Vec::new();
        let mut batch_rows = APPLY_FIRST_BATCH;
        loop {
            let started = std::time::Instant::now();
            let txn = self.db().begin().await.map_err(store_failure)?;
            let batch = self.sql(
                "SELECT line, key, fields, roles, active, identifiers FROM import_rows
                 WHERE import_id = $1 ORDER BY line LIMIT $2",
                [id.into(), batch_rows.into()],
            );
            let rows = txn.query_all_raw(batch).await.map_err(store_failure)?;
            let Some(last) = rows.last() else {
                execute(&txn, self.sql("DELETE FROM imports WHERE id = $1", [id.into()]))
                    .await
                    .map_err(store_failure)?;
                txn.commit().await.map_err(store_failure)?;
                return Ok(inactive);
            };
            let last = get::<i64>(last, "line")?;
            for row in &rows {
                let record = staged_record(row, directory)?;
                // An identifier it takes is free or held by a record of this import (the
                // check saw to that), which gets its own when its batch comes.
                let record_id = self.upsert_taking_over(&txn, &record, now).await.map_err(|e| (0, e))?;
                if !record.active {
                    inactive.push(record_id);
                }
                on_row();
            }
            for table in ["import_rows", "import_identifiers"] {
                let done = self
                    .sql(&format!("DELETE FROM {table} WHERE import_id = $1 AND line <= $2"), [id.into(), last.into()]);
                execute(&txn, done).await.map_err(store_failure)?;
            }
            self.heartbeat(&txn, id, None).await.map_err(store_failure)?;
            txn.commit().await.map_err(store_failure)?;
            batch_rows = next_batch(batch_rows, started.elapsed());
        }
    }

    /// Deletes an import's staged rows, a batch per transaction, then the import.
    async fn discard_import(&self, id: i64) -> StoreResult<()> {
        loop {
            let txn = self.db().begin().await?;
            let cutoff = self.sql(
                "SELECT line FROM import_rows WHERE import_id = $1 ORDER BY line LIMIT 1 OFFSET $2",
                [id.into(), DISCARD_BATCH.into()],
            );
            let cutoff: Option<i64> = match txn.query_one_raw(cutoff).await? {
                Some(row) => Some(row.try_get("", "line")?),
                None => None,
            };
            for table in ["import_rows", "import_identifiers"] {
                let stmt = match cutoff {
                    Some(cutoff) => self.sql(
                        &format!("DELETE FROM {table} WHERE import_id = $1 AND line < $2"),
                        [id.into(), cutoff.into()],
                    ),
                    None => self.sql(&format!("DELETE FROM {table} WHERE import_id = $1"), [id.into()]),
                };
                execute(&txn, stmt).await?;
            }
            if cutoff.is_none() {
                execute(&txn, self.sql("DELETE FROM imports WHERE id = $1", [id.into()])).await?;
                return Ok(txn.commit().await?);
            }
            self.heartbeat(&txn, id, None).await?;
            txn.commit().await?;
        }
    }
}

impl StagedImport<'_> {
    /// Adds rows; every [`STAGE_BATCH`] of them go to staging in one short transaction.
    pub async fn push(&mut self, rows: impl IntoIterator<Item = (u64, RecordUpsert)>) -> StoreResult<()> {
        for row in rows {
            self.pending.push(row);
            if self.pending.len() >= STAGE_BATCH {
                self.flush().await?;
            }
        }
        Ok(())
    }

    async fn flush(&mut self) -> StoreResult<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let id = match self.id {
            Some(id) => id,
            None => *self.id.insert(self.store.create_import(&self.directory).await?),
        };
        self.store.stage(id, &self.pending).await?;
        self.pending.clear();
        Ok(())
    }

    /// Checks the whole import and, if every row passes, applies it. Returns the ids
    /// of the records it made inactive. Rejected, it leaves nothing behind.
    pub async fn finish(mut self, now: Millis, mut on_row: impl FnMut() + Send) -> Result<Vec<i64>, ImportFailure> {
        let checked = match self.flush().await {
            Ok(()) => match self.id {
                None => return Ok(Vec::new()),
                Some(id) => self.store.check_import(id, &self.directory).await,
            },
            Err(e) => Err(store_failure(e)),
        };
        if let Err(e) = checked {
            self.abandon().await;
            return Err(e);
        }
        let id = self.id.ok_or_else(|| store_failure(StoreError::Corrupt("import without an id".into())))?;
        self.store.heartbeat(self.store.db(), id, Some("applying")).await.map_err(store_failure)?;
        self.store.apply_import(id, &self.directory, now, &mut on_row).await
    }

    /// Drops what was staged. If even that fails, the import is left to be cleaned up
    /// as abandoned.
    pub async fn abandon(self) {
        if let Some(id) = self.id
            && let Err(e) = self.store.discard_import(id).await
        {
            tracing::warn!(import = id, error = %e, "could not drop a rejected import; it is dropped once abandoned");
        }
    }
}

/// Heartbeats are wall-clock time, shared by every process on the database.
fn heartbeat_now() -> Millis {
    SystemClock.now()
}

/// `INSERT INTO <into> VALUES ($1, ..), ..` for `rows` rows of `width` values.
fn insert_sql(into: &str, width: usize, rows: usize) -> String {
    let mut sql = format!("INSERT INTO {into} VALUES ");
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..width {
            if column > 0 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&(row * width + column + 1).to_string());
        }
        sql.push(')');
    }
    sql
}

fn get<T: sea_orm::TryGetable>(row: &QueryResult, column: &str) -> Result<T, ImportFailure> {
    row.try_get("", column).map_err(store_failure)
}

fn line(row: &QueryResult, column: &str) -> Result<u64, ImportFailure> {
    Ok(get::<i64>(row, column)? as u64)
}

fn staged_record(row: &QueryResult, directory: &str) -> Result<RecordUpsert, ImportFailure> {
    let corrupt = |e: serde_json::Error| store_failure(StoreError::Corrupt(e.to_string()));
    Ok(RecordUpsert {
        directory: directory.to_string(),
        key: get(row, "key")?,
        fields: serde_json::from_str(&get::<String>(row, "fields")?).map_err(corrupt)?,
        roles: json_list(&get::<String>(row, "roles")?).map_err(store_failure)?,
        active: get(row, "active")?,
        identifiers: serde_json::from_str(&get::<String>(row, "identifiers")?).map_err(corrupt)?,
    })
}

/// The next apply batch: halved after a batch that held the writer too long, doubled
/// after one that took under half the time.
fn next_batch(rows: i64, took: std::time::Duration) -> i64 {
    let next = match took {
        t if t > APPLY_HOLD => rows / 2,
        t if t < APPLY_HOLD / 2 => rows * 2,
        _ => rows,
    };
    next.clamp(*APPLY_BATCH.start(), *APPLY_BATCH.end())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn apply_batches_follow_how_long_the_writer_was_held() {
        let hold = APPLY_HOLD;
        assert_eq!(next_batch(100, hold * 8), 50, "too long: halved");
        assert_eq!(next_batch(100, hold / 4), 200, "quick: doubled");
        assert_eq!(next_batch(100, hold * 3 / 4), 100, "about right: kept");
        let (floor, ceiling) = (*APPLY_BATCH.start(), *APPLY_BATCH.end());
        assert_eq!(next_batch(floor, Duration::from_secs(3)), floor, "never below the floor");
        assert_eq!(next_batch(ceiling, Duration::ZERO), ceiling, "never above the ceiling");
    }
}
