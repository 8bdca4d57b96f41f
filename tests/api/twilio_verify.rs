//! Twilio Verify v2 mode: Twilio makes and checks the code; doorman still counts the
//! attempts and stores no code. The fake answers both endpoints as Twilio does.
use serde_json::json;
use wiremock::matchers::{basic_auth, body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{TestApp, error_of, spawn_app_with};
use crate::providers::{ACCOUNT_SID, AUTH_TOKEN, VERIFY_SID, forms_at, twilio_error, use_twilio};

fn verifications() -> String {
    format!("/v2/Services/{VERIFY_SID}/Verifications")
}

fn check() -> String {
    format!("/v2/Services/{VERIFY_SID}/VerificationCheck")
}

fn verification(status: &str) -> serde_json::Value {
    json!({
        "sid": "VE0123456789abcdef0123456789abcdef", "service_sid": VERIFY_SID, "account_sid": ACCOUNT_SID,
        "to": "+34665762878", "channel": "whatsapp", "status": status, "valid": status == "approved",
        "lookup": {}, "amount": null, "payee": null, "send_code_attempts": [],
        "date_created": "2026-11-22T10:00:00Z", "date_updated": "2026-11-22T10:00:00Z",
        "url": format!("https://verify.twilio.com/v2/Services/{VERIFY_SID}/Verifications/VE0123456789abcdef0123456789abcdef"),
    })
}

async fn fake_verify() -> MockServer {
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(verifications()))
        .and(basic_auth(ACCOUNT_SID, AUTH_TOKEN))
        .respond_with(ResponseTemplate::new(201).set_body_json(verification("pending")))
        .mount(&twilio)
        .await;
    Mock::given(method("POST"))
        .and(path(check()))
        .and(body_string_contains("Code=424242"))
        .respond_with(ResponseTemplate::new(200).set_body_json(verification("approved")))
        .mount(&twilio)
        .await;
    Mock::given(method("POST"))
        .and(path(check()))
        .and(body_string_contains("Code=111111"))
        .respond_with(twilio_error(404, 20404, "The requested resource was not found"))
        .mount(&twilio)
        .await;
    Mock::given(method("POST"))
        .and(path(check()))
        .respond_with(ResponseTemplate::new(200).set_body_json(verification("pending")))
        .mount(&twilio)
        .await;
    twilio
}

async fn ana_on_a_verify_flow(twilio: &MockServer) -> TestApp {
    let app = spawn_app_with(|c| {
        use_twilio(c, twilio);
        c.flows[0].twilio_verify = true;
    })
    .await;
    app.add_ana().await;
    app
}

#[tokio::test]
async fn twilio_owns_the_code_and_doorman_checks_it_there() {
    let twilio = fake_verify().await;
    let app = ana_on_a_verify_flow(&twilio).await;

    assert_eq!(app.identify("c1", "4721").await.status(), 200);
    let started = forms_at(&twilio, &verifications()).await;
    assert_eq!(started.len(), 1);
    assert_eq!((started[0]["To"].as_str(), started[0]["Channel"].as_str()), ("+34665762878", "whatsapp"));
    assert_eq!(started[0]["Locale"], "en");
    assert!(forms_at(&twilio, &crate::providers::messages_path()).await.is_empty(), "no Messages call");

    let (status, body) = error_of(app.verify("c1", "000000").await).await;
    assert_eq!(
        (status, body["error"].as_str(), body["attempts_remaining"].as_u64()),
        (422, Some("invalid_code"), Some(2))
    );
    let verified = app.verify("c1", "424242").await;
    assert_eq!(verified.status(), 200);
    let checks = forms_at(&twilio, &check()).await;
    assert_eq!(checks.len(), 2);
    assert_eq!((checks[1]["To"].as_str(), checks[1]["Code"].as_str()), ("+34665762878", "424242"));
}

#[tokio::test]
async fn doorman_still_enforces_its_own_attempts_under_verify() {
    let twilio = fake_verify().await;
    let app = ana_on_a_verify_flow(&twilio).await;
    app.identify("c1", "4721").await;

    assert_eq!(app.verify("c1", "111111").await.status(), 422, "Twilio's 404 is a wrong code");
    app.verify("c1", "000000").await;
    let (status, body) = error_of(app.verify("c1", "000000").await).await;
    assert_eq!((status, body["error"].as_str()), (422, Some("too_many_attempts")));
    let (status, _) = error_of(app.verify("c1", "424242").await).await;
    assert_eq!(status, 409, "the challenge is gone even though Twilio would approve");
    assert_eq!(forms_at(&twilio, &check()).await.len(), 3, "the refused attempt never reached Twilio");
}
