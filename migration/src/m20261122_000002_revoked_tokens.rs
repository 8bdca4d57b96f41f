use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // client_credentials tokens have no session to end, so revoking one records its
        // jti until the token would have expired anyway.
        manager
            .create_table(
                Table::create()
                    .table("revoked_tokens")
                    .if_not_exists()
                    .col(string("jti").primary_key())
                    .col(big_integer("expires_at"))
                    .take(),
            )
            .await?;
        Ok(())
    }
}
