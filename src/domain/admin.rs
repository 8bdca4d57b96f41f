//! What operators do, through the admin API or the CLI alike: bot clients, sessions
//! and the audit trail. (Records are in [`super::records`].)
use std::collections::HashMap;
use std::collections::hash_map::Entry;

use serde::Serialize;

use super::ending::{end_session_by_id, end_sessions_of};
use crate::clock::{Millis, rfc3339};
use crate::config::Config;
use crate::crypto::{HashError, Hasher, random_token};
use crate::store::audit::AuditFilter;
use crate::store::clients::{ClientChange, StoredClient};
use crate::store::sessions::{Lifetime, SessionsOf};
use crate::store::{Store, StoreError};

pub const MAX_AUDIT_PAGE: u64 = 500;
const MAX_SESSIONS_LISTED: u64 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    /// Invalid because it names a flow or directory the configuration lacks.
    #[error("{0}")]
    Unconfigured(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Hash(#[from] HashError),
}

/// The operator's tools over one store, at one moment.
pub struct Admin<'a> {
    pub store: &'a Store,
    pub config: &'a Config,
    /// The client-secret hasher.
    pub hasher: &'a Hasher,
    pub now: Millis,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClientView {
    pub client_id: String,
    pub flows: Vec<String>,
    pub scopes: Vec<String>,
    pub active: bool,
    /// Declared in the configuration file (then changed only there).
    pub configured: bool,
    pub created_at: String,
}

/// A new secret, shown once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClientSecret {
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionRow {
    pub id: String,
    pub client_id: String,
    /// `directory/key` of the person; null once the record is deleted.
    pub subject: Option<String>,
    pub channel: String,
    pub flow: String,
    pub acr: String,
    pub alive: bool,
    pub auth_time: String,
    pub last_activity: String,
    pub expires_at: String,
    pub ended_at: Option<String>,
    pub end_reason: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditRow {
    pub id: i64,
    pub at: String,
    pub kind: String,
    pub client_id: Option<String>,
    pub subject: Option<String>,
    pub conversation: Option<String>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// Whose sessions: exactly one of a subject (`directory/key`) or a client.
pub struct Whose<'a> {
    pub subject: Option<&'a str>,
    pub client_id: Option<&'a str>,
}

impl Admin<'_> {
    pub async fn create_client(
        &self,
        id: &str,
        flows: Vec<String>,
        scopes: Vec<String>,
    ) -> Result<ClientSecret, AdminError> {
        if let Some(problem) = super::clients::client_id_problem(id) {
            return Err(AdminError::Invalid(problem.into()));
        }
        if let Some(flow) = flows.iter().find(|f| self.config.flow(f).is_none()) {
            return Err(AdminError::Unconfigured(format!("no flow named `{flow}` is configured")));
        }
        if let Some(scope) = scopes.iter().find(|s| s.is_empty() || s.len() > 64 || s.contains(char::is_whitespace)) {
            return Err(AdminError::Invalid(format!("scope {scope:?} must be 1 to 64 characters without spaces")));
        }
        self.not_configured(id)?;
        let secret = random_token(32);
        let secret_hash = self.hasher.hash(secret.clone()).await?;
        let client = StoredClient { id: id.to_string(), secret_hash, flows, scopes, active: true };
        if !self.store.create_client(&client, self.now).await? {
            return Err(AdminError::Conflict(format!("client `{id}` already exists")));
        }
        Ok(ClientSecret { client_id: id.to_string(), client_secret: secret })
    }

    pub async fn list_clients(&self) -> Result<Vec<ClientView>, AdminError> {
        let clients = self.store.list_clients().await?;
        Ok(clients
            .into_iter()
            .map(|(c, created_at)| ClientView {
                configured: self.config.clients.iter().any(|d| d.id == c.id),
                client_id: c.id,
                flows: c.flows,
                scopes: c.scopes,
                active: c.active,
                created_at: rfc3339(created_at),
            })
            .collect())
    }

    /// Disables the client and ends its sessions.
    pub async fn disable_client(&self, id: &str) -> Result<(), AdminError> {
        self.not_configured(id)?;
        if !self.store.update_client(id, ClientChange::Disable).await? {
            return Err(AdminError::NotFound(format!("no client `{id}`")));
        }
        end_sessions_of(self.store, &SessionsOf::Client(id.to_string()), "client_disabled", self.now).await?;
        Ok(())
    }

    pub async fn rotate_secret(&self, id: &str) -> Result<ClientSecret, AdminError> {
        self.not_configured(id)?;
        let secret = random_token(32);
        let hash = self.hasher.hash(secret.clone()).await?;
        if !self.store.update_client(id, ClientChange::Secret(hash)).await? {
            return Err(AdminError::NotFound(format!("no client `{id}`")));
        }
        Ok(ClientSecret { client_id: id.to_string(), client_secret: secret })
    }

    /// A client declared in the file is rewritten from it at every start: changing it
    /// here would silently come undone.
    fn not_configured(&self, id: &str) -> Result<(), AdminError> {
        if self.config.clients.iter().any(|c| c.id == id) {
            return Err(AdminError::Conflict(format!(
                "client `{id}` is declared in the configuration file; change it there"
            )));
        }
        Ok(())
    }

    pub async fn list_sessions(&self, whose: Whose<'_>, include_ended: bool) -> Result<Vec<SessionRow>, AdminError> {
        let whose = self.whose(whose).await?;
        let sessions = self.store.list_sessions(&whose, include_ended, MAX_SESSIONS_LISTED).await?;
        let mut subjects = HashMap::new();
        for session in &sessions {
            if let Entry::Vacant(slot) = subjects.entry(session.record_id) {
                slot.insert(self.store.find_record(session.record_id).await?.map(|r| r.subject()));
            }
        }
        Ok(sessions
            .into_iter()
            .map(|s| SessionRow {
                subject: subjects.get(&s.record_id).cloned().flatten(),
                alive: s.is_alive(self.now),
                auth_time: rfc3339(s.auth_time),
                last_activity: rfc3339(s.last_activity),
                expires_at: rfc3339(s.ends_at()),
                ended_at: s.ended_at.map(rfc3339),
                id: s.id,
                client_id: s.client_id,
                channel: s.channel,
                flow: s.flow,
                acr: s.acr,
                end_reason: s.end_reason,
            })
            .collect())
    }

    pub async fn revoke_session(&self, id: &str) -> Result<(), AdminError> {
        if !end_session_by_id(self.store, id, "revoked_by_operator", self.now).await? {
            return Err(AdminError::NotFound(format!("no open session `{id}`")));
        }
        Ok(())
    }

    /// Ends every open session of a subject or client; returns how many.
    pub async fn revoke_sessions(&self, whose: Whose<'_>) -> Result<usize, AdminError> {
        let whose = self.whose(whose).await?;
        Ok(end_sessions_of(self.store, &whose, "revoked_by_operator", self.now).await?)
    }

    async fn whose(&self, whose: Whose<'_>) -> Result<SessionsOf, AdminError> {
        match (whose.subject, whose.client_id) {
            (Some(subject), None) => {
                let (directory, key) = subject
                    .split_once('/')
                    .ok_or_else(|| AdminError::Invalid("subject must be directory/key".into()))?;
                let record = self.store.find_record_by_key(directory, key).await?;
                let record = record.ok_or_else(|| AdminError::NotFound(format!("no record `{subject}`")))?;
                Ok(SessionsOf::Record(record.id))
            }
            (None, Some(client)) => Ok(SessionsOf::Client(client.to_string())),
            _ => Err(AdminError::Invalid("name exactly one of subject or client_id".into())),
        }
    }

    /// One page of audit events, newest first, and the `before` of the next page.
    pub async fn audit(&self, filter: &AuditFilter, limit: u64) -> Result<(Vec<AuditRow>, Option<i64>), AdminError> {
        let limit = limit.clamp(1, MAX_AUDIT_PAGE);
        let events = self.store.query_audit(filter, limit).await?;
        let next = (events.len() as u64 == limit).then(|| events.last().map(|e| e.id)).flatten();
        let rows = events
            .into_iter()
            .map(|e| AuditRow {
                id: e.id,
                at: rfc3339(e.at),
                detail: serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null),
                kind: e.kind,
                client_id: e.client_id,
                subject: e.subject,
                conversation: e.conversation,
            })
            .collect();
        Ok((rows, next))
    }
}

/// An RFC 3339 time given to a filter named `name`.
pub fn parse_time(name: &str, text: &str) -> Result<Millis, AdminError> {
    let time = humantime::parse_rfc3339_weak(text)
        .map_err(|_| AdminError::Invalid(format!("{name} must be an RFC 3339 time like 2026-11-22T10:00:00Z")))?;
    Ok(crate::clock::millis(time.duration_since(std::time::UNIX_EPOCH).unwrap_or_default()))
}
