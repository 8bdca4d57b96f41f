use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{Store, StoreResult, execute};
use crate::clock::Millis;

/// `(client, channel, conversation id)`: a conversation belongs to the bot client that
/// opened it, so no client can see or act on another's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub client_id: String,
    pub channel: String,
    pub external_id: String,
}

const MAX_CHANNEL_CHARS: usize = 32;
const MAX_CONVERSATION_ID_CHARS: usize = 256;

impl Address {
    /// The conversation address, checked: channels are short lowercase names, ids are
    /// printable and bounded.
    pub fn checked(client_id: &str, channel: String, id: String) -> Result<Self, &'static str> {
        let channel_ok = !channel.is_empty()
            && channel.len() <= MAX_CHANNEL_CHARS
            && channel.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !channel_ok {
            return Err("channel must be 1 to 32 characters of a-z, 0-9, - and _");
        }
        if id.is_empty() || id.chars().count() > MAX_CONVERSATION_ID_CHARS || id.chars().any(char::is_control) {
            return Err("conversation id must have 1 to 256 printable characters");
        }
        Ok(Address { client_id: client_id.to_string(), channel, external_id: id })
    }

    pub fn label(&self) -> String {
        format!("{}:{}", self.channel, self.external_id)
    }
}

impl Store {
    pub async fn find_conversation(&self, address: &Address) -> StoreResult<Option<String>> {
        use entity::conversation::Column;
        Ok(entity::conversation::Entity::find()
            .filter(Column::ClientId.eq(address.client_id.as_str()))
            .filter(Column::Channel.eq(address.channel.as_str()))
            .filter(Column::ExternalId.eq(address.external_id.as_str()))
            .one(self.reader())
            .await?
            .map(|m| m.id))
    }

    /// The conversation's id, creating the row on first use. Racing creators agree on
    /// one row through the unique address index.
    pub async fn open_conversation(&self, address: &Address, now: Millis) -> StoreResult<String> {
        if let Some(id) = self.find_conversation(address).await? {
            return Ok(id);
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
            return Ok(id);
        }
        self.find_conversation(address).await?.ok_or_else(|| super::StoreError::Corrupt("conversation vanished".into()))
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
