//! What the bot gets wrong keeps the error shape of §5; nothing is half-done.
use serde_json::{Value, json};

use super::*;

async fn post_raw(app: &TestApp, bot: (&str, &str), body: reqwest::Body, content_type: &str) -> (u16, Value) {
    raw_post(app, bot, "messages", content_type, body).await
}

#[tokio::test]
async fn bad_clients_bodies_and_flows_are_refused() {
    let app = spawn_app().await;
    let json_body = |v: Value| reqwest::Body::from(v.to_string());
    let (status, error) =
        post_raw(&app, ("hr-bot", "wrong"), json_body(json!({"text": "hi"})), "application/json").await;
    assert_eq!((status, error["error"].as_str()), (401, Some("invalid_client")));
    let (status, error) =
        post_raw(&app, BOT, json_body(json!({"text": "hi", "flow": "nope"})), "application/json").await;
    assert_eq!((status, error["error"].as_str()), (404, Some("unknown_flow")));
    let (status, error) =
        post_raw(&app, OTHER_BOT, json_body(json!({"text": "hi", "flow": "payroll"})), "application/json").await;
    assert_eq!((status, error["error"].as_str()), (403, Some("flow_not_allowed")));
    let (status, error) =
        post_raw(&app, BOT, json_body(json!({"text": "hi", "digits": "1"})), "application/json").await;
    assert_eq!((status, error["error"].as_str()), (400, Some("invalid_request")));
    let (status, _) = post_raw(&app, BOT, json_body(json!({"text": "x".repeat(4097)})), "application/json").await;
    assert_eq!(status, 400, "a text over 4 KiB");
    let (status, _) = post_raw(&app, BOT, json_body(json!({"text": "hi", "extra": 1})), "application/json").await;
    assert_eq!(status, 400, "unknown fields");
    let (status, _) = post_raw(&app, BOT, reqwest::Body::from("{\"text\": "), "application/json").await;
    assert_eq!(status, 400, "malformed JSON");
    let (status, _) = post_raw(&app, BOT, json_body(json!({"text": "x".repeat(20_000)})), "application/json").await;
    assert_eq!(status, 413);
    let (status, _) = post_raw(&app, BOT, json_body(json!({"text": "hi", "intent": ""})), "application/json").await;
    assert_eq!(status, 400, "an empty intent");
    // None of it started a dialog, and the server still serves.
    assert_eq!(app.state_of("c1").await, json!({"state": "unidentified"}));
    assert_eq!(say(&app, "c1", "hi").await.key(), "login.otp.identifier.prompt");
}

#[tokio::test]
async fn the_openapi_document_describes_the_messages_endpoint_with_schemas() {
    let app = spawn_app().await;
    let doc: Value = app.http.get(format!("{}/openapi.json", app.url)).send().await.unwrap().json().await.unwrap();
    let operation = &doc["paths"]["/v1/conversations/{channel}/{id}/messages"]["post"];
    let request = &operation["requestBody"]["content"]["application/json"]["schema"]["$ref"];
    let response = &operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"];
    assert_eq!(
        (request.as_str(), response.as_str()),
        (Some("#/components/schemas/MessageBody"), Some("#/components/schemas/Answer"))
    );
    // The state object is flattened in: `allOf` [state, the dialog's own fields].
    let answer = &doc["components"]["schemas"]["Answer"]["allOf"][1]["properties"];
    for field in ["step", "replies", "expect", "outcome", "redirect", "locale"] {
        assert!(answer.get(field).is_some(), "Answer lacks {field}: {answer}");
    }
    assert!(doc["components"]["schemas"]["Step"].is_object());
}
