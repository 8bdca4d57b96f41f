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
