//! The phonebot keypad over Twilio Voice (DESIGN.md §10): whole calls as Twilio makes
//! them, signed, with the TwiML parsed; codes go to the record's phone, never to the caller.
mod call;

use doorman::config::{ClientConfig, Secret, VoiceConfig};
use serde_json::{Value, json};

use self::call::*;
use crate::helpers::*;

const ANA_PHONE: &str = "+34665762878";
const MAX_SILENCES: u32 = 2;

async fn spawn_phone_app_with(adjust: impl FnOnce(&mut VoiceConfig)) -> TestApp {
    let app = spawn_app_with(|c| {
        c.clients.push(ClientConfig {
            id: IVR_BOT.0.into(),
            secret: Secret::new(IVR_BOT.1),
            flows: vec!["payroll".into()],
            scopes: vec![],
        });
        let section = format!("client = \"{}\"\nflow = \"payroll\"\nnext_url = \"{NEXT_URL}\"\n", IVR_BOT.0);
        let mut voice: VoiceConfig = toml::from_str(&section).expect("[voice]");
        voice.auth_token = Some(Secret::new(TWILIO_TOKEN));
        voice.max_silences = MAX_SILENCES;
        adjust(&mut voice);
        c.voice = Some(voice);
    })
    .await;
    app.add_ana().await;
    app
}

async fn spawn_phone_app() -> TestApp {
    spawn_phone_app_with(|_| {}).await
}

/// Answers the call, types Ana's employee number and returns the code she was sent.
async fn identify(call: &mut Call<'_>) -> String {
    let greeting = call.twiml(&[]).await;
    assert!(!greeting.asks().attributes.contains_key("numDigits"), "{greeting:#?}");
    let sent = call.app.sink.count();
    let asked = call.press("4721#").await;
    assert_eq!(asked.asks().attributes["numDigits"], "6");
    assert!(asked.says().contains("***78"), "{}", asked.says());
    let message = call.app.sink.wait_for(sent + 1).await;
    assert_eq!(message["destination"], ANA_PHONE, "the code goes to the record's phone, not to From");
    assert_eq!(message["conversation"], json!({"channel": "voice", "id": call.sid}));
    message["code"].as_str().expect("code").to_string()
}

async fn status_of(response: reqwest::Response) -> (u16, Value) {
    error_of(response).await
}

#[tokio::test]
async fn a_whole_call_logs_in_and_the_phonebot_fetches_its_token() {
    let app = spawn_phone_app().await;
    let mut call = Call::new(&app);
    let greeting = call.twiml(&[]).await;
    let say = &greeting.asks().children[0];
    assert_eq!(say.attributes["language"], "en-US");
    assert_eq!(say.attributes["voice"], "Polly.Joanna");
    assert!(say.text.contains("employee number") && say.text.contains("pound key"), "{}", say.text);
    call.next = WEBHOOK.into();
    let code = identify(&mut call).await;
    let retry = call.press(&wrong_code(&code)).await;
    retry.asks();
    assert!(retry.says().contains("2 attempts remaining"), "{}", retry.says());
    let done = call.press(&format!("{code}#")).await;
    assert_eq!(done.names(), ["Say", "Redirect"], "{done:#?}");
    assert!(done.says().contains("Identity verified"), "{}", done.says());
    let redirect = done.child("Redirect").unwrap();
    assert_eq!((redirect.text.as_str(), redirect.attributes["method"].as_str()), (NEXT_URL, "POST"));

    // Where the Redirect leads, the phonebot fetches the caller's token.
    let response = call.conversation(IVR_BOT, "token").await;
    assert_eq!(response.status(), 200);
    let token: Value = response.json().await.unwrap();
    assert_eq!(token["subject"]["id"], "employees/4721");
    assert!(token["access_token"].as_str().is_some_and(|t| t.len() > 20), "{token}");
    // The conversation is the voice client's: another bot knowing the CallSid gets nothing.
    assert_ne!(call.conversation(BOT, "token").await.status(), 200);

    // The number called again on this call: still signed in, straight on to next_url.
    call.next = WEBHOOK.into();
    let again = call.twiml(&[]).await;
    assert_eq!(again.child("Redirect").map(|r| r.text.as_str()), Some(NEXT_URL), "{again:#?}");

    // The call ends after the login: the session stays for the phonebot.
    let ended = read_twiml(call.status("/v1/voice/twilio/status", "completed").await).await;
    assert!(ended.children.is_empty(), "{ended:#?}");
    assert_eq!(call.conversation(IVR_BOT, "token").await.status(), 200);
}

