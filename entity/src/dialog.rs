use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "dialogs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub conversation_id: String,
    pub flow: String,
    /// identifier | channel_number: what an unidentified conversation's next message answers.
    pub awaiting: String,
    pub prompts_used: i32,
    /// Keypad prompts in a row that got no input (voice calls).
    pub silences: i32,
    pub intent: Option<String>,
    pub locale: Option<String>,
    pub updated_at: i64,
}

impl ActiveModelBehavior for ActiveModel {}
