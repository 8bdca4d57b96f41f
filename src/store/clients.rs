use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel};

use super::{Store, StoreError, StoreResult, execute, json_list, to_json};
use crate::clock::Millis;

/// A bot client as stored: the secret only as an argon2id hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredClient {
    pub id: String,
    pub secret_hash: String,
    pub flows: Vec<String>,
    pub scopes: Vec<String>,
    pub active: bool,
}

impl TryFrom<entity::client::Model> for StoredClient {
    type Error = StoreError;

    fn try_from(m: entity::client::Model) -> StoreResult<Self> {
        Ok(Self {
            flows: json_list(&m.flows)?,
            scopes: json_list(&m.scopes)?,
            id: m.id,
            secret_hash: m.secret_hash,
            active: m.active,
        })
    }
}

impl Store {
    pub async fn find_client(&self, id: &str) -> StoreResult<Option<StoredClient>> {
        entity::client::Entity::find_by_id(id.to_string())
            .one(self.reader())
            .await?
            .map(StoredClient::try_from)
            .transpose()
    }

    /// Creates the client; false if the id is taken.
    pub async fn create_client(&self, client: &StoredClient, now: Millis) -> StoreResult<bool> {
        if self.find_client(&client.id).await?.is_some() {
            return Ok(false);
        }
        self.client_model(client, now).into_active_model().insert(self.db()).await?;
        Ok(true)
    }

    /// Makes the stored client match the configuration file.
    pub async fn put_client(&self, client: &StoredClient, now: Millis) -> StoreResult<()> {
        let stmt = self.sql(
            "INSERT INTO clients (id, secret_hash, flows, scopes, active, created_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (id) DO UPDATE SET secret_hash = excluded.secret_hash, flows = excluded.flows,
               scopes = excluded.scopes, active = excluded.active",
            [
                client.id.clone().into(),
                client.secret_hash.clone().into(),
                to_json(&client.flows).into(),
                to_json(&client.scopes).into(),
                client.active.into(),
                now.into(),
            ],
        );
        execute(self.db(), stmt).await.map(drop)
    }

    fn client_model(&self, client: &StoredClient, now: Millis) -> entity::client::Model {
        entity::client::Model {
            id: client.id.clone(),
            secret_hash: client.secret_hash.clone(),
            flows: to_json(&client.flows),
            scopes: to_json(&client.scopes),
            active: client.active,
            created_at: now,
        }
    }
}

impl Store {
    pub async fn list_clients(&self) -> StoreResult<Vec<(StoredClient, Millis)>> {
        use sea_orm::QueryOrder;
        let models = entity::client::Entity::find().order_by_asc(entity::client::Column::Id).all(self.db()).await?;
        models
            .into_iter()
            .map(|m| Ok((m.created_at, StoredClient::try_from(m)?)))
            .map(|r| r.map(|(at, c)| (c, at)))
            .collect()
    }

    /// Sets one column of an existing client; false if there is no such client.
    pub async fn update_client(&self, id: &str, change: ClientChange) -> StoreResult<bool> {
        let (column, value): (&str, sea_orm::Value) = match change {
            ClientChange::Disable => ("active", false.into()),
            ClientChange::Secret(hash) => ("secret_hash", hash.into()),
        };
        let stmt = self.sql(&format!("UPDATE clients SET {column} = $1 WHERE id = $2"), [value, id.into()]);
        Ok(execute(self.db(), stmt).await? == 1)
    }
}

pub enum ClientChange {
    Disable,
    Secret(String),
}
