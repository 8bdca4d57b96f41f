//! Client authentication as RFC 6749 §2.3.1 has clients send it: the id and secret
//! form-urlencoded before they go into the Basic header; and the RFC 7009 / RFC 7662
//! endpoints' answer to a request without a form body.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use doorman::config::{ClientConfig, Secret};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

/// An id and a secret with every character a generated secret can hold, and more.
const ODD: (&str, &str) = ("report_s-bot", "s3cr-et_with+plus %percent:colon");

fn with_odd_client(c: &mut doorman::config::Config) {
    c.clients[0].scopes = vec!["payroll.read".into()];
    c.clients.push(ClientConfig {
        id: ODD.0.into(),
        secret: Secret::new(ODD.1),
        flows: vec!["payroll".into()],
        scopes: vec!["reports.read".into()],
    });
}

/// Form-urlencoding as the strictest clients do it (openid-client turns `-` into `%2D`):
/// every byte but letters and digits escaped, a space as `+`.
fn form_encoded(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn basic(raw: &str) -> String {
    format!("Basic {}", STANDARD.encode(raw))
}

fn encoded_basic((id, secret): (&str, &str)) -> String {
    basic(&format!("{}:{}", form_encoded(id), form_encoded(secret)))
}

async fn token_with(app: &TestApp, authorization: &str) -> (u16, Value) {
    let request = app.http.post(format!("{}/oauth/token", app.url)).header("authorization", authorization);
    let response = request.form(&[("grant_type", "client_credentials")]).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn form_encoded_basic_credentials_authenticate_everywhere() {
    let app = spawn_app_with(with_odd_client).await;
    let encoded = encoded_basic(ODD);
    assert!(encoded != basic(&format!("{}:{}", ODD.0, ODD.1)), "the encoding changes the header");

    let (status, body) = token_with(&app, &encoded).await;
    assert_eq!(status, 200, "{body}");
    let claims = crate::tokens::claims_of(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["sub"], ODD.0);

    let state = app.http.get(app.conversation_url("whatsapp", "c1", "")).header("authorization", &encoded);
    assert_eq!(state.send().await.unwrap().status(), 200, "the conversation API decodes too");

    // A bot's own id and secret sent as they are still work: `-` and `_` need no escape.
    let (status, body) = token_with(&app, &basic(&format!("{}:{}", BOT.0, BOT.1))).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = token_with(&app, &encoded_basic(BOT)).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_malformed_escape_is_invalid_client() {
    let app = spawn_app_with(with_odd_client).await;
    for raw in ["hr%2-bot:x", "hr-bot:%zzsecret", "hr-bot:secret%", "%FF%FE:x"] {
        let (status, body) = token_with(&app, &basic(raw)).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{raw}: {body}");
        let state = app.http.get(app.conversation_url("whatsapp", "c1", "")).header("authorization", basic(raw));
        let response = state.send().await.unwrap();
        assert_eq!(response.status(), 401, "{raw}");
        assert_eq!(response.headers()["www-authenticate"], "Basic realm=\"doorman\"");
    }
    // A broken Basic header is not passed over for client_secret_post credentials.
    let request = app.http.post(format!("{}/oauth/token", app.url)).header("authorization", basic("hr%2:x"));
    let params = [("grant_type", "client_credentials"), ("client_id", BOT.0), ("client_secret", BOT.1)];
    let (status, body) = error_of(request.form(&params).send().await.unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{body}");
}

#[tokio::test]
async fn revoke_and_introspect_without_a_form_body_are_invalid_request() {
    let app = spawn_app().await;
    for path in ["/oauth/revoke", "/oauth/introspect"] {
        let url = format!("{}{path}", app.url);
        let cases = [
            app.http.post(&url).basic_auth(BOT.0, Some(BOT.1)),
            app.http.post(&url).basic_auth(BOT.0, Some(BOT.1)).header("content-type", "text/plain").body("token=x"),
            app.http.post(&url).basic_auth(BOT.0, Some(BOT.1)).form(&[("token_type_hint", "access_token")]),
        ];
        for request in cases {
            let (status, body) = error_of(request.send().await.unwrap()).await;
            assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")), "{path}: {body}");
            assert!(body["error_description"].as_str().unwrap().contains("token"), "{body}");
        }
    }
    // The token endpoint keeps its 415 for a body of another type.
    let token = app.http.post(format!("{}/oauth/token", app.url)).basic_auth(BOT.0, Some(BOT.1)).body("x");
    assert_eq!(token.send().await.unwrap().status(), 415);
}

#[tokio::test]
async fn a_client_id_can_never_look_like_a_subject() {
    let dir = tempfile::tempdir().unwrap();
    for id in ["employees/4721", "bot one", "", "ñandú", &"x".repeat(65)] {
        let mut config = base_config(dir.path(), "sqlite::memory:".into(), "http://127.0.0.1:9/otp".into());
        config.clients[1].id = id.to_string();
        let message = config.validated().err().unwrap_or_else(|| panic!("{id:?} was accepted")).to_string();
        assert!(message.starts_with("clients[1]"), "{id:?}: {message}");
    }
    let app = spawn_app_with(|c| c.admin.token = Some(Secret::new(crate::admin::ADMIN_TOKEN))).await;
    for id in ["employees/4721", "a b"] {
        let request = app.admin(Method::POST, "/clients").json(&json!({"client_id": id, "flows": ["schedule"]}));
        let (status, body) = error_of(request.send().await.unwrap()).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")), "{id}: {body}");
        assert!(body["error_description"].as_str().unwrap().contains("subject"), "{body}");
    }
}
