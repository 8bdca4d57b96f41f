//! Database pool use, read when `GET /metrics` is scraped.
use std::sync::RwLock;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use sea_orm::{DatabaseConnection, DbBackend};

use crate::store::Store;

#[derive(Default)]
pub(super) struct PoolGauges {
    store: RwLock<Option<Store>>,
    open: Family<Vec<(&'static str, &'static str)>, Gauge>,
    idle: Family<Vec<(&'static str, &'static str)>, Gauge>,
    max: Family<Vec<(&'static str, &'static str)>, Gauge>,
}

struct PoolUse {
    open: u32,
    idle: usize,
    max: u32,
}

impl PoolGauges {
    pub(super) fn register(&self, registry: &mut Registry) {
        registry.register("db_pool_connections", "Open database connections, by pool", self.open.clone());
        registry.register("db_pool_idle_connections", "Idle database connections, by pool", self.idle.clone());
        registry.register("db_pool_max_connections", "Largest size of each database pool", self.max.clone());
    }

    pub(super) fn watch(&self, store: &Store) {
        *self.store.write().unwrap_or_else(|e| e.into_inner()) = Some(store.clone());
    }

    pub(super) fn refresh(&self) {
        let guard = self.store.read().unwrap_or_else(|e| e.into_inner());
        let Some(store) = guard.as_ref() else { return };
        let mut pools = vec![("writer", store.db())];
        // PostgreSQL reads and writes share one pool; SQLite reads have their own.
        if store.db().get_database_backend() == DbBackend::Sqlite {
            pools.push(("reader", store.reader()));
        }
        for (name, db) in pools {
            let Some(pool) = pool_use(db) else { continue };
            let labels = vec![("pool", name)];
            self.open.get_or_create(&labels).set(i64::from(pool.open));
            self.idle.get_or_create(&labels).set(i64::try_from(pool.idle).unwrap_or(i64::MAX));
            self.max.get_or_create(&labels).set(i64::from(pool.max));
        }
    }
}

fn pool_use(db: &DatabaseConnection) -> Option<PoolUse> {
    match db.get_database_backend() {
        DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            Some(PoolUse { open: pool.size(), idle: pool.num_idle(), max: pool.options().get_max_connections() })
        }
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            Some(PoolUse { open: pool.size(), idle: pool.num_idle(), max: pool.options().get_max_connections() })
        }
        _ => None,
    }
}
