use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "records")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub directory: String,
    pub key: String,
    /// JSON object of field name to string value.
    pub fields: String,
    /// JSON array of role names.
    pub roles: String,
    pub active: bool,
    pub updated_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}
