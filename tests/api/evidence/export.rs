//! `doorman audit export` for a SIEM, and `doorman audit prune` keeping the chain verifiable.
use std::time::Duration;

use doorman::clock::{Clock, rfc3339};
use doorman::store::audit::AuditEvent;
use serde_json::{Value, json};

use super::{assert_broken, audit, chain, cli_config, stdout, tamper};
use crate::cli::stderr;
use crate::helpers::*;

/// `count` events at the app's current time, written in one batch.
async fn record(app: &TestApp, kind: &'static str, count: usize) {
    let events = (0..count).map(|i| AuditEvent { kind, detail: json!({"n": i}), ..Default::default() }).collect();
    app.state.auth.audit_log.record_all(events, app.clock.now()).await.unwrap();
}

fn lines(output: &std::process::Output) -> Vec<Value> {
    assert!(output.status.success(), "{}", stderr(output));
    stdout(output).lines().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect()
}

#[tokio::test]
async fn export_writes_the_range_as_json_lines_across_pages() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let config = cli_config(&app, dir.path());
    record(&app, "early", 3).await;
    app.clock.advance(Duration::from_secs(3600));
    let since = rfc3339(app.clock.now());
    // More than one page of the export's reads.
    record(&app, "inside", 1500).await;
    app.clock.advance(Duration::from_secs(3600));
    let until = rfc3339(app.clock.now());
    record(&app, "late", 2).await;

    let exported =
        lines(&audit(dir.path(), &config, &["export", "--since", &since, "--until", &until, "--format", "jsonl"]));
    assert_eq!(exported.len(), 1500);
    assert!(exported.iter().all(|e| e["kind"] == "inside"));
    let ids: Vec<i64> = exported.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest first, each once");
    assert_eq!(exported[0]["detail"], json!({"n": 0}), "detail is JSON, not a string");
    assert_eq!(exported[0]["hash"].as_str().map(str::len), Some(64));
    assert!(exported[0]["at"].as_str().unwrap().ends_with('Z'));

    let open_ended = lines(&audit(dir.path(), &config, &["export", "--since", &since]));
    assert_eq!(open_ended.len(), 1502);
}

#[tokio::test]
async fn export_refuses_a_bad_time_with_exit_2() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let config = cli_config(&app, dir.path());
    for (args, reason) in [
        (vec!["export", "--since", "last tuesday"], "--since must be an RFC 3339 time"),
        (vec!["export", "--since", "2026-11-22T10:00:00Z", "--until", "soon"], "--until must be an RFC 3339 time"),
        (vec!["export", "--since", "2026-11-22T10:00:00Z", "--until", "2026-11-22T09:00:00Z"], "later than --since"),
        (vec!["export", "--since", "2026-11-22T10:00:00Z", "--format", "csv"], "csv"),
        (vec!["export"], "--since"),
    ] {
        let output = audit(dir.path(), &config, &args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains(reason), "{args:?}: {}", stderr(&output));
        assert!(stdout(&output).is_empty());
    }
}

#[tokio::test]
async fn prune_keeps_the_rest_verifiable_and_refuses_a_broken_chain() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let config = cli_config(&app, dir.path());
    record(&app, "old", 5).await;
    app.clock.advance(Duration::from_secs(2 * 3600));
    let cut = rfc3339(app.clock.now() - 3600 * 1000);
    record(&app, "recent", 4).await;

    let pruned = audit(dir.path(), &config, &["prune", "--before", &cut]);
    assert!(pruned.status.success(), "{}", stderr(&pruned));
    assert!(stdout(&pruned).contains("pruned 5 events"), "{}", stdout(&pruned));
    let kept = chain(&app).await;
    assert_eq!(kept.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["recent"; 4]);
    let verified = audit(dir.path(), &config, &["verify"]);
    assert!(verified.status.success(), "{}", stderr(&verified));
    assert!(stdout(&verified).contains("4 events checked (sequence 6 to 9), 1 checkpoints"), "{}", stdout(&verified));
    assert_eq!(stdout(&audit(dir.path(), &config, &["prune", "--before", &cut])).trim(), "nothing to prune");

    // Events written after the prune still chain on.
    record(&app, "later", 2).await;
    assert!(audit(dir.path(), &config, &["verify"]).status.success());

    // Tampering is never pruned away: prune verifies first.
    tamper(&app, &format!("UPDATE audit_events SET kind = 'x' WHERE id = {}", kept[0].id)).await;
    let refused = audit(dir.path(), &config, &["prune", "--older-than", "1s"]);
    assert_broken(&refused, &format!("event {} (sequence 6)", kept[0].id));
    assert_eq!(chain(&app).await.len(), 6, "nothing was deleted");

    // Deleting the checkpoint makes the pruned events count as deleted.
    tamper(&app, &format!("UPDATE audit_events SET kind = 'recent' WHERE id = {}", kept[0].id)).await;
    let checkpoint_hash = kept[0].hash.clone().unwrap();
    tamper(&app, "DELETE FROM audit_checkpoints").await;
    assert_broken(&audit(dir.path(), &config, &["verify"]), "5 event(s) before it were deleted");

    // Nor can one be made up without the server's key.
    tamper(
        &app,
        &format!(
            "INSERT INTO audit_checkpoints (kind, seq, hash, pruned, at, signature) \
             VALUES ('prune', 6, '{checkpoint_hash}', 6, 0, 'e30.e30.')"
        ),
    )
    .await;
    assert_broken(&audit(dir.path(), &config, &["verify"]), "its signature is not a JWS");
}

#[tokio::test]
async fn prune_needs_an_age() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let config = cli_config(&app, dir.path());
    assert_eq!(audit(dir.path(), &config, &["prune"]).status.code(), Some(2));
    assert_eq!(audit(dir.path(), &config, &["prune", "--older-than", "a while"]).status.code(), Some(2));
}
