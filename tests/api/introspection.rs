//! `/oauth/introspect` (RFC 7662) and `/oauth/revoke` (RFC 7009).
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::oauth::{SCOPED, text};

async fn introspect(app: &TestApp, token: &str) -> Value {
    let response = app.oauth("/oauth/introspect", BOT, &[("token", token)]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

async fn revoke(app: &TestApp, token: &str) {
    assert_eq!(app.oauth("/oauth/revoke", BOT, &[("token", token)]).await.status(), 200);
}

fn inactive() -> Value {
    json!({"active": false})
}

#[tokio::test]
async fn a_live_access_token_is_active_with_its_claims() {
    let app = spawn_app().await;
    app.add_ana().await;
    let login = app.login("c1").await;
    let answer = introspect(&app, &text(&login, "access_token")).await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["sub"], "employees/4721");
    assert_eq!(answer["client_id"], "hr-bot");
    assert_eq!(answer["sid"], login["session"]["id"]);
    assert_eq!(answer["roles"], json!(["view_own_payroll", "view_own_schedule"]));
    let other = app.oauth("/oauth/introspect", OTHER_BOT, &[("token", &text(&login, "access_token"))]).await;
    assert_eq!(other.json::<Value>().await.unwrap()["active"], true, "resource servers are clients too");
}

#[tokio::test]
async fn expired_ended_unknown_and_forged_tokens_are_exactly_inactive() {
    let app = spawn_app().await;
    app.add_ana().await;
    let login = app.login("c1").await;
    let access = text(&login, "access_token");
    assert_eq!(introspect(&app, "not-a-token").await, inactive());
    assert_eq!(introspect(&app, &forged(&access, "none")).await, inactive(), "alg none");
    assert_eq!(introspect(&app, &forged(&access, "HS256")).await, inactive(), "HS/ES confusion");
    let mut parts: Vec<&str> = access.split('.').collect();
    let payload = tampered_payload(parts[1]);
    parts[1] = &payload;
    assert_eq!(introspect(&app, &parts.join(".")).await, inactive(), "tampered claims");
    app.delete("c1").await;
    assert_eq!(introspect(&app, &access).await, inactive(), "the session ended");
    let login = app.login("c2").await;
    app.clock.advance(Duration::from_secs(301));
    assert_eq!(introspect(&app, &text(&login, "access_token")).await, inactive(), "expired");
}

/// The token's header and payload with `alg` replaced, "signed" with an HMAC whose key
/// is public knowledge.
fn forged(token: &str, alg: &str) -> String {
    let mut parts = token.split('.');
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap()).unwrap();
    let mut header = header.as_object().unwrap().clone();
    header.insert("alg".into(), json!(alg));
    let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap());
    let payload = parts.next().unwrap();
    let signature = if alg == "none" { String::new() } else { URL_SAFE_NO_PAD.encode([7u8; 32]) };
    format!("{header}.{payload}.{signature}")
}

fn tampered_payload(payload: &str) -> String {
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["roles"] = json!(["admin"]);
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap())
}

#[tokio::test]
async fn revoking_an_access_token_ends_its_session() {
    let app = spawn_app().await;
    app.add_ana().await;
    let login = app.login("c1").await;
    let response = app.oauth("/oauth/revoke", OTHER_BOT, &[("token", &text(&login, "access_token"))]).await;
    assert_eq!(response.status(), 200, "another client's token: nothing is told");
    assert_eq!(app.state_of("c1").await["state"], "authenticated", "and nothing happens");
    revoke(&app, &text(&login, "access_token")).await;
    assert_eq!(app.state_of("c1").await, json!({"state": "unidentified"}));
    assert_eq!(introspect(&app, &text(&login, "access_token")).await, inactive());
    assert_eq!(introspect(&app, &text(&login, "refresh_token")).await, inactive());
    assert!(app.audit_text().await.contains("\"reason\":\"revoked\""));
}

#[tokio::test]
async fn refresh_tokens_introspect_and_revoke_for_their_own_client() {
    let app = spawn_app().await;
    app.add_ana().await;
    let login = app.login("c1").await;
    let refresh = text(&login, "refresh_token");
    let answer = introspect(&app, &refresh).await;
    assert_eq!((answer["active"].as_bool(), answer["token_type"].as_str()), (Some(true), Some("refresh_token")));
    assert_eq!(answer["sub"], "employees/4721");
    let foreign = app.oauth("/oauth/introspect", OTHER_BOT, &[("token", &refresh)]).await;
    assert_eq!(foreign.json::<Value>().await.unwrap(), inactive());
    revoke(&app, &refresh).await;
    assert_eq!(app.state_of("c1").await, json!({"state": "unidentified"}));
    assert_eq!(introspect(&app, &refresh).await, inactive());
}

#[tokio::test]
async fn a_revoked_client_token_is_inactive() {
    let app = spawn_app_with(SCOPED).await;
    let body: Value =
        app.oauth("/oauth/token", BOT, &[("grant_type", "client_credentials")]).await.json().await.unwrap();
    let token = text(&body, "access_token");
    let answer = introspect(&app, &token).await;
    assert_eq!(
        (answer["active"].as_bool(), answer["scope"].as_str()),
        (Some(true), Some("payroll.read schedule.read"))
    );
    revoke(&app, &token).await;
    assert_eq!(introspect(&app, &token).await, inactive());
}

#[tokio::test]
async fn introspection_and_revocation_need_client_authentication() {
    let app = spawn_app().await;
    for path in ["/oauth/introspect", "/oauth/revoke"] {
        let (status, body) = error_of(app.oauth(path, ("hr-bot", "wrong"), &[("token", "x")]).await).await;
        assert_eq!((status, body["error"].as_str().unwrap()), (401, "invalid_client"), "{path}");
        let (status, body) = error_of(app.oauth(path, BOT, &[]).await).await;
        assert_eq!((status, body["error"].as_str().unwrap()), (400, "invalid_request"), "{path}");
    }
}

#[tokio::test]
async fn metadata_is_complete_and_names_only_what_is_served() {
    let app = spawn_app_with(SCOPED).await;
    let mut documents = Vec::new();
    for path in ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"] {
        documents.push(app.http.get(format!("{}{path}", app.url)).send().await.unwrap().json::<Value>().await.unwrap());
    }
    assert_eq!(documents[0], documents[1], "the same document at both addresses");
    let metadata = &documents[0];
    assert_eq!(
        metadata["grant_types_supported"],
        json!(["client_credentials", "refresh_token", "urn:doorman:params:oauth:grant-type:otp"])
    );
    assert_eq!(metadata["token_endpoint_auth_methods_supported"], json!(["client_secret_basic", "client_secret_post"]));
    assert_eq!(metadata["scopes_supported"], json!(["payroll.read", "schedule.read"]));
    for key in ["token_endpoint", "introspection_endpoint", "revocation_endpoint"] {
        let path = text(metadata, key).strip_prefix("http://doorman.test").unwrap().to_string();
        let response = app.oauth(&path, BOT, &[("token", "x"), ("grant_type", "client_credentials")]).await;
        assert_eq!(response.status(), 200, "{key} is served at {path}");
    }
}
