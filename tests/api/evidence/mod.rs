//! DESIGN.md §12 and §13: an audit trail that survives `kill -9` and shows tampering,
//! and downstream APIs validating doorman's tokens with `doorman-verify`.
mod crash;
mod downstream;
mod export;
mod failed_commit;
mod tamper;

use std::path::Path;
use std::process::Output;

use sea_orm::ConnectionTrait;

use crate::cli::{doorman, stderr};
use crate::helpers::TestApp;

/// A configuration file for the CLI on `app`'s database and keys.
pub fn cli_config(app: &TestApp, dir: &Path) -> String {
    let config =
        format!("[database]\nurl = \"{}\"\n[keys]\ndir = \"{}\"\n", app.config.database.url, app.config.keys.dir);
    let path = dir.join("doorman.toml");
    std::fs::write(&path, config).unwrap();
    path.display().to_string()
}

/// `doorman audit ARGS --config CONFIG`.
pub fn audit(dir: &Path, config: &str, args: &[&str]) -> Output {
    let mut all = vec!["audit"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--config", config]);
    doorman(dir, &all)
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `audit verify` fails, and its reason names `what`.
pub fn assert_broken(output: &Output, what: &str) {
    assert_eq!(output.status.code(), Some(1), "stdout: {} stderr: {}", stdout(output), stderr(output));
    assert!(stderr(output).contains(what), "expected {what:?} in: {}", stderr(output));
}

/// The chained events, in chain order.
pub async fn chain(app: &TestApp) -> Vec<entity::audit_event::Model> {
    use sea_orm::{EntityTrait, QueryOrder};
    app.state.flush_audit().await;
    entity::audit_event::Entity::find()
        .order_by_asc(entity::audit_event::Column::Seq)
        .all(app.state.auth.store.db())
        .await
        .unwrap()
}

/// What someone with write access to the database can do.
pub async fn tamper(app: &TestApp, sql: &str) {
    app.state.auth.store.db().execute_unprepared(sql).await.unwrap();
}
