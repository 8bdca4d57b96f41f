//! Codes by SMS and WhatsApp through Twilio's Messages API, against a fake that checks
//! the path, the Basic auth and the form fields and answers with Twilio's own JSON.
use serde_json::json;
use wiremock::matchers::{basic_auth, method, path};
use wiremock::{Mock, MockServer};

use crate::helpers::{error_of, spawn_app_with};
use crate::providers::{
    SMS_FROM, WHATSAPP_FROM, code_in, forms_at, messages_path, twilio_accepting, twilio_error, use_twilio,
};

#[tokio::test]
async fn an_sms_code_is_a_twilio_message_that_verifies() {
    let twilio = twilio_accepting().await;
    let app = spawn_app_with(|c| use_twilio(c, &twilio)).await;
    app.add_ana().await;

    let response = app.post("c1", "identify", json!({"flow": "payroll", "identifier": "4721", "method": "sms"})).await;
    assert_eq!(response.status(), 200);
    let forms = forms_at(&twilio, &messages_path()).await;
    assert_eq!(forms.len(), 1);
    let form = &forms[0];
    assert_eq!(form["To"], "+34665762878");
    assert_eq!(form["From"], SMS_FROM);
    assert!(!form.contains_key("MessagingServiceSid"));
    let code = code_in(&form["Body"], 6);
    assert!(form["Body"].contains("verification code"), "{}", form["Body"]);

    let verified = app.verify("c1", &code).await;
    assert_eq!(verified.status(), 200);
    assert_eq!(app.sink.count(), 0, "nothing went to the webhook");
}

#[tokio::test]
async fn whatsapp_addresses_carry_the_channel_prefix() {
    let twilio = twilio_accepting().await;
    let app = spawn_app_with(|c| use_twilio(c, &twilio)).await;
    app.add_ana().await;

    let body: serde_json::Value = app.identify("c1", "4721").await.json().await.unwrap();
    assert_eq!(body["challenge"]["method"], "whatsapp");
    let form = &forms_at(&twilio, &messages_path()).await[0];
    assert_eq!(form["To"], "whatsapp:+34665762878");
    assert_eq!(form["From"], format!("whatsapp:{WHATSAPP_FROM}"));
}

#[tokio::test]
async fn an_approved_whatsapp_template_carries_the_code_as_variable_1() {
    let twilio = twilio_accepting().await;
    let app = spawn_app_with(|c| {
        use_twilio(c, &twilio);
        let t = c.delivery.twilio.as_mut().unwrap();
        t.whatsapp_content_sid = Some("HX0123456789abcdef0123456789abcdef".into());
        t.messaging_service_sid = Some("MG0123456789abcdef0123456789abcdef".into());
    })
    .await;
    app.add_ana().await;

    assert_eq!(app.identify("c1", "4721").await.status(), 200);
    let form = &forms_at(&twilio, &messages_path()).await[0];
    assert_eq!(form["ContentSid"], "HX0123456789abcdef0123456789abcdef");
    assert_eq!(form["MessagingServiceSid"], "MG0123456789abcdef0123456789abcdef");
    assert!(!form.contains_key("From") && !form.contains_key("Body"), "{form:?}");
    let variables: serde_json::Value = serde_json::from_str(&form["ContentVariables"]).unwrap();
    let code = variables["1"].as_str().unwrap().to_string();
    assert_eq!(app.verify("c1", &code).await.status(), 200);
}

#[tokio::test]
async fn a_twilio_error_is_delivery_failed_and_its_text_stays_inside() {
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .and(basic_auth(crate::providers::ACCOUNT_SID, crate::providers::AUTH_TOKEN))
        .respond_with(twilio_error(400, 21211, "Invalid 'To' Phone Number: +34665XXXXXX"))
        .mount(&twilio)
        .await;
    let app = spawn_app_with(|c| use_twilio(c, &twilio)).await;
    app.add_ana().await;

    let (status, body) = error_of(app.identify("c1", "4721").await).await;
    assert_eq!((status, body["error"].as_str()), (502, Some("delivery_failed")));
    assert!(!body.to_string().contains("Invalid"), "Twilio's text reached the client: {body}");
    assert_eq!(app.state_of("c1").await["state"], "unidentified", "no challenge is left half-made");
    let audit = app.audit_text().await;
    assert!(audit.contains("code.send_failed") && audit.contains("21211"), "{audit}");
    assert!(!audit.contains("Invalid 'To'"), "{audit}");
}

#[tokio::test]
async fn a_silent_twilio_is_a_timeout_not_a_hang_and_is_not_retried() {
    let twilio = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(wiremock::ResponseTemplate::new(201).set_delay(std::time::Duration::from_secs(5)))
        .mount(&twilio)
        .await;
    let app = spawn_app_with(|c| {
        use_twilio(c, &twilio);
        c.delivery.twilio.as_mut().unwrap().timeout = std::time::Duration::from_millis(300);
    })
    .await;
    app.add_ana().await;

    let (status, body) = error_of(app.identify("c1", "4721").await).await;
    assert_eq!((status, body["error"].as_str()), (502, Some("delivery_failed")));
    assert_eq!(forms_at(&twilio, &messages_path()).await.len(), 1, "one try only: a retry could send two codes");
}
