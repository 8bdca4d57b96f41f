//! A token refresh is answered from memory (`domain::live`) for up to a second after
//! the session was read; these pin down what that may and may not change.
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

async fn token(app: &TestApp, conversation: &str) -> reqwest::Response {
    app.post(conversation, "token", Value::Null).await
}

async fn roles_in_token(app: &TestApp, conversation: &str) -> Value {
    let response = token(app, conversation).await;
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["subject"]["roles"].clone()
}

/// Ana with only `view_own_schedule`, as another process (or this one) would write her.
async fn demote_ana(app: &TestApp) {
    app.add_record("4721", &[("employee_number", "4721"), ("phone", "+34665762878")], &["view_own_schedule"], true)
        .await;
}

#[tokio::test]
async fn activity_seen_from_memory_is_durable() {
    let app = spawn_app().await;
    app.add_ana().await;
    app.login("c1").await;
    app.clock.advance(Duration::from_secs(20 * 60));
    assert_eq!(token(&app, "c1").await.status(), 200, "read from the database, kept in memory");
    app.clock.advance(Duration::from_millis(500));
    assert_eq!(token(&app, "c1").await.status(), 200, "answered from memory");
    // A new process knows only what was written. The idle timeout (30 min) has passed
    // since the first refresh, not since the second.
    let app = app.restart().await;
    app.clock.advance(Duration::from_secs(30 * 60) - Duration::from_millis(300));
    assert_eq!(token(&app, "c1").await.status(), 200, "the refresh from memory was written as activity");
}

#[tokio::test]
async fn a_record_changed_by_this_process_shows_in_the_next_token() {
    let app = spawn_app().await;
    app.add_ana().await;
    app.login("c1").await;
    assert_eq!(roles_in_token(&app, "c1").await, json!(["view_own_payroll", "view_own_schedule"]));
    demote_ana(&app).await;
    assert_eq!(roles_in_token(&app, "c1").await, json!(["view_own_schedule"]), "no clock step needed");
}

#[tokio::test]
async fn a_record_changed_by_another_process_shows_within_a_second() {
    let app = spawn_app().await;
    app.add_ana().await;
    app.login("c1").await;
    assert_eq!(roles_in_token(&app, "c1").await, json!(["view_own_payroll", "view_own_schedule"]));
    let other = app.replica().await;
    demote_ana(&other).await;
    app.clock.advance(Duration::from_millis(1000));
    assert_eq!(roles_in_token(&app, "c1").await, json!(["view_own_schedule"]));
}

#[tokio::test]
async fn a_session_ended_here_refuses_at_once() {
    let app = spawn_app().await;
    app.add_ana().await;
    app.login("c1").await;
    assert_eq!(token(&app, "c1").await.status(), 200);
    assert_eq!(app.delete("c1").await.status(), 204);
    let (status, body) = error_of(token(&app, "c1").await).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (409, "not_authenticated"));
}

#[tokio::test]
async fn a_session_ended_by_another_process_refuses_within_a_second() {
    let app = spawn_app().await;
    app.add_ana().await;
    app.login("c1").await;
    assert_eq!(token(&app, "c1").await.status(), 200);
    let other = app.replica().await;
    assert_eq!(other.delete("c1").await.status(), 204);
    app.clock.advance(Duration::from_millis(1000));
    let (status, body) = error_of(token(&app, "c1").await).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (409, "not_authenticated"));
}

#[tokio::test]
async fn a_new_login_replaces_the_session_kept_in_memory() {
    let app = spawn_app().await;
    app.add_ana().await;
    let first = app.login("c1").await;
    let sid = |body: &Value| body["session"]["id"].as_str().unwrap().to_string();
    let kept: Value = token(&app, "c1").await.json().await.unwrap();
    assert_eq!(sid(&kept), sid(&first));
    // Identify again is refused while authenticated; the bot ends the session first.
    assert_eq!(app.delete("c1").await.status(), 204);
    let second = app.login("c1").await;
    let now: Value = token(&app, "c1").await.json().await.unwrap();
    assert_eq!(sid(&now), sid(&second));
    assert_ne!(sid(&second), sid(&first));
}
