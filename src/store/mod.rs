//! Persistence. Every counter that guards against guessing changes in one conditional
//! statement, so the rules hold with several doorman processes on one database.
pub mod audit;
pub mod challenges;
pub mod clients;
pub mod conversations;
pub mod guards;
pub mod records;
pub mod sessions;
pub mod tokens;

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
}

impl Store {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let mut options = ConnectOptions::new(url.to_string());
        options.sqlx_logging(false).acquire_timeout(Duration::from_secs(10));
        if url.starts_with("sqlite:") {
            // One writer at a time is SQLite's rule; waiting for the lock beats failing.
            options.map_sqlx_sqlite_opts(|o| {
                o.busy_timeout(Duration::from_secs(10))
                    .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .foreign_keys(true)
            });
        }
        Ok(Self { db: Database::connect(options).await? })
    }

    pub async fn migrate(&self) -> StoreResult<()> {
        Ok(Migrator::up(&self.db, None).await?)
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
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

pub(crate) fn json_list(text: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

pub(crate) async fn execute(db: &impl ConnectionTrait, stmt: Statement) -> StoreResult<u64> {
    Ok(db.execute_raw(stmt).await?.rows_affected())
}
