use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "challenges")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub conversation_id: String,
    /// None for the decoy challenge of a concealed unknown identifier.
    pub record_id: Option<i64>,
    pub flow: String,
    pub method: String,
    pub masked_destination: String,
    pub locale: Option<String>,
    /// argon2id PHC string of the current code.
    pub code_hash: String,
    pub attempts: i32,
    pub sends: i32,
    /// active | consumed | dead | exhausted | failed
    pub status: String,
    pub expires_at: i64,
    pub last_sent_at: i64,
    pub created_at: i64,
    /// For a decoy: the pseudonym of the unknown identifier it stands for.
    pub decoy: Option<String>,
}

impl ActiveModelBehavior for ActiveModel {}