#[tokio::test]
async fn star_sends_a_new_code_and_only_that_one_works() {
    let app = spawn_phone_app().await;
    let mut call = Call::new(&app);
    let first = identify(&mut call).await;
    app.clock.advance(std::time::Duration::from_secs(31));
    let sent = app.sink.count();
    let resent = call.press("*").await;
    resent.asks();
    assert!(resent.says().contains("new verification code"), "{}", resent.says());
    let message = app.sink.wait_for(sent + 1).await;
    assert_eq!(message["destination"], ANA_PHONE);
    let second = message["code"].as_str().unwrap().to_string();
    if first != second {
        assert!(call.press(&first).await.child("Gather").is_some(), "the old code is dead");
    }
    let done = call.press(&second).await;
    assert_eq!(done.child("Redirect").map(|r| r.text.as_str()), Some(NEXT_URL), "{done:#?}");
}

#[tokio::test]
async fn three_wrong_codes_hang_up_and_leave_nothing_alive() {
    let app = spawn_phone_app().await;
    let mut call = Call::new(&app);
    let code = identify(&mut call).await;
    for _ in 0..2 {
        call.press(&wrong_code(&code)).await.asks();
    }
    let last = call.press(&wrong_code(&code)).await;
    assert!(last.hangs_up(), "{last:#?}");
    assert!(last.says().contains("cancelled"), "{}", last.says());
    assert_eq!(call.state().await["state"], "unidentified");
    assert_eq!(call.conversation(IVR_BOT, "token").await.status(), 409);
}

#[tokio::test]
async fn silence_repeats_the_prompt_max_silences_times_then_hangs_up() {
    let app = spawn_phone_app().await;
    let mut call = Call::new(&app);
    let mut asked = call.twiml(&[]).await;
    for _ in 0..MAX_SILENCES {
        asked.asks();
        asked = call.stay_silent(&asked).await;
    }
    asked.asks();
    let last = call.stay_silent(&asked).await;
    assert!(last.hangs_up(), "{last:#?}");
    assert!(last.says().contains("did not receive any input"), "{}", last.says());
}

#[tokio::test]
async fn silence_at_the_code_step_kills_the_code_when_the_call_gives_up() {
    let app = spawn_phone_app().await;
    let mut call = Call::new(&app);
    let code = identify(&mut call).await;
    let mut asked = call.press("").await;
    // An empty entry is not a silence: the question again, counted as nothing.
    asked.asks();
    for _ in 0..MAX_SILENCES {
        asked = call.stay_silent(&asked).await;
        assert!(asked.says().contains("code"), "{}", asked.says());
    }
    assert!(call.stay_silent(&asked).await.hangs_up());
    let (status, body) = status_of(call.verify(&code).await).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("no_pending_challenge")), "{body}");
    assert_eq!(call.state().await["state"], "unidentified");
}

#[tokio::test]
async fn hanging_up_mid_login_kills_the_code() {
    let app = spawn_phone_app().await;
    for path in ["/v1/voice/twilio/status", WEBHOOK] {
        let mut call = Call::new(&app);
        let code = identify(&mut call).await;
        assert_eq!(call.state().await["state"], "pending");
        let answered = read_twiml(call.status(path, "completed").await).await;
        assert!(answered.children.is_empty(), "{answered:#?}");
        assert_eq!(call.state().await["state"], "unidentified", "after a status callback to {path}");
        assert_eq!(status_of(call.verify(&code).await).await.0, 409);
    }
    // A status that is not final changes nothing.
    let mut call = Call::new(&app);
    identify(&mut call).await;
    read_twiml(call.status("/v1/voice/twilio/status", "ringing").await).await;
    assert_eq!(call.state().await["state"], "pending");
}

