use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub conversation_id: String,
    pub client_id: String,
    pub channel: String,
    pub record_id: i64,
    pub flow: String,
    /// loa1 | loa2
    pub acr: String,
    /// otp | id
    pub amr: String,
    pub auth_time: i64,
    pub last_activity: i64,
    pub idle_timeout_ms: i64,
    pub expires_at: i64,
    pub ended_at: Option<i64>,
    pub end_reason: Option<String>,
}

impl ActiveModelBehavior for ActiveModel {}
