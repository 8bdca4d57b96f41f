use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // `failures` starts again when a lockout runs out; `consecutive` does not, so
        // the lifetime cap counts every failure since the last success or unlock.
        // `lockout_ms` is the length of the last lockout, which the next one doubles.
        // SQLite alters one column per statement.
        manager
            .alter_table(Table::alter().table("guards").add_column(integer("consecutive").default(0)).take())
            .await?;
        manager.alter_table(Table::alter().table("guards").add_column(big_integer_null("lockout_ms")).take()).await
    }
}
