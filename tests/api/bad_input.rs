use serde_json::{Value, json};

use crate::helpers::*;

async fn raw_identify(app: &TestApp, content_type: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    raw_post(app, BOT, "identify", content_type, body).await
}

#[tokio::test]
async fn bad_bodies_get_a_json_4xx_and_the_server_keeps_serving() {
    let app = spawn_app().await;
    app.add_ana().await;
    let json_type = "application/json";
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (json_type, b"{not json".to_vec(), 400),
        (json_type, br#"{"flow": 1, "identifier": "4721"}"#.to_vec(), 400),
        (json_type, br#"{"flow": "payroll"}"#.to_vec(), 400),
        (json_type, br#"{"flow": "payroll", "identifier": "4721", "phone": "+1555"}"#.to_vec(), 400),
        (json_type, br#"[]"#.to_vec(), 400),
        (json_type, vec![0xff, 0xfe, 0x00], 400),
        (json_type, format!(r#"{{"flow": "payroll", "identifier": "{}"}}"#, "7".repeat(200)).into_bytes(), 400),
        (json_type, br#"{"flow": "payroll", "identifier": "4721", "locale": "en<script>"}"#.to_vec(), 400),
        (json_type, format!(r#"{{"flow": "{}", "identifier": "1"}}"#, "x".repeat(20_000)).into_bytes(), 413),
        ("text/plain", br#"{"flow": "payroll", "identifier": "4721"}"#.to_vec(), 415),
    ];
    for (content_type, body, expected) in cases {
        let shown = String::from_utf8_lossy(&body).chars().take(60).collect::<String>();
        let (status, error) = raw_identify(&app, content_type, body).await;
        assert_eq!(status, expected, "{shown}: {error}");
        assert!(error["error"].is_string() && error["error_description"].is_string(), "{error}");
    }
    assert_eq!(app.sink.count(), 0, "a rejected request sends nothing");
    assert_eq!(app.http.get(format!("{}/healthz", app.url)).send().await.unwrap().status(), 200);
    app.login("c1").await;
}

#[tokio::test]
async fn the_conversation_address_is_checked() {
    let app = spawn_app().await;
    let long_id = "9".repeat(300);
    for (channel, id) in [
        ("WhatsApp", "c1"),
        ("a-very-long-channel-name-over-32-chars", "c1"),
        ("sms", long_id.as_str()),
        ("sms", "a\u{7}b"),
    ] {
        let url = format!("{}/v1/conversations/{channel}/{}", app.url, percent_encode(id));
        let response = app.http.get(url).basic_auth(BOT.0, Some(BOT.1)).send().await.unwrap();
        let (status, body) = error_of(response).await;
        assert_eq!((status, body["error"].as_str().unwrap()), (400, "invalid_request"), "{channel} {id}");
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_in_the_same_shape() {
    let app = spawn_app().await;
    let (status, body) = error_of(app.http.get(format!("{}/v2/nothing", app.url)).send().await.unwrap()).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (404, "not_found"));
    let response =
        app.http.put(app.conversation_url("whatsapp", "c1", "verify")).json(&json!({})).send().await.unwrap();
    let (status, body) = error_of(response).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (405, "method_not_allowed"));
}

#[tokio::test]
async fn ids_with_reserved_characters_round_trip() {
    let app = spawn_app().await;
    app.add_ana().await;
    let id = "+34 600/000?#1";
    app.login(id).await;
    assert_eq!(app.state_of(id).await["state"], "authenticated");
    assert_eq!(app.state_of("+34 600").await["state"], "unidentified");
}

/// Ids as sent, escapes and all: an id that is not printable once decoded, a `%` that
/// starts no escape, bytes that are not UTF-8. Each is a 400 in the error shape.
#[tokio::test]
async fn conversation_ids_must_be_printable_and_well_escaped() {
    let app = spawn_app().await;
    for raw in ["a%E2%80%AEb", "%EF%BB%BFc1", "c%E2%80%8B1", "a%zz", "a%", "%2", "%C0%AF", "%FF", "%C3", "%E0%80%AF"] {
        let url = format!("{}/v1/conversations/whatsapp/{raw}", app.url);
        let response = app.http.get(url).basic_auth(BOT.0, Some(BOT.1)).send().await.unwrap();
        assert_eq!(response.headers()["content-type"], "application/json", "{raw}");
        let (status, body) = error_of(response).await;
        assert_eq!((status, body["error"].as_str().unwrap()), (400, "invalid_request"), "{raw}: {body}");
    }
    let url = format!("{}/v1/conversations/whatsapp/{}", app.url, percent_encode("+34 600%/é"));
    let response = app.http.get(url).basic_auth(BOT.0, Some(BOT.1)).send().await.unwrap();
    assert_eq!(response.status(), 200, "an escaped `%`, `/` and é are fine");
}

#[tokio::test]
async fn admin_path_parameters_are_refused_in_the_error_shape() {
    let token = crate::admin::ADMIN_TOKEN;
    let app = spawn_app_with(|c| c.admin.token = Some(doorman::config::Secret::new(token))).await;
    for path in ["/directories/employees/records/%C0%AF", "/directories/%FF/records/4721", "/clients/a%zz/rotate"] {
        let url = format!("{}/admin/v1{path}", app.url);
        let method = if path.ends_with("rotate") { reqwest::Method::POST } else { reqwest::Method::GET };
        let response = app.http.request(method, url).bearer_auth(token).send().await.unwrap();
        assert_eq!(response.headers()["content-type"], "application/json", "{path}");
        let (status, body) = error_of(response).await;
        assert_eq!((status, body["error"].as_str().unwrap()), (400, "invalid_request"), "{path}: {body}");
    }
}

#[tokio::test]
async fn json_refusals_name_the_position_and_the_field_not_the_framework() {
    let app = spawn_app().await;
    let json_type = "application/json";
    let (status, body) = raw_identify(&app, json_type, "{\n  \"flow\": \"payroll\",\n  oops").await;
    assert_eq!(status, 400);
    assert!(body["error_description"].as_str().unwrap().contains("at line 3 column 3"), "{body}");
    let (_, body) = raw_identify(&app, json_type, r#"{"flow": 1, "identifier": "4721"}"#).await;
    let description = body["error_description"].as_str().unwrap();
    assert!(description.starts_with("invalid JSON body: flow: invalid type: integer `1`"), "{description}");
    assert!(!description.contains("Failed to") && !description.contains("IdentifyBody"), "{description}");
    let (_, body) = raw_identify(&app, json_type, "[]").await;
    assert!(!body["error_description"].as_str().unwrap().contains("struct"), "{body}");
}
