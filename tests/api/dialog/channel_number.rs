//! Seed 004's "check if current number is corporate": the conversation's own number.
use std::time::Duration;

use super::*;

async fn app_offering_the_number() -> TestApp {
    let app = spawn_app_with(|c| c.flows[0].offer_channel_number = true).await;
    app.add_ana().await;
    app
}

#[tokio::test]
async fn yes_sends_the_code_to_the_record_whose_phone_the_conversation_is() {
    let app = app_offering_the_number().await;
    let said = say(&app, "+34665762878", "Hi, I want my payslip").await;
    assert_eq!(said.key(), "login.otp.confirm.phone.number");
    assert_eq!(said.text(), "Do you want to use this number ***78? Reply yes or no.");
    assert_eq!(said.step(), "confirm_channel_number");
    assert_eq!(app.sink.count(), 0);
    let said = say(&app, "+34665762878", "Yes!").await;
    assert_eq!(said.key(), "login.otp.sms.sent.message");
    let delivered = app.sink.wait_for(1).await;
    assert_eq!(delivered["destination"], "+34665762878");
    let code = delivered["code"].as_str().unwrap().to_string();
    assert_eq!(say(&app, "+34665762878", &code).await.outcome(), "authenticated");
}

#[tokio::test]
async fn no_asks_for_the_identifier_instead() {
    let app = app_offering_the_number().await;
    say(&app, "+34665762878", "hello").await;
    let said = say(&app, "+34665762878", "no").await;
    assert_eq!(said.key(), "login.otp.identifier.prompt");
    assert_eq!(said.step(), "ask_identifier");
    assert_eq!(app.sink.count(), 0);
}

#[tokio::test]
async fn a_number_on_no_record_or_on_two_is_never_offered() {
    let app = app_offering_the_number().await;
    assert_eq!(say(&app, "+34600000009", "hello").await.key(), "login.otp.identifier.prompt", "on no record");
    app.add_record("4722", &[("employee_number", "4722"), ("phone", "+34665762878")], &[], true).await;
    assert_eq!(say(&app, "+34665762878", "hello").await.key(), "login.otp.identifier.prompt", "on two records");
    app.clock.advance(Duration::from_secs(1));
}
