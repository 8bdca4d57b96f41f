use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clients")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// argon2id PHC string.
    pub secret_hash: String,
    /// JSON array of flow names.
    pub flows: String,
    /// JSON array of scopes.
    pub scopes: String,
    pub active: bool,
    pub created_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}
