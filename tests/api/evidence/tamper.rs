//! `doorman audit verify` names the first event that does not fit.
use super::{assert_broken, audit, chain, cli_config, stdout, tamper};
use crate::cli::stderr;
use crate::helpers::*;

/// An app with two logins' worth of events, and a CLI configuration for it.
async fn trail() -> (TestApp, tempfile::TempDir, String) {
    let app = spawn_app().await;
    app.add_ana().await;
    app.login("c1").await;
    app.login("c2").await;
    let dir = tempfile::tempdir().unwrap();
    let config = cli_config(&app, dir.path());
    (app, dir, config)
}

#[tokio::test]
async fn an_intact_trail_verifies_with_its_count_and_a_changed_event_is_named() {
    let (app, dir, config) = trail().await;
    let events = chain(&app).await;
    assert!(events.len() >= 6, "{events:?}");
    let verified = audit(dir.path(), &config, &["verify"]);
    assert!(verified.status.success(), "{}", stderr(&verified));
    assert!(stdout(&verified).contains(&format!("{} events checked", events.len())), "{}", stdout(&verified));

    let victim = &events[3];
    tamper(&app, &format!("UPDATE audit_events SET detail = '{{\"forged\":true}}' WHERE id = {}", victim.id)).await;
    assert_broken(&audit(dir.path(), &config, &["verify"]), &format!("event {} (sequence", victim.id));

    // Put back exactly as it was, and the chain fits again: the check is of content.
    let original = victim.detail.replace('\'', "''");
    tamper(&app, &format!("UPDATE audit_events SET detail = '{original}' WHERE id = {}", victim.id)).await;
    assert!(audit(dir.path(), &config, &["verify"]).status.success());

    tamper(&app, &format!("UPDATE audit_events SET subject = 'employees/1' WHERE id = {}", events[1].id)).await;
    assert_broken(&audit(dir.path(), &config, &["verify"]), &format!("event {} (sequence", events[1].id));
}

#[tokio::test]
async fn a_deleted_event_is_named_by_the_one_after_it() {
    let (app, dir, config) = trail().await;
    let events = chain(&app).await;
    tamper(&app, &format!("DELETE FROM audit_events WHERE id = {}", events[2].id)).await;
    let output = audit(dir.path(), &config, &["verify"]);
    assert_broken(&output, &format!("event {} has sequence", events[3].id));
    assert!(stderr(&output).contains("1 event(s) before it were deleted"), "{}", stderr(&output));
}

#[tokio::test]
async fn swapping_two_events_places_is_caught() {
    let (app, dir, config) = trail().await;
    let events = chain(&app).await;
    let (a, b) = (&events[1], &events[4]);
    let (sa, sb) = (a.seq.unwrap(), b.seq.unwrap());
    tamper(&app, &format!("UPDATE audit_events SET seq = -1 WHERE id = {}", a.id)).await;
    tamper(&app, &format!("UPDATE audit_events SET seq = {sa} WHERE id = {}", b.id)).await;
    tamper(&app, &format!("UPDATE audit_events SET seq = {sb} WHERE id = {}", a.id)).await;
    assert_broken(&audit(dir.path(), &config, &["verify"]), &format!("event {} (sequence {sa})", b.id));
}

#[tokio::test]
async fn cutting_off_the_end_is_caught_by_the_head_and_by_a_signed_checkpoint() {
    let (app, dir, config) = trail().await;
    let events = chain(&app).await;
    let last = events.last().unwrap();
    let checkpoint = audit(dir.path(), &config, &["checkpoint"]);
    assert!(checkpoint.status.success(), "{}", stderr(&checkpoint));
    assert!(audit(dir.path(), &config, &["verify"]).status.success());

    tamper(&app, &format!("DELETE FROM audit_events WHERE id = {}", last.id)).await;
    assert_broken(&audit(dir.path(), &config, &["verify"]), "the last event(s) were deleted");

    // A careful intruder also moves the head back; the checkpoint still remembers.
    let before = &events[events.len() - 2];
    let hash = before.hash.clone().unwrap();
    tamper(&app, &format!("UPDATE audit_chain SET seq = {}, hash = '{hash}'", before.seq.unwrap())).await;
    assert_broken(&audit(dir.path(), &config, &["verify"]), "no longer reaches");

    // And a checkpoint cannot be edited to match: its signature covers its columns.
    tamper(&app, &format!("UPDATE audit_checkpoints SET seq = {}, hash = '{hash}'", before.seq.unwrap())).await;
    assert_broken(&audit(dir.path(), &config, &["verify"]), "its columns differ from what was signed");
}

#[tokio::test]
async fn an_event_inserted_without_a_place_is_named() {
    let (app, dir, config) = trail().await;
    tamper(&app, "INSERT INTO audit_events (at, kind, detail) VALUES (0, 'token.issued', '{}')").await;
    let forged = chain(&app).await.iter().filter(|e| e.seq.is_none()).map(|e| e.id).max().unwrap();
    assert_broken(&audit(dir.path(), &config, &["verify"]), &format!("event {forged} has no place in the chain"));
}

#[tokio::test]
async fn two_replicas_writing_at_once_keep_one_chain() {
    let first = spawn_app().await;
    first.add_ana().await;
    let second = first.replica().await;
    let record = |app: &TestApp, n: usize| {
        let events = (0..n).map(|_| doorman::store::audit::AuditEvent { kind: "load", ..Default::default() }).collect();
        let log = app.state.auth.audit_log.clone();
        async move { log.record_all(events, 0).await.unwrap() }
    };
    let writes = (0..20).map(|i| if i % 2 == 0 { record(&first, 7) } else { record(&second, 5) });
    futures::future::join_all(writes).await;
    let events = chain(&first).await;
    assert_eq!(events.len(), 120);
    let dir = tempfile::tempdir().unwrap();
    let config = cli_config(&first, dir.path());
    let verified = audit(dir.path(), &config, &["verify"]);
    assert!(stdout(&verified).contains("120 events checked"), "{}", stderr(&verified));
}
