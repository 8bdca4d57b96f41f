//! Persistence. Every counter that guards against guessing changes in one conditional
//! statement, so the rules hold with several doorman processes on one database.
pub mod audit;
pub mod challenges;
pub mod clients;
pub mod conversations;
pub mod dialogs;
pub mod endings;
pub mod guards;
pub mod records;
pub mod samples;
pub mod secrets;
pub mod send_counters;
pub mod sessions;
pub mod tokens;

use std::sync::Arc;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement, Value};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] DbErr),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// Where plain reads go. For SQLite a separate read-only pool: in WAL mode readers
    /// never wait for the writer. For PostgreSQL the same pool.
    reader: DatabaseConnection,
    /// Sessions ended recently, for the proxy's revocation check.
    ended: Arc<endings::EndedSessions>,
}

impl Store {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        if !url.starts_with("sqlite:") {
            let db = Database::connect(options(url)).await?;
            return Ok(Self { reader: db.clone(), db, ended: Arc::default() });
        }
        // SQLite allows one writer at a time, and a writer that finds the lock taken
        // sleeps in growing steps. One writing connection queues writers in the pool
        // instead, where a waiter wakes the moment the connection is free.
        let mut writer = options(url);
        writer.max_connections(1).min_connections(1);
        let db = Database::connect(writer).await?;
        if url.contains(":memory:") || url.contains("mode=memory") {
            return Ok(Self { reader: db.clone(), db, ended: Arc::default() });
        }
        let mut reader = options(url);
        reader.max_connections(4).map_sqlx_sqlite_opts(|o| o.read_only(true));
        Ok(Self { reader: Database::connect(reader).await?, db, ended: Arc::default() })
    }

    pub async fn migrate(&self) -> StoreResult<()> {
        Ok(Migrator::up(&self.db, None).await?)
    }

    /// The connection for writes and transactions.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The connection for reads that need no transaction.
    pub fn reader(&self) -> &DatabaseConnection {
        &self.reader
    }

    pub async fn ping(&self) -> bool {
        self.db.ping().await.is_ok()
    }

    /// A statement with `$1`-style placeholders; both SQLite and PostgreSQL accept them.
    pub(crate) fn sql(&self, sql: &str, values: impl IntoIterator<Item = Value>) -> Statement {
        Statement::from_sql_and_values(self.db.get_database_backend(), sql, values)
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }
}

fn options(url: &str) -> ConnectOptions {
    let mut options = ConnectOptions::new(url.to_string());
    options.sqlx_logging(false).acquire_timeout(Duration::from_secs(10));
    if url.starts_with("sqlite:") {
        // WAL with synchronous=NORMAL cannot corrupt the database; a power cut (not a
        // crash of doorman) may lose the last commits. See README "Durability".
        options.map_sqlx_sqlite_opts(|o| {
            o.busy_timeout(Duration::from_secs(10))
                .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .foreign_keys(true)
        });
    }
    options
}

pub(crate) fn json_list(text: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

pub(crate) async fn execute(db: &impl ConnectionTrait, stmt: Statement) -> StoreResult<u64> {
    Ok(db.execute_raw(stmt).await?.rows_affected())
}