#[tokio::test]
async fn forged_or_missing_signatures_are_refused_and_send_nothing() {
    let app = spawn_phone_app().await;
    let mut call = Call::new(&app);
    call.twiml(&[]).await.asks();
    let digits = call.params(&[("Digits", "4721#")]);
    let mut tampered = digits.clone();
    let signed_tampered = sign(TWILIO_TOKEN, WEBHOOK, &tampered);
    tampered[0].1 = "AC11111111111111111111111111111111".into();
    let evil =
        doorman::voice::signature::compute(TWILIO_TOKEN.as_bytes(), &format!("https://evil.example{WEBHOOK}"), &digits);
    let forged = [
        ("another auth token", call.post_with(WEBHOOK, &digits, Some(&sign("not-the-token", WEBHOOK, &digits))).await),
        ("no signature", call.post_with(WEBHOOK, &digits, None).await),
        ("an empty signature", call.post_with(WEBHOOK, &digits, Some("")).await),
        ("garbage", call.post_with(WEBHOOK, &digits, Some("AAAAAAAAAAAAAAAAAAAAAAAAAAA=")).await),
        ("a parameter changed after signing", call.post_with(WEBHOOK, &tampered, Some(&signed_tampered)).await),
        ("signed for another host", call.post_with(WEBHOOK, &digits, Some(&evil)).await),
        ("signed without the query", {
            let signature = sign(TWILIO_TOKEN, WEBHOOK, &digits);
            call.post_with(&format!("{WEBHOOK}?silence=1"), &digits, Some(&signature)).await
        }),
        ("a status callback", {
            call.post_with(
                "/v1/voice/twilio/status",
                &call.params(&[]),
                Some(&sign("x", "/v1/voice/twilio/status", &[])),
            )
            .await
        }),
    ];
    for (what, response) in forged {
        let (status, body) = status_of(response).await;
        assert_eq!((status, body["error"].as_str()), (403, Some("invalid_signature")), "{what}: {body}");
        assert!(body["error_description"].is_string(), "{body}");
    }
    assert_eq!(app.sink.count(), 0, "a forged request sent a code");
    assert_eq!(call.state().await["state"], "unidentified");
    // The real one still works.
    call.press("4721#").await.asks();
    assert_eq!(app.sink.wait_for(1).await["destination"], ANA_PHONE);
}

#[tokio::test]
async fn keys_that_are_not_digits_are_told_and_asked_again() {
    let app = spawn_phone_app().await;
    let mut call = Call::new(&app);
    call.twiml(&[]).await.asks();
    let asked = call.press("12a").await;
    asked.asks();
    assert!(asked.says().contains("does not look like a valid employee number"), "{}", asked.says());
    assert_eq!(app.sink.count(), 0);
}

#[tokio::test]
async fn an_unknown_call_on_a_gather_action_is_asked_not_refused() {
    let app = spawn_phone_app().await;
    let mut call = Call::new(&app);
    // A code-length entry on a call doorman never saw: it is not anyone's identifier.
    let asked = call.press("483921#").await;
    asked.asks();
    assert!(asked.says().contains("could not find"), "{}", asked.says());
    let mut silent = Call::new(&app);
    silent.next = format!("{WEBHOOK}?silence=1");
    silent.twiml(&[]).await.asks();
}

#[tokio::test]
async fn requests_that_are_not_twilio_voice_get_the_error_shape() {
    let app = spawn_phone_app().await;
    let call = Call::new(&app);
    let mut no_sid = call.params(&[("Digits", "4721")]);
    no_sid.retain(|(k, _)| k != "CallSid");
    let (status, body) = status_of(call.post_signed(WEBHOOK, &no_sid).await).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")), "{body}");
    let mut no_status = call.params(&[]);
    no_status.retain(|(k, _)| k != "CallStatus");
    let (status, _) = status_of(call.post_signed("/v1/voice/twilio/status", &no_status).await).await;
    assert_eq!(status, 400);
    // Bodies are bounded like every other body, before anything is checked.
    let padding = "9".repeat(app.config.server.max_body_bytes + 1);
    let huge = call.params(&[("Digits", "4721"), ("Padding", &padding)]);
    assert_eq!(call.post_signed(WEBHOOK, &huge).await.status(), 413);
    assert_eq!(app.sink.count(), 0);
}

#[tokio::test]
async fn without_a_voice_section_there_is_no_webhook() {
    let app = spawn_app().await;
    let call = Call::new(&app);
    let (status, body) = status_of(call.post_signed(WEBHOOK, &call.params(&[])).await).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
}

#[tokio::test]
async fn a_dialog_that_cannot_go_on_apologizes_and_hangs_up_instead_of_a_5xx() {
    let app = spawn_phone_app().await;
    let store = &app.state.auth.store;
    let mut client = store.find_client(IVR_BOT.0).await.unwrap().expect("the voice client");
    client.active = false;
    store.put_client(&client, doorman::clock::Clock::now(app.clock.as_ref())).await.unwrap();
    let mut call = Call::new(&app);
    let answer = call.twiml(&[]).await;
    assert!(answer.hangs_up(), "{answer:#?}");
    assert!(answer.says().contains("something went wrong"), "{}", answer.says());
}

#[tokio::test]
async fn spanish_calls_hear_spanish_voices() {
    let app = spawn_phone_app_with(|v| v.locale = "es".into()).await;
    let mut call = Call::new(&app);
    let greeting = call.twiml(&[]).await;
    let say = &greeting.asks().children[0];
    assert_eq!((say.attributes["language"].as_str(), say.attributes["voice"].as_str()), ("es-ES", "Polly.Lucia"));
    assert!(say.text.contains("teclado"), "{}", say.text);
}
