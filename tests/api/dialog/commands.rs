//! Cancel and new code, at any step, however they are typed.
use super::*;

#[tokio::test]
async fn cancel_kills_the_code_at_the_code_step() {
    let app = spawn_app().await;
    app.add_ana().await;
    say(&app, "c", "4721").await;
    let code = code_number(&app, 1).await;
    let said = say(&app, "c", "  CANCEL! ").await;
    assert_eq!(said.key(), "login.otp.cancelled");
    assert_eq!(said.text(), "Login cancelled. Message me again whenever you want to sign in.");
    assert_eq!((said.step(), said.state(), said.outcome().as_str()), ("done", "unidentified", Some("cancelled")));
    // The code died with it: through the API it no longer verifies.
    let (status, error) = error_of(app.verify("c", &code).await).await;
    assert_eq!((status, error["error"].as_str()), (409, Some("no_pending_challenge")));
    assert!(app.audit_kinds().await.iter().any(|k| k == "challenge.cancelled"));
}

#[tokio::test]
async fn cancel_at_the_identifier_step_ends_the_dialog() {
    let app = spawn_app().await;
    say(&app, "c", "hi").await;
    let said = say(&app, "c", "stop").await;
    assert_eq!(said.outcome(), "cancelled");
    assert_eq!(say(&app, "c", "hi").await.key(), "login.otp.identifier.prompt", "a fresh dialog");
}

#[tokio::test]
async fn new_code_resends_under_the_cooldown_and_send_limit() {
    let app = spawn_app().await;
    app.add_ana().await;
    say(&app, "c", "4721").await;
    let said = say(&app, "c", "new code").await;
    assert_eq!(said.key(), "login.otp.resend.too.soon");
    assert_eq!(said.text(), "Please wait 30 seconds before asking for a new code.");
    assert_eq!(app.sink.count(), 1, "nothing was sent");
    app.clock.advance(std::time::Duration::from_secs(30));
    assert_eq!(say(&app, "c", "Resend.").await.key(), "login.otp.resent");
    app.clock.advance(std::time::Duration::from_secs(30));
    assert_eq!(say(&app, "c", "another code").await.key(), "login.otp.resent");
    app.clock.advance(std::time::Duration::from_secs(30));
    let said = say(&app, "c", "new code").await;
    assert_eq!(said.key(), "login.otp.too.many.sends");
    assert_eq!(app.sink.count(), 3, "first send + 2 resends");
    let last = code_number(&app, 3).await;
    assert_eq!(say(&app, "c", &last).await.outcome(), "authenticated", "the last code still works");
}

#[tokio::test]
async fn a_message_that_only_mentions_a_command_is_not_one() {
    let app = spawn_app().await;
    app.add_ana().await;
    say(&app, "c", "4721").await;
    let said = say(&app, "c", "please cancel my order").await;
    assert_eq!(said.key(), "login.otp.code.prompt");
    assert_eq!(said.text(), "Please enter the 6-digit code we sent you.");
    assert_eq!(said.state(), "pending");
}
