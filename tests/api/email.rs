//! Codes by e-mail through lettre to a real SMTP server on loopback.
use doorman::config::Provider;
use serde_json::json;

use crate::helpers::{TestApp, spawn_app_with};
use crate::providers::{SmtpSink, code_in, smtp_config};

/// An app whose e-mail goes to the SMTP server on `port`; Ana asks for her code by e-mail.
async fn ana_identifies_by_email(port: u16) -> (TestApp, reqwest::Response) {
    let app = spawn_app_with(|c| {
        c.delivery.email = Provider::Smtp;
        c.delivery.smtp = Some(smtp_config(port));
    })
    .await;
    app.add_ana().await;
    let response =
        app.post("c1", "identify", json!({"flow": "payroll", "identifier": "4721", "method": "email"})).await;
    (app, response)
}

#[tokio::test]
async fn an_email_code_arrives_over_smtp_and_verifies() {
    let (smtp, port) = SmtpSink::start();
    let (app, response) = ana_identifies_by_email(port).await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["challenge"]["destination"], "a***@corp.example");

    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.from, "no-reply@doorman.test");
    assert_eq!(mail.to, vec!["ana.ruiz@corp.example".to_string()]);
    assert!(mail.data.contains("Subject: Your verification code"), "{}", mail.data);
    assert!(mail.data.contains("To: ana.ruiz@corp.example"), "{}", mail.data);
    let code = code_in(mail.data.split("\r\n\r\n").nth(1).unwrap_or_default(), 6);
    let verified = app.verify("c1", &code).await;
    assert_eq!(verified.status(), 200);
    let body: serde_json::Value = verified.json().await.unwrap();
    let claims = crate::tokens::claims_of(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["amr"], json!(["otp"]), "RFC 8176 registers no value for e-mail");
}

#[tokio::test]
async fn an_unreachable_smtp_server_is_delivery_failed() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (app, response) = ana_identifies_by_email(closed).await;
    assert_eq!(response.status(), 502);
    assert_eq!(app.state_of("c1").await["state"], "unidentified");
}
