//! An audit commit that fails leaves nothing of itself behind: not its events, not the
//! chain's claimed places, not the sessions' activity it carried; and the next commit
//! fits the chain. (On SQLite the append runs as raw multi-statement queries on a held
//! connection: store/audit/sqlite_append.rs. A connection handed back to the pool inside
//! its failed transaction would swallow every later write.)
use std::time::Duration;

use sea_orm::ConnectionTrait;

use super::{audit, chain, cli_config, stdout, tamper};
use crate::cli::stderr;
use crate::helpers::*;

async fn last_activity(app: &TestApp) -> i64 {
    let row = app
        .state
        .auth
        .store
        .db()
        .query_one_raw(sea_orm::Statement::from_string(
            app.state.auth.store.backend(),
            "SELECT last_activity FROM sessions",
        ))
        .await
        .unwrap()
        .expect("one session");
    row.try_get("", "last_activity").unwrap()
}

#[tokio::test]
async fn a_failed_audit_commit_leaves_nothing_behind_and_the_next_one_fits_the_chain() {
    let app = spawn_app().await;
    app.add_ana().await;
    app.login("c1").await;
    // A first refresh reads the session from the database; from then on refreshes are
    // answered from memory, and their touch of the session is written with their event.
    assert_eq!(app.post("c1", "token", serde_json::Value::Null).await.status(), 200);
    let before = chain(&app).await;
    let head = app.state.auth.store.audit_head().await.unwrap();
    let activity = last_activity(&app).await;

    // Someone takes the chain's next place, so the unique index on `seq` refuses the
    // next commit: a token refresh's event and its touch of the session.
    let next = head.seq + 1;
    tamper(&app, &format!("INSERT INTO audit_events (at, kind, detail, seq) VALUES (0, 'planted', '{{}}', {next})"))
        .await;
    app.clock.advance(Duration::from_millis(500));
    let refused = app.post("c1", "token", serde_json::Value::Null).await;
    assert!(refused.status().is_server_error(), "{}", refused.status());
    tamper(&app, &format!("DELETE FROM audit_events WHERE seq = {next}")).await;

    assert_eq!(chain(&app).await.len(), before.len(), "no event of the failed commit is stored");
    assert_eq!(app.state.auth.store.audit_head().await.unwrap(), head, "the head did not move");
    assert_eq!(last_activity(&app).await, activity, "the touch went with its event");

    // The writing connection is usable, outside any transaction: the next commits land
    // and the whole chain verifies.
    let token = app.post("c1", "token", serde_json::Value::Null).await;
    assert_eq!(token.status(), 200);
    assert!(last_activity(&app).await > activity);
    app.login("c2").await;
    let after = chain(&app).await;
    assert_eq!(after.first().and_then(|e| e.seq), before.first().and_then(|e| e.seq));
    assert!(after.len() > before.len() + 1, "{} events after, {} before", after.len(), before.len());
    let dir = tempfile::tempdir().unwrap();
    let verified = audit(dir.path(), &cli_config(&app, dir.path()), &["verify"]);
    assert!(verified.status.success(), "{}", stderr(&verified));
    assert!(stdout(&verified).contains(&format!("{} events checked", after.len())), "{}", stdout(&verified));
}
