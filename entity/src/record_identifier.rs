use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "record_identifiers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub directory: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub field: String,
    /// The normalized identifier value.
    #[sea_orm(primary_key, auto_increment = false)]
    pub value: String,
    pub record_id: i64,
}

impl ActiveModelBehavior for ActiveModel {}
