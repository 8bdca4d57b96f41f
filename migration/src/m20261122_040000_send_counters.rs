use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Hourly send counters for the delivery limits: one row per destination (keyed
        // by a hash, not the number) and one global row. `window_start` is the hour.
        manager
            .create_table(
                Table::create()
                    .table("send_counters")
                    .if_not_exists()
                    .col(string("bucket").primary_key())
                    .col(big_integer("window_start"))
                    .col(integer("sends"))
                    .take(),
            )
            .await
    }
}
