use sea_orm::entity::prelude::*;

/// A signed statement "the audit chain through `seq` has hash `hash`".
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_checkpoints")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `prune` (events through `seq` were deleted) or `anchor` (nothing was deleted).
    pub kind: String,
    pub seq: i64,
    pub hash: String,
    /// How many events the prune deleted; 0 for an anchor.
    pub pruned: i64,
    pub at: i64,
    /// Compact JWS over the other columns, by a server signing key.
    pub signature: String,
}

impl ActiveModelBehavior for ActiveModel {}
