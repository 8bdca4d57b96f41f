//! What the domain refuses, as the person hears it.
use super::*;

#[tokio::test]
async fn a_failed_delivery_can_be_retried() {
    let app = spawn_app().await;
    app.add_ana().await;
    app.sink.set_failing(true);
    let said = say(&app, "c", "4721").await;
    assert_eq!(said.key(), "login.otp.delivery.failed");
    assert_eq!(said.step(), "ask_identifier");
    app.sink.set_failing(false);
    assert_eq!(say(&app, "c", "4721").await.key(), "login.otp.sms.sent.message");
}

#[tokio::test]
async fn a_record_without_phone_or_email_ends_the_dialog() {
    let app = spawn_app().await;
    app.add_record("4740", &[("employee_number", "4740")], &[], true).await;
    let said = say(&app, "c", "4740").await;
    assert_eq!(said.key(), "login.otp.no.delivery.method");
    assert_eq!(said.outcome(), "failed");
}

#[tokio::test]
async fn the_per_record_lockout_holds_across_dialogs() {
    let app = spawn_app_with(|c| c.otp.max_failures_per_record = 2).await;
    app.add_ana().await;
    say(&app, "a", "4721").await;
    let code = code_number(&app, 1).await;
    say(&app, "a", &wrong_code(&code)).await;
    say(&app, "b", "4721").await;
    let said = say(&app, "b", &wrong_code(&code)).await;
    assert_eq!(said.key(), "login.otp.code.invalid", "the second failure locks the record");
    let said = say(&app, "b", &wrong_code(&code)).await;
    assert_eq!(said.key(), "login.otp.locked");
    assert_eq!(said.outcome(), "failed");
    assert_eq!(say(&app, "c", "4721").await.key(), "login.otp.locked", "a new conversation is locked out too");
}
