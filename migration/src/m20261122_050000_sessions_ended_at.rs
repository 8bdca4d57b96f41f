use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Every replica's proxy polls recently ended sessions once a second.
        manager
            .create_index(
                Index::create().name("sessions_ended_at").table("sessions").col("ended_at").if_not_exists().take(),
            )
            .await
    }
}
