//! A keypad (a generic IVR): `digits` in, `expect` out, `*` for a new code.
use serde_json::json;

use super::*;

#[tokio::test]
async fn a_whole_login_on_a_keypad() {
    let app = spawn_app().await;
    app.add_ana().await;
    let said = message_on(&app, "voice", "CA01", json!({"text": ""})).await;
    assert_eq!(said.key(), "login.otp.identifier.prompt");
    assert!(said.text().contains("on the keypad"), "keypad wording on a voice channel: {}", said.text());
    assert_eq!(said.0["expect"], json!({"input": "dtmf", "finish_on_key": "#"}));

    let said = message_on(&app, "voice", "CA01", json!({"digits": "4721#"})).await;
    assert_eq!(said.key(), "login.otp.sms.sent.message");
    assert!(said.text().contains("press star"), "{}", said.text());
    assert_eq!(said.0["expect"], json!({"input": "dtmf", "digits": 6, "finish_on_key": "#"}));
    app.clock.advance(std::time::Duration::from_secs(30));
    let said = message_on(&app, "voice", "CA01", json!({"digits": "*"})).await;
    assert_eq!(said.key(), "login.otp.resent");
    let code = code_number(&app, 2).await;
    let said = message_on(&app, "voice", "CA01", json!({"digits": format!("{}#", wrong_code(&code))})).await;
    assert_eq!(said.key(), "login.otp.code.invalid");
    let said = message_on(&app, "voice", "CA01", json!({"digits": code})).await;
    assert_eq!(said.outcome(), "authenticated");
    let token = app.http.post(app.conversation_url("voice", "CA01", "token")).basic_auth(BOT.0, Some(BOT.1)).send();
    assert_eq!(token.await.unwrap().status(), 200, "the phonebot fetches its token afterwards");
}

#[tokio::test]
async fn digits_on_a_chat_channel_use_keypad_expectations_too() {
    let app = spawn_app().await;
    app.add_ana().await;
    let said = message(&app, "w", json!({"digits": "12a#"})).await;
    assert_eq!(said.key(), "login.otp.identifier.prompt", "the first entry starts the dialog");
    let said = message(&app, "w", json!({"digits": "12a#"})).await;
    assert_eq!(said.key(), "login.otp.identifier.invalid", "keys that are not digits");
    assert_eq!(said.0["expect"]["input"], "dtmf");
}

#[tokio::test]
async fn a_generic_ivr_reports_silence_and_the_third_one_ends_the_call() {
    let app = spawn_app().await;
    app.add_ana().await;
    message_on(&app, "voice", "IVR1", json!({"digits": "4721#"})).await;
    let said = message_on(&app, "voice", "IVR1", json!({"silence": true})).await;
    assert_eq!((said.step(), said.key()), ("ask_code", "login.otp.code.prompt"), "the question again");
    message_on(&app, "voice", "IVR1", json!({"silence": true})).await;
    let said = message_on(&app, "voice", "IVR1", json!({"silence": true})).await;
    assert_eq!(said.keys(), ["voice.no.input", "voice.goodbye"]);
    assert_eq!((said.state(), said.outcome().as_str()), ("unidentified", Some("failed")), "no code is left alive");
    let (status, _) = raw_post(&app, BOT, "messages", "application/json", r#"{"silence": true, "digits": "1"}"#).await;
    assert_eq!(status, 400);
}
