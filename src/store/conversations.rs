use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{Store, StoreResult, execute};
use crate::clock::Millis;
use crate::domain::Address;

/// A conversation's id, and whether this call created its row: then nothing else (no
/// session, no challenge) can belong to it yet.
pub struct Opened {
    pub id: String,
    pub created: bool,
}

impl Store {
    /// The conversation's id, if it has one. A conversation's row is never changed or
    /// deleted once written, so an id once read is kept (see `Store::conversations`):
    /// each login step needs it, and a read from the database is a hop to its thread.
    pub async fn find_conversation(&self, address: &Address) -> StoreResult<Option<String>> {
        use entity::conversation::Column;
        if let Some(id) = self.conversations.get(address) {
            return Ok(Some(id));
        }
        let found = entity::conversation::Entity::find()
            .filter(Column::ClientId.eq(address.client_id.as_str()))
            .filter(Column::Channel.eq(address.channel.as_str()))
            .filter(Column::ExternalId.eq(address.external_id.as_str()))
            .one(self.reader())
            .await?
            .map(|m| m.id);
        if let Some(id) = &found {
            self.conversations.insert(address.clone(), id.clone());
        }
        Ok(found)
    }

    /// The conversation's id, creating the row on first use. Racing creators agree on
    /// one row through the unique address index.
    ///
    /// Not in memory, the row is inserted before it is looked for: a new conversation
    /// (the usual miss) then costs one statement, not a read and then the insert. One that
    /// exists (after a restart, or opened by a replica) costs the insert that does
    /// nothing and then the read.
    pub async fn open_conversation(&self, address: &Address, now: Millis) -> StoreResult<Opened> {
        if let Some(id) = self.conversations.get(address) {
            return Ok(Opened { id, created: false });
        }
        let id = crate::crypto::random_token(16);
        let stmt = self.sql(
            "INSERT INTO conversations (id, client_id, channel, external_id, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (client_id, channel, external_id) DO NOTHING",
            [
                id.clone().into(),
                address.client_id.clone().into(),
                address.channel.clone().into(),
                address.external_id.clone().into(),
                now.into(),
            ],
        );
        if execute(self.db(), stmt).await? == 1 {
            self.conversations.insert(address.clone(), id.clone());
            return Ok(Opened { id, created: true });
        }
        let id = self.find_conversation(address).await?;
        Ok(Opened { id: id.ok_or_else(|| super::StoreError::Corrupt("conversation vanished".into()))?, created: false })
    }
}

impl Store {
    /// The address of a conversation known by its id.
    pub async fn conversation_address(&self, id: &str) -> StoreResult<Option<Address>> {
        Ok(entity::conversation::Entity::find_by_id(id.to_string()).one(self.db()).await?.map(|m| Address {
            client_id: m.client_id,
            channel: m.channel,
            external_id: m.external_id,
        }))
    }
}
