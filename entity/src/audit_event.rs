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
    /// The event's place in the hash chain, from 1; NULL for events older than the chain.
    pub seq: Option<i64>,
    /// Hex SHA-256 of the previous event's hash and this event's canonical form.
    pub hash: Option<String>,
}

impl ActiveModelBehavior for ActiveModel {}
