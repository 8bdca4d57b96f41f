//! Seed 001's conversation, word for word, and what it leaves behind.
use serde_json::json;

use super::*;

#[tokio::test]
async fn the_seed_conversation_logs_ana_in_and_sends_her_where_she_was_going() {
    let app = spawn_app().await;
    app.add_ana().await;
    let chat = "+34600000001";

    let said = message(
        &app,
        chat,
        json!({"text": "I want to check my pay stub for this month.", "intent": "payroll.payslip"}),
    )
    .await;
    assert_eq!(said.key(), "login.otp.identifier.prompt");
    assert_eq!(said.text(), "To verify your identity, what is your employee number?");
    assert_eq!((said.step(), said.state()), ("ask_identifier", "unidentified"));
    assert_eq!(said.0["expect"], json!({"input": "text"}));
    assert_eq!(app.sink.count(), 0, "nothing is sent before an identifier");

    let said = say(&app, chat, "My number is 4721.").await;
    assert_eq!(said.key(), "login.otp.sms.sent.message");
    assert_eq!(
        said.text(),
        "I found your record. We sent a verification code to the number ***78 registered in your profile. \
         Please enter the code (expires in 5 minutes)."
    );
    assert_eq!((said.step(), said.state()), ("ask_code", "pending"));
    assert_eq!(said.0["expect"], json!({"input": "text", "digits": 6}));
    let code = code_number(&app, 1).await;
    assert_eq!(app.sink.wait_for(1).await["destination"], "+34665762878", "the phone on record");

    let said = say(&app, chat, &format!("The code is {}.", wrong_code(&code))).await;
    assert_eq!(said.text(), "Incorrect code. You have 2 attempts remaining.");
    let said = say(&app, chat, &wrong_code(&code)).await;
    assert_eq!(said.text(), "Incorrect code. You have 1 attempt remaining.");
    assert_eq!(said.step(), "ask_code");

    let said = say(&app, chat, &format!("The code is {code}.")).await;
    assert_eq!(said.key(), "login.otp.success");
    assert_eq!(said.text(), "Identity verified. You are now signed in.");
    assert_eq!((said.step(), said.state()), ("done", "authenticated"));
    assert_eq!(said.outcome(), "authenticated");
    assert_eq!(said.0["redirect"], json!({"intent": "payroll.payslip"}));
    assert_eq!(said.0["expect"], serde_json::Value::Null);
    assert_eq!(said.0["subject"]["id"], "employees/4721");
    assert_eq!(said.0["token_type"], "Bearer");
    let token = said.0["access_token"].as_str().expect("a token");
    let claims = claims_of(token);
    assert_eq!((claims["sub"].as_str(), claims["amr"][0].as_str()), (Some("employees/4721"), Some("otp")));

    // The rules are the domain's: the same audit trail as an API login.
    let kinds = app.audit_kinds().await;
    for kind in ["identify.matched", "code.sent", "code.failed", "authenticated", "token.issued"] {
        assert!(kinds.iter().any(|k| k == kind), "audit lacks {kind}: {kinds:?}");
    }

    // Once signed in, the dialog says so and hands out a fresh token.
    let said = message(&app, chat, json!({"text": "hello again", "intent": "payroll.schedule"})).await;
    assert_eq!(said.key(), "login.otp.already.signin");
    assert_eq!(said.outcome(), "already_authenticated");
    assert_eq!(said.0["redirect"], json!({"intent": "payroll.schedule"}));
    assert!(said.0["access_token"].is_string());
}

fn claims_of(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

#[tokio::test]
async fn the_third_wrong_code_ends_the_login_and_the_next_message_starts_over() {
    let app = spawn_app().await;
    app.add_ana().await;
    say(&app, "c", "4721").await;
    let code = code_number(&app, 1).await;
    say(&app, "c", &wrong_code(&code)).await;
    say(&app, "c", &wrong_code(&code)).await;
    let said = say(&app, "c", &wrong_code(&code)).await;
    assert_eq!(said.key(), "login.otp.too.many.sms.kos");
    assert_eq!(
        said.text(),
        "Incorrect code. For security, the verification process was cancelled. Message me again to restart."
    );
    assert_eq!((said.step(), said.state(), said.outcome().as_str()), ("done", "unidentified", Some("failed")));
    let said = say(&app, "c", "hello?").await;
    assert_eq!(said.key(), "login.otp.identifier.prompt", "a new dialog");
    assert_eq!(app.state_of("c").await["state"], "unidentified", "the code is dead");
}

#[tokio::test]
async fn an_expired_code_is_said_so_and_the_new_code_command_still_works() {
    let app = spawn_app().await;
    app.add_ana().await;
    say(&app, "c", "4721").await;
    let old = code_number(&app, 1).await;
    app.clock.advance(std::time::Duration::from_secs(301));
    let said = say(&app, "c", &old).await;
    assert_eq!(said.key(), "login.otp.code.expired");
    assert_eq!(
        said.text(),
        "The code has expired. Please message me again and I will send you a new one, or just send \"new code\"."
    );
    assert_eq!(said.step(), "ask_code");
    let said = say(&app, "c", "New code!").await;
    assert_eq!(said.key(), "login.otp.resent");
    assert!(said.text().contains("***78") && said.text().contains("5 minutes"), "{}", said.text());
    let fresh = code_number(&app, 2).await;
    assert_eq!(say(&app, "c", &fresh).await.outcome(), "authenticated");
}

#[tokio::test]
async fn the_dialog_survives_a_restart_and_works_on_a_replica() {
    let app = spawn_app_with(|c| c.flows[0].identifier_format = "digits".parse().unwrap()).await;
    app.add_ana().await;
    say(&app, "c", "I want my payslip").await;
    assert_eq!(say(&app, "c", "no idea").await.key(), "login.otp.identifier.invalid");
    assert_eq!(say(&app, "c", "what?").await.key(), "login.otp.identifier.invalid");
    let app = app.restart().await;
    let said = say(&app, "c", "still no idea").await;
    assert_eq!(said.key(), "login.otp.too.many.phone.kos", "the prompts used were kept: {}", said.0);
    let replica = app.replica().await;
    say(&app, "d", "4721").await;
    let code = code_number(&app, 1).await;
    assert_eq!(say(&replica, "d", &code).await.outcome(), "authenticated");
}
