use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

async fn token(app: &TestApp, conversation: &str) -> reqwest::Response {
    app.post(conversation, "token", Value::Null).await
}

#[tokio::test]
async fn an_idle_session_ends() {
    let app = spawn_app().await;
    app.add_ana().await;
    app.login("c1").await;
    app.clock.advance(Duration::from_secs(30 * 60));
    let (status, body) = error_of(token(&app, "c1").await).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (409, "not_authenticated"));
    assert_eq!(app.state_of("c1").await, json!({"state": "unidentified"}));
    assert!(app.audit_text().await.contains("idle_timeout"));
}

#[tokio::test]
async fn activity_keeps_a_session_alive_until_its_absolute_end() {
    let app = spawn_app_with(|c| c.sessions.max_lifetime = Duration::from_secs(3600)).await;
    app.add_ana().await;
    app.login("c1").await;
    for _ in 0..2 {
        app.clock.advance(Duration::from_secs(20 * 60));
        assert_eq!(token(&app, "c1").await.status(), 200, "each token is activity");
    }
    app.clock.advance(Duration::from_secs(20 * 60));
    let (status, _) = error_of(token(&app, "c1").await).await;
    assert_eq!(status, 409, "an hour after login the session is over, active or not");
    assert!(app.audit_text().await.contains("max_lifetime"));
    assert_eq!(app.state_of("c1").await["state"], "unidentified");
}

#[tokio::test]
async fn reading_the_state_is_not_activity() {
    let app = spawn_app().await;
    app.add_ana().await;
    app.login("c1").await;
    app.clock.advance(Duration::from_secs(20 * 60));
    assert_eq!(app.state_of("c1").await["state"], "authenticated");
    app.clock.advance(Duration::from_secs(10 * 60));
    assert_eq!(app.state_of("c1").await["state"], "unidentified");
}

#[tokio::test]
async fn no_token_outlives_its_session() {
    let app = spawn_app_with(|c| {
        c.sessions.max_lifetime = Duration::from_secs(120);
        c.tokens.access_ttl = Duration::from_secs(300);
    })
    .await;
    app.add_ana().await;
    let body = app.login("c1").await;
    assert!(body["expires_in"].as_u64().unwrap() <= 120);
    let claims = crate::tokens::claims_of(&app, body["access_token"].as_str().unwrap()).await;
    assert!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() <= 120);

    let app = spawn_app_with(|c| {
        c.sessions.idle_timeout = Duration::from_secs(60);
        c.tokens.access_ttl = Duration::from_secs(300);
    })
    .await;
    app.add_ana().await;
    let body = app.login("c1").await;
    assert!(body["expires_in"].as_u64().unwrap() <= 60, "nor its idle deadline");
}

#[tokio::test]
async fn a_deactivated_record_gets_no_more_tokens() {
    let app = spawn_app().await;
    app.add_ana().await;
    app.login("c1").await;
    app.add_record("4721", &[("employee_number", "4721"), ("phone", "+34665762878")], &[], false).await;
    let (status, _) = error_of(token(&app, "c1").await).await;
    assert_eq!(status, 409);
    assert!(app.audit_text().await.contains("record_inactive"));
}

#[tokio::test]
async fn a_record_deactivated_while_its_code_is_out_cannot_log_in() {
    // A verify reads the record once, before the code check: that read must still see
    // a deactivation made after the code was sent.
    let app = spawn_app().await;
    app.add_ana().await;
    let code = app.identify_and_receive("c1", "4721").await;
    app.add_record("4721", &[("employee_number", "4721"), ("phone", "+34665762878")], &[], false).await;
    let (status, body) = error_of(app.verify("c1", &code).await).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("no_pending_challenge")));
    assert_eq!(app.state_of("c1").await["state"], "unidentified");
}

#[tokio::test]
async fn roles_in_new_tokens_follow_the_record() {
    let app = spawn_app().await;
    app.add_ana().await;
    app.login("c1").await;
    app.add_record("4721", &[("employee_number", "4721"), ("phone", "+34665762878")], &["view_own_schedule"], true)
        .await;
    let body: Value = token(&app, "c1").await.json().await.unwrap();
    assert_eq!(body["subject"]["roles"], json!(["view_own_schedule"]));
}

#[tokio::test]
async fn delete_cancels_a_pending_code() {
    let app = spawn_app().await;
    app.add_ana().await;
    let code = app.identify_and_receive("c1", "4721").await;
    assert_eq!(app.delete("c1").await.status(), 204);
    assert_eq!(app.state_of("c1").await["state"], "unidentified");
    assert_eq!(app.verify("c1", &code).await.status(), 409);
    assert_eq!(app.delete("never-seen").await.status(), 204);
}

#[tokio::test]
async fn refresh_tokens_come_with_a_login_not_with_each_token() {
    let app = spawn_app().await;
    app.add_ana().await;
    assert!(app.login("c1").await["refresh_token"].is_string());
    let body: Value = token(&app, "c1").await.json().await.unwrap();
    assert!(body["access_token"].is_string());
    assert!(body.get("refresh_token").is_none(), "{body}");
}
