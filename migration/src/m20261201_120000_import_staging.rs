use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

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
        // A bulk import is staged here in short transactions, checked as a whole, then
        // applied in short batches: no import holds the (SQLite) writer for long.
        // `state` is `staging` (dropped if its process dies) or `applying` (checked and
        // accepted: finished by whoever finds it abandoned). `heartbeat_at` tells a live
        // import from an abandoned one.
        manager
            .create_table(
                Table::create()
                    .table("imports")
                    .if_not_exists()
                    .col(big_pk_auto("id"))
                    .col(string("directory"))
                    .col(string("state"))
                    .col(big_integer("heartbeat_at"))
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("import_rows")
                    .if_not_exists()
                    .col(big_integer("import_id"))
                    .col(big_integer("line"))
                    .col(string("key"))
                    .col(text("fields"))
                    .col(text("roles"))
                    .col(boolean("active"))
                    .col(text("identifiers"))
                    .primary_key(Index::create().col("import_id").col("line"))
                    .take(),
            )
            .await?;
        manager.create_index(index("import_rows_key", "import_rows", &["import_id", "key"])).await?;
        manager
            .create_table(
                Table::create()
                    .table("import_identifiers")
                    .if_not_exists()
                    .col(big_integer("import_id"))
                    .col(big_integer("line"))
                    .col(string("key"))
                    .col(string("field"))
                    .col(string("value"))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("import_identifiers_value", "import_identifiers", &["import_id", "field", "value"]))
            .await?;
        manager.create_index(index("import_identifiers_line", "import_identifiers", &["import_id", "line"])).await
    }
}
