//! Persistence. Every counter that guards against guessing changes in one conditional
//! statement, so the rules hold with several doorman processes on one database.
pub mod audit;
pub mod challenges;
pub mod clients;
pub mod conversations;
pub mod dialogs;
pub mod endings;
pub mod guards;
pub mod imports;
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

/// Whether `error`, or an error it was caused by, says that the database could not be
/// reached or no connection came free in time: worth a retry, and not the request's
/// fault nor a bug.
pub fn unavailable(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        let db = match e.downcast_ref::<StoreError>() {
            Some(StoreError::Db(db)) => Some(db),
            _ => e.downcast_ref::<DbErr>(),
        };
        if db.is_some_and(db_unavailable) || e.downcast_ref::<sea_orm::sqlx::Error>().is_some_and(sqlx_unavailable) {
            return true;
        }
        next = e.source();
    }
    false
}

fn db_unavailable(error: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => sqlx_unavailable(e),
        _ => false,
    }
}

fn sqlx_unavailable(error: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error as E;
    match error {
        E::PoolTimedOut | E::PoolClosed | E::Io(_) | E::Tls(_) | E::WorkerCrashed => true,
        E::Database(db) => db.code().is_some_and(|code| unavailable_code(&code)),
        _ => false,
    }
}

/// PostgreSQL: class 08 (connection exception), 57P (shutdown, terminated by an
/// administrator), 3D000 (the database is gone). SQLite (numeric): BUSY, LOCKED,
/// IOERR, CANTOPEN, in any extended form.
fn unavailable_code(code: &str) -> bool {
    if code.starts_with("08") || code.starts_with("57P") || code == "3D000" {
        return true;
    }
    code.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6 | 10 | 14))
}

#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// Where plain reads go. For SQLite a separate read-only pool: in WAL mode readers
    /// never wait for the writer. For PostgreSQL the same pool.
    reader: DatabaseConnection,
    /// Sessions ended recently, for the proxy's revocation check.
    ended: Arc<endings::EndedSessions>,
    /// Counts this process's writes to records, so that what caches a record can tell
    /// it may have changed (see `domain::live`).
    record_writes: Arc<std::sync::atomic::AtomicU64>,
    /// Where this process's last audit append left the chain (SQLite's one-trip append).
    audit_head_hint: Arc<audit::HeadHint>,
    /// Conversation ids by address, as read or written: the rows never change.
    conversations: Arc<quick_cache::sync::Cache<crate::domain::Address, String>>,
}

impl Store {
    pub async fn connect(config: &crate::config::Database) -> StoreResult<Self> {
        let (url, options) = (config.url.as_str(), |url: &str| options(url, config.acquire_timeout));
        if !url.starts_with("sqlite:") {
            let db = Database::connect(options(url)).await?;
            return Ok(Self::new(db.clone(), db));
        }
        // SQLite allows one writer at a time, and a writer that finds the lock taken
        // sleeps in growing steps. One writing connection queues writers in the pool
        // instead, where a waiter wakes the moment the connection is free.
        let mut writer = options(url);
        writer.max_connections(1).min_connections(1);
        let db = Database::connect(writer).await?;
        if url.contains(":memory:") || url.contains("mode=memory") {
            return Ok(Self::new(db.clone(), db));
        }
        let mut reader = options(url);
        reader.max_connections(4).map_sqlx_sqlite_opts(|o| o.read_only(true));
        Ok(Self::new(db, Database::connect(reader).await?))
    }

    fn new(db: DatabaseConnection, reader: DatabaseConnection) -> Self {
        Self {
            db,
            reader,
            ended: Arc::default(),
            record_writes: Arc::default(),
            audit_head_hint: Arc::default(),
            conversations: Arc::new(quick_cache::sync::Cache::new(CONVERSATIONS_KEPT)),
        }
    }

    pub async fn migrate(&self) -> StoreResult<()> {
        Ok(Migrator::up(&self.db, None).await?)
    }

    /// How many record writes this process has begun: a cache of records read while
    /// this stayed the same holds nothing this process changed.
    pub fn record_writes(&self) -> u64 {
        self.record_writes.load(std::sync::atomic::Ordering::Acquire)
    }

    fn record_written(&self) {
        self.record_writes.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// The connection for writes and transactions.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The connection for reads that need no transaction.
    pub fn reader(&self) -> &DatabaseConnection {
        &self.reader
    }

    /// Whether the database answers within `within`.
    pub async fn ping(&self, within: Duration) -> bool {
        matches!(tokio::time::timeout(within, self.db.ping()).await, Ok(Ok(())))
    }

    /// A statement with `$1`-style placeholders; both SQLite and PostgreSQL accept them.
    pub(crate) fn sql(&self, sql: &str, values: impl IntoIterator<Item = Value>) -> Statement {
        Statement::from_sql_and_values(self.db.get_database_backend(), sql, values)
    }

    pub fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }
}

/// Conversation ids kept in memory, at most (about 150 bytes each).
const CONVERSATIONS_KEPT: usize = 16_384;

/// See [`options`]: a pooled network connection idle this long is pinged before use.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(30);

/// Both timeouts are short: a request that cannot get the database soon is better
/// answered 503 at once than after a long wait (see `unavailable`).
fn options(url: &str, acquire_timeout: Duration) -> ConnectOptions {
    let mut options = ConnectOptions::new(url.to_string());
    options.sqlx_logging(false).acquire_timeout(acquire_timeout).connect_timeout(acquire_timeout);
    // sqlx pings a connection on every checkout by default: one more round trip per
    // statement (for SQLite, a hop to the connection's thread and back, as dear as the
    // statement itself). A network connection is pinged only after it sat idle long
    // enough for a server restart or a firewall to drop it. A SQLite connection is a
    // file this process opened, which nothing outside can close, and a crashed worker
    // thread is still caught by the ping sqlx sends when a connection is released.
    if !url.starts_with("sqlite:") {
        options.test_before_acquire_if_idle_for(PING_IF_IDLE_FOR);
        return options;
    }
    options.test_before_acquire(false);
    // WAL with synchronous=NORMAL cannot corrupt the database; a power cut (not a
    // crash of doorman) may lose the last commits. See README "Durability".
    options.map_sqlx_sqlite_opts(move |o| {
        o.busy_timeout(acquire_timeout)
            .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
            .foreign_keys(true)
    });
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
