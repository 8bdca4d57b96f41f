//! Schema migrations, one file per migration. Only migrates: no application logic.
pub use sea_orm_migration::prelude::*;

mod m20261122_000001_initial;
mod m20261122_000002_revoked_tokens;
mod m20261122_040000_send_counters;
mod m20261122_050000_sessions_ended_at;
mod m20261201_000001_dialogs;
mod m20261201_100000_audit_chain;
mod m20261201_120000_import_staging;
mod m20261201_200000_lifetime_failures;
mod m20261201_200001_decoys;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_initial::Migration),
            Box::new(m20261122_000002_revoked_tokens::Migration),
            Box::new(m20261122_040000_send_counters::Migration),
            Box::new(m20261122_050000_sessions_ended_at::Migration),
            Box::new(m20261201_000001_dialogs::Migration),
            Box::new(m20261201_100000_audit_chain::Migration),
            Box::new(m20261201_200000_lifetime_failures::Migration),
            Box::new(m20261201_200001_decoys::Migration),
            Box::new(m20261201_120000_import_staging::Migration),
        ]
    }
}
