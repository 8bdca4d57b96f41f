//! The audit trail: a hash chain of security events (DESIGN.md §12). Events are
//! committed before the answer that they record ([`AuditLog`]), each is linked to the
//! one before ([`chain`]), and [`verify`] walks the chain to find what does not fit.
pub mod chain;
pub mod checkpoints;
pub mod export;
mod pg_append;
mod sqlite_append;
pub mod verify;
mod writer;

use serde_json::Value;

use super::{Store, StoreResult};
use crate::clock::Millis;
pub(crate) use chain::HeadHint;
pub use writer::{AuditError, AuditLog, AuditObserver, Touch};

/// The name `domain::error` knows the writer's error by.
pub type AuditStopped = AuditError;

/// One security event. `detail` never carries codes, secrets or tokens.
#[derive(Debug, Clone, Default)]
pub struct AuditEvent {
    pub kind: &'static str,
    pub client_id: Option<String>,
    pub subject: Option<String>,
    pub conversation: Option<String>,
    pub detail: Value,
}

/// Which audit events to read: every filter is optional; newest first, `before` an id.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub subject: Option<String>,
    pub client_id: Option<String>,
    pub kind: Option<String>,
    pub since: Option<Millis>,
    pub until: Option<Millis>,
    pub before: Option<i64>,
}

impl Store {
    pub async fn query_audit(&self, filter: &AuditFilter, limit: u64) -> StoreResult<Vec<entity::audit_event::Model>> {
        use entity::audit_event::Column;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
        let mut query = entity::audit_event::Entity::find().order_by_desc(Column::Id).limit(limit);
        if let Some(subject) = &filter.subject {
            query = query.filter(Column::Subject.eq(subject.as_str()));
        }
        if let Some(client) = &filter.client_id {
            query = query.filter(Column::ClientId.eq(client.as_str()));
        }
        if let Some(kind) = &filter.kind {
            query = query.filter(Column::Kind.eq(kind.as_str()));
        }
        if let Some(since) = filter.since {
            query = query.filter(Column::At.gte(since));
        }
        if let Some(until) = filter.until {
            query = query.filter(Column::At.lt(until));
        }
        if let Some(before) = filter.before {
            query = query.filter(Column::Id.lt(before));
        }
        Ok(query.all(self.db()).await?)
    }
}
