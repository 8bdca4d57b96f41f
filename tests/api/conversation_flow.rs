use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn identify_sends_a_code_to_the_phone_on_record_and_verify_authenticates() {
    let app = spawn_app().await;
    app.add_ana().await;

    let response = app.identify("+34600000001", "4721").await;
    assert_eq!(response.status(), 200);
    let pending: Value = response.json().await.unwrap();
    assert_eq!(pending["state"], "pending");
    assert_eq!(pending["flow"], "payroll");
    let challenge = &pending["challenge"];
    assert_eq!(challenge["method"], "whatsapp");
    assert_eq!(challenge["destination"], "***78");
    assert_eq!(challenge["expires_in"], 300);
    assert_eq!(challenge["attempts_remaining"], 3);
    assert_eq!(challenge["sends_remaining"], 2);

    let delivered = app.sink.wait_for(1).await;
    assert_eq!(app.sink.bad_signatures(), 0, "webhook signature must verify");
    assert_eq!(delivered["destination"], "+34665762878", "the full number from the record");
    assert_eq!(delivered["method"], "whatsapp");
    assert_eq!(delivered["challenge_id"], challenge["id"]);
    assert_eq!(delivered["conversation"], json!({"channel": "whatsapp", "id": "+34600000001"}));
    assert_eq!(delivered["locale"], "en");
    let code = delivered["code"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 6);
    assert!(delivered["message"].as_str().unwrap().contains(&code));
    assert!(delivered["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(app.state_of("+34600000001").await["state"], "pending");

    let response = app.verify("+34600000001", &code).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["state"], "authenticated");
    assert_eq!(body["subject"], json!({"id": "employees/4721", "roles": ["view_own_payroll", "view_own_schedule"]}));
    assert_eq!(body["session"]["idle_timeout"], 1800);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert!(body["access_token"].as_str().unwrap().split('.').count() == 3);
    assert!(body["refresh_token"].as_str().unwrap().len() >= 43);

    let state = app.state_of("+34600000001").await;
    assert_eq!(state["state"], "authenticated");
    assert!(state.get("access_token").is_none(), "GET never carries tokens: {state}");

    let response = app.post("+34600000001", "token", Value::Null).await;
    assert_eq!(response.status(), 200);
    let fresh: Value = response.json().await.unwrap();
    assert_ne!(fresh["access_token"], body["access_token"]);

    assert_eq!(app.delete("+34600000001").await.status(), 204);
    assert_eq!(app.state_of("+34600000001").await, json!({"state": "unidentified"}));

    let kinds = app.audit_kinds().await;
    for kind in ["identify.matched", "code.sent", "authenticated", "token.issued", "session.ended"] {
        assert!(kinds.iter().any(|k| k == kind), "audit lacks {kind}: {kinds:?}");
    }
    let audit = app.audit_text().await;
    assert!(!audit.contains(&code), "the code must never reach the audit trail");
    assert!(!audit.contains(body["access_token"].as_str().unwrap()));
}

#[tokio::test]
async fn a_flow_without_otp_authenticates_at_identify() {
    let app = spawn_app().await;
    app.add_ana().await;
    let response = app.post("+34600000002", "identify", json!({"flow": "schedule", "identifier": "4721"})).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["state"], "authenticated");
    assert!(body["access_token"].is_string());
    assert_eq!(app.sink.count(), 0, "no code is sent");
    let claims = crate::tokens::claims_of(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["acr"], "loa1");
    assert_eq!(claims["amr"], json!(["id"]));
}

/// verify looks for a session only when no code is live: a conversation that logged in
/// without ever having a code must still hear that it is authenticated.
#[tokio::test]
async fn a_code_for_a_conversation_authenticated_without_one_is_a_conflict() {
    let app = spawn_app().await;
    app.add_ana().await;
    let response = app.post("c1", "identify", json!({"flow": "schedule", "identifier": "4721"})).await;
    assert_eq!(response.status(), 200);
    let (status, body) = error_of(app.verify("c1", "123456").await).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (409, "already_authenticated"));
    assert_eq!(app.state_of("c1").await["state"], "authenticated");
}

#[tokio::test]
async fn the_first_delivery_method_the_record_has_is_used() {
    let app = spawn_app().await;
    app.add_record("7000", &[("employee_number", "7000"), ("corporate_email", "mail.only@corp.example")], &[], true)
        .await;
    let response = app.identify("c1", "7000").await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["challenge"]["method"], "email");
    assert_eq!(body["challenge"]["destination"], "m***@corp.example");
    assert_eq!(app.sink.wait_for(1).await["destination"], "mail.only@corp.example");
}

