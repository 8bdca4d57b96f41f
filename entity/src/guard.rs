use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "guards")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub scope: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub subject: String,
    pub failures: i32,
    pub locked_until: Option<i64>,
    /// Failures since the last success or unlock, across lockouts.
    pub consecutive: i32,
    /// The length of the last lockout.
    pub lockout_ms: Option<i64>,
}

impl ActiveModelBehavior for ActiveModel {}
