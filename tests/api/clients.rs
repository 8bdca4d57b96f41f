use doorman::config::Secret;
use futures::future::join_all;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn wrong_missing_or_unknown_credentials_are_rejected() {
    let app = spawn_app().await;
    for credentials in [Some(("hr-bot", "wrong")), Some(("nobody", "whatever")), None] {
        let mut request = app.http.get(app.conversation_url("whatsapp", "c1", ""));
        if let Some((id, secret)) = credentials {
            request = request.basic_auth(id, Some(secret));
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{credentials:?}");
        assert!(response.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));
        assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_client");
    }
    let response = app
        .http
        .get(app.conversation_url("whatsapp", "c1", ""))
        .header("authorization", "Basic !!!")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn a_client_sees_only_its_own_conversations() {
    let app = spawn_app().await;
    app.add_ana().await;
    app.login("c1").await;
    let other: Value = app.get_as(OTHER_BOT, "c1").await.json().await.unwrap();
    assert_eq!(other, json!({"state": "unidentified"}));
    let response = app.post_as(OTHER_BOT, "c1", "token", Value::Null).await;
    assert_eq!(response.status(), 409);
    assert_eq!(app.state_of("c1").await["state"], "authenticated", "the owner's session is untouched");
}

#[tokio::test]
async fn a_client_may_use_only_its_flows() {
    let app = spawn_app().await;
    app.add_ana().await;
    let response = app.post_as(OTHER_BOT, "c1", "identify", json!({"flow": "payroll", "identifier": "4721"})).await;
    let (status, body) = error_of(response).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (403, "flow_not_allowed"));
    let (status, body) =
        error_of(app.post("c1", "identify", json!({"flow": "nope", "identifier": "4721"})).await).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (404, "unknown_flow"));
    assert_eq!(app.sink.count(), 0);
}

/// Start-up hashes no secret (README, Memory): the file's secret is checked against the
/// stored hash on the client's first request. After a change in the file the old secret
/// must stop working all the same, and concurrent first requests must all get in.
#[tokio::test]
async fn a_secret_changed_in_the_file_replaces_the_stored_one_at_the_next_start() {
    const ROTATED: &str = "hr-bot-rotated-secret-0123456789";
    let mut app = spawn_app().await;
    assert_eq!(app.get_as(BOT, "c1").await.status(), 200);
    app.config.clients[0].secret = Secret::new(ROTATED);
    let app = app.restart().await;
    let first = join_all((0..4).map(|_| app.get_as((BOT.0, ROTATED), "c1"))).await;
    assert!(first.iter().all(|r| r.status() == 200), "{:?}", first.iter().map(|r| r.status()).collect::<Vec<_>>());
    assert_eq!(app.get_as(BOT, "c1").await.status(), 401, "the secret the file no longer has");

    let app = app.restart().await;
    assert_eq!(app.get_as(BOT, "c1").await.status(), 401, "refused before the new secret is first used, too");
    assert_eq!(app.get_as((BOT.0, ROTATED), "c1").await.status(), 200);
}
