//! The audit trail becomes a hash chain: every event gets its place (`seq`) and the hash
//! that links it to the event before; `audit_chain` holds the chain's head (one row, also
//! the lock writers take), `audit_checkpoints` the signed states pruning and anchoring leave.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The hash the first event is chained to.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE. Events written before this migration keep
        // NULLs: `doorman audit verify` counts them as unchained.
        for column in [big_integer_null("seq"), string_null("hash")] {
            manager.alter_table(Table::alter().table("audit_events").add_column(column).take()).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("audit_events_seq")
                    .table("audit_events")
                    .col("seq")
                    .unique()
                    .if_not_exists()
                    .take(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("audit_chain")
                    .if_not_exists()
                    .col(integer("id").primary_key())
                    .col(big_integer("seq"))
                    .col(string("hash"))
                    .take(),
            )
            .await?;
        let head = Query::insert()
            .into_table("audit_chain")
            .columns(["id", "seq", "hash"])
            .values([1.into(), 0i64.into(), GENESIS.into()])
            .map_err(|e| DbErr::Migration(e.to_string()))?
            .to_owned();
        manager.exec_stmt(head).await?;

        manager
            .create_table(
                Table::create()
                    .table("audit_checkpoints")
                    .if_not_exists()
                    .col(big_pk_auto("id"))
                    .col(string("kind"))
                    .col(big_integer("seq"))
                    .col(string("hash"))
                    .col(big_integer("pruned"))
                    .col(big_integer("at"))
                    .col(text("signature"))
                    .take(),
            )
            .await
    }
}
