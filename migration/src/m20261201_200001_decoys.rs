use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Secrets the server makes for itself on first use and every replica shares
        // (the key that derives decoys from unknown identifiers). Never configured.
        manager
            .create_table(
                Table::create()
                    .table("server_secrets")
                    .if_not_exists()
                    .col(string("name").primary_key())
                    .col(string("value"))
                    .col(big_integer("created_at"))
                    .take(),
            )
            .await?;
        // The pseudonym of the unknown identifier a decoy challenge stands for, so that
        // identifying it again is a resend, as it is for a record.
        manager.alter_table(Table::alter().table("challenges").add_column(string_null("decoy")).take()).await
    }
}
