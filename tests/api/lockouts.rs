use std::time::Duration;

use crate::helpers::*;

#[tokio::test]
async fn three_unknown_identifiers_lock_the_conversation() {
    let app = spawn_app().await;
    app.add_ana().await;
    for remaining in [2, 1, 0] {
        let (status, body) = error_of(app.identify("c1", "0000").await).await;
        assert_eq!((status, body["attempts_remaining"].as_u64().unwrap()), (422, remaining));
    }
    let response = app.identify("c1", "4721").await;
    assert_eq!(response.status(), 429, "even a known identifier waits out the lockout");
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after > 14 * 60 && retry_after <= 15 * 60, "{retry_after}");
    assert_eq!(response.json::<serde_json::Value>().await.unwrap()["error"], "locked");
    assert!(app.audit_kinds().await.contains(&"lockout.identify".to_string()));

    assert_eq!(app.identify("c2", "4721").await.status(), 200, "another conversation is not locked");
    app.clock.advance(Duration::from_secs(15 * 60));
    assert_eq!(app.identify("c1", "4721").await.status(), 200);
}

#[tokio::test]
async fn a_known_identifier_resets_the_identify_count() {
    let app = spawn_app().await;
    app.add_ana().await;
    app.identify("c1", "0000").await;
    app.identify("c1", "0001").await;
    assert_eq!(app.identify("c1", "4721").await.status(), 200);
    let (_, body) = error_of(app.identify("c1", "0002").await).await;
    assert_eq!(body["attempts_remaining"], 2);
}

/// Failures count against the record across conversations, and a new code does not
/// reset them: 4 allowed here, spread over two conversations.
#[tokio::test]
async fn failures_per_record_add_up_across_conversations_and_lock_the_record() {
    let app = spawn_app_with(|c| c.otp.max_failures_per_record = 4).await;
    app.add_ana().await;
    let first = app.identify_and_receive("c1", "4721").await;
    for _ in 0..3 {
        app.verify("c1", &wrong_code(&first)).await;
    }
    let second = app.identify_and_receive("c2", "4721").await;
    let (status, _) = error_of(app.verify("c2", &wrong_code(&second)).await).await;
    assert_eq!(status, 422, "the fourth failure is still answered");
    let (status, body) = error_of(app.verify("c2", &second).await).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (429, "locked"), "the right code is refused while locked");
    let (status, _) = error_of(app.identify("c3", "4721").await).await;
    assert_eq!(status, 429, "a new conversation cannot even get a code");
    assert!(app.audit_kinds().await.contains(&"lockout.record".to_string()));

    app.clock.advance(Duration::from_secs(15 * 60));
    let third = app.identify_and_receive("c3", "4721").await;
    assert_eq!(app.verify("c3", &third).await.status(), 200);
}

#[tokio::test]
async fn failures_per_record_are_shared_by_clients() {
    let app = spawn_app_with(|c| {
        c.otp.max_failures_per_record = 2;
        c.clients[1].flows.push("payroll".into());
    })
    .await;
    app.add_ana().await;
    let code = app.identify_and_receive("c1", "4721").await;
    app.verify("c1", &wrong_code(&code)).await;
    let sent = app.sink.count();
    let response =
        app.post_as(OTHER_BOT, "c1", "identify", serde_json::json!({"flow": "payroll", "identifier": "4721"})).await;
    assert_eq!(response.status(), 200);
    let other = app.sink.wait_for(sent + 1).await["code"].as_str().unwrap().to_string();
    app.post_as(OTHER_BOT, "c1", "verify", serde_json::json!({"code": wrong_code(&other)})).await;
    let response = app.post_as(OTHER_BOT, "c1", "verify", serde_json::json!({"code": other})).await;
    assert_eq!(response.status(), 429);
}

#[tokio::test]
async fn a_success_clears_the_record_count() {
    let app = spawn_app_with(|c| c.otp.max_failures_per_record = 3).await;
    app.add_ana().await;
    let code = app.identify_and_receive("c1", "4721").await;
    app.verify("c1", &wrong_code(&code)).await;
    app.verify("c1", &wrong_code(&code)).await;
    assert_eq!(app.verify("c1", &code).await.status(), 200);
    let code = app.identify_and_receive("c2", "4721").await;
    app.verify("c2", &wrong_code(&code)).await;
    app.verify("c2", &wrong_code(&code)).await;
    assert_eq!(app.verify("c2", &code).await.status(), 200, "the count started again after the success");
}
