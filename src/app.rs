//! Building the application from a configuration and serving it.
use std::path::Path;
use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::config::{Config, ValidConfig};
use crate::crypto::{Hasher, HasherParams};
use crate::delivery::Deliveries;
use crate::dialog::Dialogs;
use crate::domain::{Auth, ClientAuth};
use crate::keys::{KeyRing, generate_key_file, load_key_files};
use crate::proxy::Proxy;
use crate::store::Store;
use crate::store::audit::AuditLog;
use crate::telemetry::Metrics;

pub struct AppState {
    pub auth: Auth,
    pub dialogs: Dialogs,
    pub clients: ClientAuth,
    pub proxy: Proxy,
    pub metrics: Arc<Metrics>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("keys: {0}")]
    Keys(#[from] crate::keys::KeyFileError),
    #[error("{0}")]
    Setup(String),
}

/// What the embedding code may swap: the clock and the delivery senders.
pub struct Edges {
    pub clock: Arc<dyn Clock>,
    pub deliveries: Option<Deliveries>,
}

impl Default for Edges {
    fn default() -> Self {
        Self { clock: Arc::new(SystemClock), deliveries: None }
    }
}

impl AppState {
    /// Connects, migrates, loads keys (generating one if there is none) and syncs the
    /// configured clients.
    pub async fn build(config: ValidConfig, edges: Edges) -> Result<Arc<Self>, StartError> {
        let store = Store::connect(&config.database).await?;
        store.migrate().await?;
        // An import a dead process had accepted is finished; one it was staging is dropped.
        crate::domain::records::recover(&store, edges.clock.now())
            .await
            .map_err(|e| StartError::Setup(e.to_string()))?;
        let keys = load_or_create_keys(&config)?;
        let codes = Hasher::new(HasherParams::CODES, config.otp.pepper.as_ref().map(|p| p.expose()))
            .map_err(|e| StartError::Setup(e.to_string()))?;
        let deliveries = match edges.deliveries {
            Some(d) => d,
            None => Deliveries::from_config(&config).map_err(StartError::Setup)?,
        };
        if Deliveries::uses_console(&config) {
            tracing::warn!("console delivery is on: codes are printed to stdout. For development only.");
        }
        if !config.delivery.test_codes.is_empty() {
            tracing::warn!(
                count = config.delivery.test_codes.len(),
                "[delivery.test_codes] is set: those destinations get no code and their fixed code verifies"
            );
        }
        let mut clients = ClientAuth::new(store.clone()).map_err(|e| StartError::Setup(e.to_string()))?;
        clients.sync_config_clients(&config, edges.clock.now()).await.map_err(|e| StartError::Setup(e.to_string()))?;
        let metrics = Metrics::new(&config);
        metrics.watch_pool(&store);
        let audit_log = AuditLog::start_observed(store.clone(), Some(metrics.clone()));
        let proxy = Proxy::new(&config, audit_log.clone(), edges.clock.clone(), &metrics).map_err(StartError::Setup)?;
        // A token of a session ended up to `access_ttl` ago may still be unexpired.
        store.poll_ended_sessions(edges.clock.now(), config.tokens.access_ttl).await?;
        store.follow_ended_sessions(edges.clock.clone(), config.tokens.access_ttl);
        let dialogs = Dialogs::new(&config).map_err(StartError::Setup)?;
        let auth = Auth {
            config: Arc::new(config),
            store,
            clock: edges.clock,
            codes,
            keys: Arc::new(keys),
            deliveries,
            audit_log,
            decoys: Default::default(),
            live: Default::default(),
        };
        Ok(Arc::new(Self { auth, dialogs, clients, proxy, metrics }))
    }

    /// Writes out every audit event recorded so far, the proxy's counted ones included.
    pub async fn flush_audit(&self) {
        self.proxy.audit.flush().await;
        self.auth.audit_log.flush().await;
    }
}

fn load_or_create_keys(config: &Config) -> Result<KeyRing, StartError> {
    let dir = Path::new(&config.keys.dir);
    let mut keys = load_key_files(dir)?;
    if !keys.iter().any(|k| k.algorithm == crate::keys::jwt_algorithm(config.keys.algorithm)) {
        let kid = generate_key_file(dir, config.keys.algorithm)?;
        tracing::warn!(
            "no {:?} signing key in {}: generated {kid}.pem. Fine for development; in production create keys \
             with `doorman keys generate` and keep them out of version control.",
            config.keys.algorithm,
            dir.display()
        );
        keys = load_key_files(dir)?;
    }
    Ok(KeyRing::new(keys, config.keys.algorithm)?)
}

pub use crate::server::serve;
