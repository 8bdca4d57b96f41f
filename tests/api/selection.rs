//! Which method and destination a code goes to: the flow's order, the person's choice,
//! valid addresses only, masking, fallback on provider failure, and the language.
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

use crate::helpers::{error_of, spawn_app, spawn_app_with};
use crate::providers::{messages_path, twilio_error, use_twilio};

async fn identify_with(app: &crate::helpers::TestApp, conversation: &str, body: Value) -> reqwest::Response {
    app.post(conversation, "identify", body).await
}

#[tokio::test]
async fn the_person_may_choose_among_the_flows_methods() {
    let app = spawn_app().await;
    app.add_ana().await;

    let body: Value = identify_with(&app, "c1", json!({"flow": "payroll", "identifier": "4721", "method": "email"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["challenge"]["method"], "email");
    assert_eq!(body["challenge"]["destination"], "a***@corp.example");
    let delivered = app.sink.wait_for(1).await;
    assert_eq!(
        (delivered["method"].as_str(), delivered["destination"].as_str()),
        (Some("email"), Some("ana.ruiz@corp.example"))
    );

    let (status, body) =
        error_of(identify_with(&app, "c3", json!({"flow": "payroll", "identifier": "4721", "method": "fax"})).await)
            .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
}

#[tokio::test]
async fn a_method_the_flow_does_not_offer_is_refused() {
    let app = spawn_app_with(|c| c.flows[0].delivery = vec!["email:corporate_email".parse().unwrap()]).await;
    app.add_ana().await;
    let (status, body) =
        error_of(identify_with(&app, "c1", json!({"flow": "payroll", "identifier": "4721", "method": "sms"})).await)
            .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
    assert_eq!(app.sink.count(), 0);
}

#[tokio::test]
async fn invalid_phone_numbers_are_skipped_and_valid_ones_are_sent_in_e164() {
    let app = spawn_app().await;
    app.add_record(
        "1",
        &[("employee_number", "1"), ("phone", "665762878"), ("corporate_email", "bea@corp.example")],
        &[],
        true,
    )
    .await;
    app.add_record("2", &[("employee_number", "2"), ("phone", "+34 665 76 28 91")], &[], true).await;
    app.add_record("3", &[("employee_number", "3"), ("phone", "+34 12"), ("corporate_email", "no-at-sign")], &[], true)
        .await;

    let first: Value = app.identify("c1", "1").await.json().await.unwrap();
    assert_eq!(
        (first["challenge"]["method"].as_str(), first["challenge"]["destination"].as_str()),
        (Some("email"), Some("b***@corp.example"))
    );
    let second: Value = app.identify("c2", "2").await.json().await.unwrap();
    assert_eq!(
        (second["challenge"]["method"].as_str(), second["challenge"]["destination"].as_str()),
        (Some("whatsapp"), Some("***91"))
    );
    assert_eq!(app.sink.wait_for(2).await["destination"], "+34665762891");
    let (status, body) = error_of(app.identify("c3", "3").await).await;
    assert_eq!((status, body["error"].as_str()), (422, Some("no_delivery_method")));
}

async fn failing_twilio() -> MockServer {
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(twilio_error(400, 63016, "Failed to send freeform message outside the allowed window"))
        .mount(&twilio)
        .await;
    twilio
}

#[tokio::test]
async fn with_fallback_a_provider_failure_tries_the_next_method_uncounted() {
    let twilio = failing_twilio().await;
    let app = spawn_app_with(|c| {
        use_twilio(c, &twilio);
        c.flows[0].fallback = true;
    })
    .await;
    app.add_ana().await;

    let response = app.identify("c1", "4721").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["challenge"]["method"], "email", "whatsapp and sms failed at Twilio, e-mail went out");
    assert_eq!(body["challenge"]["sends_remaining"], 2, "failed tries are not counted as sends");
    let delivered = app.sink.wait_for(1).await;
    assert_eq!(delivered["method"], "email");
    assert_eq!(app.verify("c1", delivered["code"].as_str().unwrap()).await.status(), 200);
    let kinds = app.audit_kinds().await;
    assert_eq!(kinds.iter().filter(|k| *k == "code.send_failed").count(), 2, "{kinds:?}");
}

#[tokio::test]
async fn without_fallback_a_provider_failure_is_delivery_failed() {
    let twilio = failing_twilio().await;
    let app = spawn_app_with(|c| use_twilio(c, &twilio)).await;
    app.add_ana().await;

    let (status, body) = error_of(app.identify("c1", "4721").await).await;
    assert_eq!((status, body["error"].as_str()), (502, Some("delivery_failed")));
    assert_eq!(app.sink.count(), 0);
    assert_eq!(app.state_of("c1").await["state"], "unidentified");
}

#[tokio::test]
async fn the_language_comes_from_the_request_then_the_record_then_the_default() {
    let app = spawn_app().await;
    let fields = [("employee_number", "8"), ("phone", "+34665762808"), ("locale", "es-MX")];
    app.add_record("8", &fields, &[], true).await;

    app.identify("c1", "8").await;
    let record_locale = app.sink.wait_for(1).await;
    assert_eq!(record_locale["locale"], "es");
    assert!(record_locale["message"].as_str().unwrap().starts_with("Tu código"), "{record_locale}");

    identify_with(&app, "c2", json!({"flow": "payroll", "identifier": "8", "locale": "en-GB"})).await;
    let requested = app.sink.wait_for(2).await;
    assert_eq!(requested["locale"], "en");
    assert!(requested["message"].as_str().unwrap().starts_with("Your verification code"), "{requested}");
}

#[tokio::test]
async fn a_concealed_unknown_identifier_answers_with_the_method_asked_for() {
    let app = spawn_app().await;
    let body: Value = identify_with(&app, "c1", json!({"flow": "hidden", "identifier": "nobody", "method": "email"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["state"], "pending");
    assert_eq!(body["challenge"]["method"], "email", "a decoy must look like a real reply");
}
