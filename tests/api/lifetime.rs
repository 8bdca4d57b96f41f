//! The lifetime cap on guessing (NIST SP 800-63B-4 §3.2.2): failed codes in a row
//! survive lockouts running out, each lockout is twice the last, and after
//! `otp.max_consecutive_failures` the record's code login stays locked until an operator
//! unlocks it. Windows are short and the clock is moved by hand: nothing sleeps.
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::cli::doorman;
use crate::helpers::*;
use crate::operator_cli::{cli_config, stdout_lines};

async fn spawn_capped_app() -> TestApp {
    spawn_app_with(|c| {
        c.admin.token = Some(doorman::config::Secret::new(crate::admin::ADMIN_TOKEN));
        c.otp.max_failures_per_record = 2;
        c.otp.record_lockout = Duration::from_secs(15 * 60);
        c.otp.max_record_lockout = Duration::from_secs(3600);
        c.otp.max_consecutive_failures = 9;
        c.delivery.limits.per_destination_per_hour = 1000;
    })
    .await
}

/// Two wrong codes for Ana in a new conversation (a new code each time); returns the
/// answer to the second.
async fn two_failures(app: &TestApp, conversation: &str) -> (u16, Value) {
    let code = app.identify_and_receive(conversation, "4721").await;
    let (status, _) = error_of(app.verify(conversation, &wrong_code(&code)).await).await;
    assert_eq!(status, 422);
    error_of(app.verify(conversation, &wrong_code(&code)).await).await
}

/// The lock Ana's identify meets now: the status, `error` and Retry-After.
async fn lock_seen(app: &TestApp, conversation: &str) -> (u16, String, Option<u64>) {
    let response = app.identify(conversation, "4721").await;
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().parse().unwrap());
    let (status, body) = error_of(response).await;
    (status, body["error"].as_str().unwrap_or("").to_string(), retry_after)
}

#[tokio::test]
async fn lockouts_double_and_the_cap_holds_until_an_operator_unlocks() {
    let app = spawn_capped_app().await;
    app.add_ana().await;
    // Lockouts of 15, 30, 60 and then (capped) 60 minutes; each one runs out, and the
    // failures in a row go on counting: 8 of the 9 allowed.
    for (round, minutes) in [15, 30, 60, 60].into_iter().enumerate() {
        two_failures(&app, &format!("c{round}")).await;
        let (status, error, retry_after) = lock_seen(&app, &format!("c{round}-locked")).await;
        assert_eq!((status, error.as_str()), (429, "locked"), "round {round}");
        let retry_after = retry_after.expect("a lockout says when it ends");
        assert!(retry_after > (minutes - 1) * 60 && retry_after <= minutes * 60, "round {round}: {retry_after}");
        app.clock.advance(Duration::from_secs(minutes * 60));
    }
    // The ninth failure in a row: locked until unlocked, whatever the time.
    let code = app.identify_and_receive("c-last", "4721").await;
    error_of(app.verify("c-last", &wrong_code(&code)).await).await;
    let (status, body) = error_of(app.verify("c-last", &code).await).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (429, "locked"), "even the right code");
    assert!(body["error_description"].as_str().unwrap().contains("operator"), "{body}");
    app.clock.advance(Duration::from_secs(30 * 24 * 3600));
    let (status, error, retry_after) = lock_seen(&app, "a-month-later").await;
    assert_eq!((status, error.as_str(), retry_after), (429, "locked", None), "no end to promise");

    let unlocked = app.admin(Method::POST, "/directories/employees/records/4721/unlock").send().await.unwrap();
    assert_eq!(unlocked.status(), 200);
    let unlocked: Value = unlocked.json().await.unwrap();
    assert_eq!(unlocked["subject"], "employees/4721");
    assert_eq!(unlocked["was_locked_until_unlocked"], true);
    assert_eq!(unlocked["consecutive_failures"], 9);
    let code = app.identify_and_receive("after-unlock", "4721").await;
    assert_eq!(app.verify("after-unlock", &code).await.status(), 200);

    let audit = app.audit_text().await;
    let lockouts: Vec<&str> = audit.lines().filter(|l| l.starts_with("lockout.record")).collect();
    assert_eq!(lockouts.len(), 5, "{audit}");
    assert!(lockouts.iter().all(|l| l.contains("Some(\"employees/4721\")")), "with the subject: {lockouts:?}");
    assert!(lockouts.iter().filter(|l| l.contains("\"until_unlocked\":true")).count() == 1, "{lockouts:?}");
    for kind in ["code.failed", "code.locked", "identify.record_locked", "lockout.unlocked"] {
        let line = audit.lines().find(|l| l.starts_with(kind)).unwrap_or_else(|| panic!("no {kind}:\n{audit}"));
        assert!(line.contains("Some(\"employees/4721\")"), "{kind} names the record: {line}");
    }
}

#[tokio::test]
async fn a_lockout_running_out_does_not_forgive_but_a_success_does() {
    let app = spawn_capped_app().await;
    app.add_ana().await;
    two_failures(&app, "c1").await;
    app.clock.advance(Duration::from_secs(15 * 60));
    two_failures(&app, "c2").await;
    let (_, _, retry_after) = lock_seen(&app, "c2-locked").await;
    assert!(retry_after.unwrap() > 15 * 60, "the second lockout is longer: {retry_after:?}");
    app.clock.advance(Duration::from_secs(30 * 60));
    let code = app.identify_and_receive("c3", "4721").await;
    assert_eq!(app.verify("c3", &code).await.status(), 200, "a success clears both counts");
    two_failures(&app, "c4").await;
    let (_, _, retry_after) = lock_seen(&app, "c4-locked").await;
    assert!(retry_after.unwrap() <= 15 * 60, "back to the first lockout's length: {retry_after:?}");
}

#[tokio::test]
async fn the_command_line_unlocks_a_record() {
    let app = spawn_capped_app().await;
    app.add_ana().await;
    two_failures(&app, "c1").await;
    assert_eq!(lock_seen(&app, "c1-locked").await.0, 429);
    app.state.auth.audit_log.flush().await; // the CLI below writes to the same trail
    let dir = tempfile::tempdir().unwrap();
    let config = cli_config(&app, dir.path());
    let lines = stdout_lines(&doorman(dir.path(), &["records", "unlock", "employees", "4721", "--config", &config]));
    let unlocked: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!((unlocked["was_locked"].clone(), unlocked["consecutive_failures"].clone()), (true.into(), 2.into()));
    assert_eq!(app.identify("c2", "4721").await.status(), 200);
    let missing = doorman(dir.path(), &["records", "unlock", "employees", "0000", "--config", &config]);
    assert_eq!(missing.status.code(), Some(1), "no such record");
    let audit = app.audit_text().await;
    assert!(audit.lines().any(|l| l.starts_with("lockout.unlocked") && l.contains("\"via\":\"cli\"")), "{audit}");
}

#[tokio::test]
async fn unlocking_needs_the_admin_token_and_a_record() {
    let app = spawn_capped_app().await;
    app.add_ana().await;
    let anonymous = app.http.post(format!("{}/admin/v1/directories/employees/records/4721/unlock", app.url));
    assert_eq!(anonymous.send().await.unwrap().status(), 401);
    let (status, body) =
        error_of(app.admin(Method::POST, "/directories/employees/records/0000/unlock").send().await.unwrap()).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (404, "not_found"), "{body}");
    let (status, _) =
        error_of(app.admin(Method::POST, "/directories/nobody/records/4721/unlock").send().await.unwrap()).await;
    assert_eq!(status, 404);
}
