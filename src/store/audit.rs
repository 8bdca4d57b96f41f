use sea_orm::{ActiveModelTrait, ActiveValue::NotSet, IntoActiveModel};
use serde_json::Value;

use super::{Store, StoreResult};
use crate::clock::Millis;

/// One security event. `detail` never carries codes, secrets or tokens.
#[derive(Debug, Clone, Default)]
pub struct AuditEvent {
    pub kind: &'static str,
    pub client_id: Option<String>,
    pub subject: Option<String>,
    pub conversation: Option<String>,
    pub detail: Value,
}

impl Store {
    pub async fn append_audit(&self, event: AuditEvent, at: Millis) -> StoreResult<()> {
        let mut model = entity::audit_event::Model {
            id: 0,
            at,
            kind: event.kind.to_string(),
            client_id: event.client_id,
            subject: event.subject,
            conversation: event.conversation,
            detail: if event.detail.is_null() { "{}".into() } else { event.detail.to_string() },
        }
        .into_active_model();
        model.id = NotSet;
        model.insert(self.db()).await?;
        Ok(())
    }

    /// The newest events first, optionally of one kind.
    pub async fn audit_events(&self, kind: Option<&str>, limit: u64) -> StoreResult<Vec<entity::audit_event::Model>> {
        use entity::audit_event::Column;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
        let mut query = entity::audit_event::Entity::find().order_by_desc(Column::Id).limit(limit);
        if let Some(kind) = kind {
            query = query.filter(Column::Kind.eq(kind));
        }
        Ok(query.all(self.db()).await?)
    }
}
