//! Finding the identifier in what people write, and what happens when it is not there.
use super::*;

#[tokio::test]
async fn a_sentence_with_two_numbers_is_asked_again_and_nothing_is_sent() {
    let app = spawn_app().await;
    app.add_ana().await;
    say(&app, "c", "hello").await;
    let said = say(&app, "c", "it is 4721 or maybe 4722").await;
    assert_eq!(said.key(), "login.otp.identifier.ambiguous");
    assert_eq!(said.text(), "I found more than one possible employee number in your message. Please send only one.");
    assert_eq!(said.step(), "ask_identifier");
    assert_eq!(app.sink.count(), 0);
    assert_eq!(say(&app, "c", "4721").await.key(), "login.otp.sms.sent.message");
}

#[tokio::test]
async fn answers_without_an_identifier_count_up_to_max_identifier_prompts() {
    let app = spawn_app_with(|c| {
        c.flows[0].identifier_format = "digits".parse().unwrap();
        c.flows[0].max_identifier_prompts = 2;
    })
    .await;
    assert_eq!(say(&app, "c", "I want my payslip").await.key(), "login.otp.identifier.prompt", "not counted");
    let said = say(&app, "c", "I don't remember").await;
    assert_eq!(said.key(), "login.otp.identifier.invalid");
    assert_eq!(said.text(), "That does not look like a valid employee number. Please send just your employee number.");
    let said = say(&app, "c", "abc").await;
    assert_eq!(said.key(), "login.otp.too.many.phone.kos");
    assert_eq!((said.step(), said.outcome().as_str()), ("done", Some("failed")));
}

#[tokio::test]
async fn an_unknown_identifier_is_told_with_the_attempts_left() {
    let app = spawn_app().await;
    say(&app, "c", "hi").await;
    let said = say(&app, "c", "My number is 9999").await;
    assert_eq!(said.key(), "login.otp.identifier.unknown");
    assert_eq!(
        said.text(),
        "I could not find a record with that employee number. Please check it and try again. You have 2 attempts remaining."
    );
    assert!(say(&app, "c", "9998").await.text().contains("1 attempt remaining"));
    let said = say(&app, "c", "9997").await;
    assert_eq!(said.outcome(), "failed", "the identify lockout of §2: {}", said.0);
    let said = say(&app, "c", "4721").await;
    assert_eq!(said.key(), "login.otp.locked", "locked for 15 minutes");
    assert!(said.text().contains("15 minutes"), "{}", said.text());
}

#[tokio::test]
async fn a_concealed_unknown_identifier_gets_the_same_replies_as_a_known_one() {
    let app = spawn_app().await;
    app.add_ana().await;
    let hidden = serde_json::json!({"flow": "hidden"});
    let with = |text: &str| {
        let mut body = hidden.clone();
        body["text"] = text.into();
        body
    };
    let known = message(&app, "k", with("4721")).await;
    let unknown = message(&app, "u", with("9999")).await;
    assert_eq!(known.key(), unknown.key());
    assert_eq!((known.step(), known.state()), (unknown.step(), unknown.state()));
    let code = code_number(&app, 1).await;
    let wrong = message(&app, "u", with(&code)).await;
    assert_eq!(wrong.key(), "login.otp.code.invalid", "no code verifies a decoy");
    assert_eq!(message(&app, "k", with(&wrong_code(&code))).await.key(), wrong.key());
}

#[tokio::test]
async fn a_record_with_only_an_email_gets_the_email_wording() {
    let app = spawn_app().await;
    app.add_record("4730", &[("employee_number", "4730"), ("corporate_email", "marta@corp.example")], &[], true).await;
    let said = say(&app, "c", "4730").await;
    assert_eq!(said.key(), "login.otp.email.sent.message");
    assert!(said.text().contains("m***@corp.example") || said.text().contains("@corp.example"), "{}", said.text());
}
