use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // What the login dialog remembers of a conversation between two messages. The
        // identify/verify state itself stays in challenges and sessions.
        manager
            .create_table(
                Table::create()
                    .table("dialogs")
                    .if_not_exists()
                    .col(string("conversation_id").primary_key())
                    .col(string("flow"))
                    .col(string("awaiting"))
                    .col(integer("prompts_used"))
                    .col(integer("silences"))
                    .col(string_null("intent"))
                    .col(string_null("locale"))
                    .col(big_integer("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("dialogs", "conversation_id")
                            .to("conversations", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await
    }
}