#[tokio::test]
async fn a_record_without_phone_or_email_has_no_delivery_method() {
    let app = spawn_app().await;
    app.add_record("8000", &[("employee_number", "8000")], &[], true).await;
    let (status, body) = error_of(app.identify("c1", "8000").await).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (422, "no_delivery_method"));
    assert_eq!(app.state_of("c1").await["state"], "unidentified");
}

#[tokio::test]
async fn unknown_and_inactive_identifiers_do_not_exist() {
    let app = spawn_app().await;
    app.add_record("5555", &[("employee_number", "5555"), ("phone", "+34600999999")], &["view_own_payroll"], false)
        .await;
    let (status, body) = error_of(app.identify("c1", "9999").await).await;
    assert_eq!(status, 422);
    assert_eq!(body["error"], "unknown_identifier");
    assert_eq!(body["attempts_remaining"], 2);
    let (status, body) = error_of(app.identify("c1", "5555").await).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (422, "unknown_identifier"), "inactive records do not exist");
    assert_eq!(body["attempts_remaining"], 1);
    assert_eq!(app.sink.count(), 0);
}

#[tokio::test]
async fn identifiers_are_normalized_like_the_imported_ones() {
    let app = spawn_app().await;
    app.add_record("9", &[("employee_number", "E-100"), ("phone", "+34600000009")], &[], true).await;
    let response = app.identify("c1", " e100# ").await;
    assert_eq!(response.status(), 200, "keypad and spacing variants match");
}

#[tokio::test]
async fn a_concealed_unknown_identifier_looks_like_a_known_one_and_never_verifies() {
    let app = spawn_app().await;
    app.add_ana().await;
    let known: Value =
        app.post("c-known", "identify", json!({"flow": "hidden", "identifier": "4721"})).await.json().await.unwrap();
    let response = app.post("c-unknown", "identify", json!({"flow": "hidden", "identifier": "0000"})).await;
    assert_eq!(response.status(), 200);
    let unknown: Value = response.json().await.unwrap();
    assert_eq!(unknown["state"], known["state"]);
    let shape = |v: &Value| v["challenge"].as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(shape(&unknown), shape(&known));
    assert_eq!(unknown["challenge"]["method"], "whatsapp");
    assert!(unknown["challenge"]["destination"].as_str().unwrap().starts_with("***"));
    assert_eq!(app.sink.count(), 1, "only the known record got a code");

    let code = app.sink.wait_for(1).await["code"].as_str().unwrap().to_string();
    for _ in 0..2 {
        let (status, body) = error_of(app.verify("c-unknown", &code).await).await;
        assert_eq!((status, body["error"].as_str().unwrap()), (422, "invalid_code"));
    }
    let (_, body) = error_of(app.verify("c-unknown", &code).await).await;
    assert_eq!(body["error"], "too_many_attempts");
    let resend = app.post("c-known", "resend", Value::Null).await;
    assert_eq!(resend.status(), 429, "known conversation still pending and on cooldown");
}

#[tokio::test]
async fn the_code_message_follows_the_requested_locale() {
    let app = spawn_app().await;
    app.add_ana().await;
    app.post("c1", "identify", json!({"flow": "payroll", "identifier": "4721", "locale": "es-ES"})).await;
    let message = app.sink.wait_for(1).await;
    assert_eq!(message["locale"], "es");
    assert!(message["message"].as_str().unwrap().contains("código"), "{message}");
}

#[tokio::test]
async fn a_failed_delivery_is_a_502_and_leaves_nothing_pending() {
    let app = spawn_app().await;
    app.add_ana().await;
    app.sink.set_failing(true);
    let (status, body) = error_of(app.identify("c1", "4721").await).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (502, "delivery_failed"));
    assert_eq!(app.state_of("c1").await["state"], "unidentified");
    assert!(app.audit_kinds().await.contains(&"code.send_failed".to_string()));
}

#[tokio::test]
async fn identify_on_an_authenticated_conversation_is_a_conflict() {
    let app = spawn_app().await;
    app.add_ana().await;
    app.login("c1").await;
    let (status, body) = error_of(app.identify("c1", "4721").await).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (409, "already_authenticated"));
}
