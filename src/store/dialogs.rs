use sea_orm::EntityTrait;

use super::{Store, StoreError, StoreResult, execute};
use crate::clock::Millis;
use crate::domain::memory::{Awaiting, DialogMemory};

impl TryFrom<entity::dialog::Model> for DialogMemory {
    type Error = StoreError;

    fn try_from(m: entity::dialog::Model) -> StoreResult<Self> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("dialog of {}: {what}", m.conversation_id));
        Ok(Self {
            awaiting: Awaiting::parse(&m.awaiting).ok_or_else(|| corrupt("awaiting"))?,
            prompts_used: u32::try_from(m.prompts_used).map_err(|_| corrupt("prompts_used"))?,
            silences: u32::try_from(m.silences).map_err(|_| corrupt("silences"))?,
            flow: m.flow,
            intent: m.intent,
            locale: m.locale,
        })
    }
}

impl Store {
    pub async fn dialog_memory(&self, conversation_id: &str) -> StoreResult<Option<DialogMemory>> {
        let row = entity::dialog::Entity::find_by_id(conversation_id.to_string()).one(self.db()).await?;
        row.map(DialogMemory::try_from).transpose()
    }

    /// One statement: the notes are replaced whole, never half-written.
    pub async fn save_dialog_memory(
        &self,
        conversation_id: &str,
        memory: &DialogMemory,
        now: Millis,
    ) -> StoreResult<()> {
        let stmt = self.sql(
            "INSERT INTO dialogs (conversation_id, flow, awaiting, prompts_used, silences, intent, locale, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (conversation_id) DO UPDATE SET flow = excluded.flow, awaiting = excluded.awaiting,
               prompts_used = excluded.prompts_used, silences = excluded.silences, intent = excluded.intent,
               locale = excluded.locale, updated_at = excluded.updated_at",
            [
                conversation_id.into(),
                memory.flow.clone().into(),
                memory.awaiting.as_str().into(),
                (memory.prompts_used.min(i32::MAX as u32) as i32).into(),
                (memory.silences.min(i32::MAX as u32) as i32).into(),
                memory.intent.clone().into(),
                memory.locale.clone().into(),
                now.into(),
            ],
        );
        execute(self.db(), stmt).await.map(drop)
    }

    pub async fn forget_dialog_memory(&self, conversation_id: &str) -> StoreResult<()> {
        let stmt = self.sql("DELETE FROM dialogs WHERE conversation_id = $1", [conversation_id.into()]);
        execute(self.db(), stmt).await.map(drop)
    }
}
