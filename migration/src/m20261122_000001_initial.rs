use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn table(name: &'static str) -> TableCreateStatement {
    Table::create().table(name).if_not_exists().take()
}

fn index(name: &'static str, table: &'static str, columns: &[&'static str]) -> IndexCreateStatement {
    let mut index = Index::create().name(name).table(table).if_not_exists().take();
    for column in columns {
        index.col(*column);
    }
    index
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                table("records")
                    .col(big_pk_auto("id"))
                    .col(string("directory"))
                    .col(string("key"))
                    .col(text("fields"))
                    .col(text("roles"))
                    .col(boolean("active"))
                    .col(big_integer("updated_at"))
                    .take(),
            )
            .await?;
        manager.create_index(index("records_directory_key", "records", &["directory", "key"]).unique().take()).await?;

        // One row per indexed identifier: an identify is a single primary-key lookup.
        manager
            .create_table(
                table("record_identifiers")
                    .col(string("directory"))
                    .col(string("field"))
                    .col(string("value"))
                    .col(big_integer("record_id"))
                    .primary_key(Index::create().col("directory").col("field").col("value"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("record_identifiers", "record_id")
                            .to("records", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager.create_index(index("record_identifiers_record", "record_identifiers", &["record_id"])).await?;

        // Failure counters with lockouts: (otp, record id) and (identify, conversation id).
        manager
            .create_table(
                table("guards")
                    .col(string("scope"))
                    .col(string("subject"))
                    .col(integer("failures"))
                    .col(big_integer_null("locked_until"))
                    .primary_key(Index::create().col("scope").col("subject"))
                    .take(),
            )
            .await?;

        manager
            .create_table(
                table("clients")
                    .col(string("id").primary_key())
                    .col(string("secret_hash"))
                    .col(text("flows"))
                    .col(text("scopes"))
                    .col(boolean("active"))
                    .col(big_integer("created_at"))
                    .take(),
            )
            .await?;

        manager
            .create_table(
                table("conversations")
                    .col(string("id").primary_key())
                    .col(string("client_id"))
                    .col(string("channel"))
                    .col(string("external_id"))
                    .col(big_integer("created_at"))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                index("conversations_address", "conversations", &["client_id", "channel", "external_id"])
                    .unique()
                    .take(),
            )
            .await?;

        manager
            .create_table(
                table("challenges")
                    .col(string("id").primary_key())
                    .col(string("conversation_id"))
                    .col(big_integer_null("record_id"))
                    .col(string("flow"))
                    .col(string("method"))
                    .col(string("masked_destination"))
                    .col(string_null("locale"))
                    .col(string("code_hash"))
                    .col(integer("attempts"))
                    .col(integer("sends"))
                    .col(string("status"))
                    .col(big_integer("expires_at"))
                    .col(big_integer("last_sent_at"))
                    .col(big_integer("created_at"))
                    .take(),
            )
            .await?;
        manager.create_index(index("challenges_conversation", "challenges", &["conversation_id", "status"])).await?;

        manager
            .create_table(
                table("sessions")
                    .col(string("id").primary_key())
                    .col(string("conversation_id"))
                    .col(string("client_id"))
                    .col(string("channel"))
                    .col(big_integer("record_id"))
                    .col(string("flow"))
                    .col(string("acr"))
                    .col(string("amr"))
                    .col(big_integer("auth_time"))
                    .col(big_integer("last_activity"))
                    .col(big_integer("idle_timeout_ms"))
                    .col(big_integer("expires_at"))
                    .col(big_integer_null("ended_at"))
                    .col(string_null("end_reason"))
                    .take(),
            )
            .await?;
        manager.create_index(index("sessions_conversation", "sessions", &["conversation_id", "ended_at"])).await?;
        manager.create_index(index("sessions_record", "sessions", &["record_id"])).await?;

        manager
            .create_table(
                table("refresh_tokens")
                    .col(string("token_hash").primary_key())
                    .col(string("session_id"))
                    .col(boolean("used"))
                    .col(big_integer("created_at"))
                    .take(),
            )
            .await?;
        manager.create_index(index("refresh_tokens_session", "refresh_tokens", &["session_id"])).await?;

        manager
            .create_table(
                table("audit_events")
                    .col(big_pk_auto("id"))
                    .col(big_integer("at"))
                    .col(string("kind"))
                    .col(string_null("client_id"))
                    .col(string_null("subject"))
                    .col(string_null("conversation"))
                    .col(text("detail"))
                    .take(),
            )
            .await?;
        manager.create_index(index("audit_events_at", "audit_events", &["at"])).await?;
        Ok(())
    }
}
