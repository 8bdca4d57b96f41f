use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub client_id: Option<String>,
    pub subject: Option<String>,
    pub conversation: Option<String>,
    /// JSON object with event details; never codes, secrets or tokens.
    pub detail: String,
}

impl ActiveModelBehavior for ActiveModel {}
