use std::time::Duration;

use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn resend_waits_for_the_cooldown_then_replaces_the_code() {
    let app = spawn_app().await;
    app.add_ana().await;
    let first = app.identify_and_receive("c1", "4721").await;

    let response = app.post("c1", "resend", Value::Null).await;
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "resend_too_soon");

    app.clock.advance(Duration::from_secs(30));
    let response = app.post("c1", "resend", Value::Null).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["state"], "pending");
    assert_eq!(body["challenge"]["sends_remaining"], 1);
    let second = app.sink.wait_for(2).await["code"].as_str().unwrap().to_string();

    if first != second {
        let (status, body) = error_of(app.verify("c1", &first).await).await;
        assert_eq!((status, body["error"].as_str().unwrap()), (422, "invalid_code"), "the old code is dead");
    }
    assert_eq!(app.verify("c1", &second).await.status(), 200);
}

#[tokio::test]
async fn a_login_gets_three_sends_at_most() {
    let app = spawn_app().await;
    app.add_ana().await;
    app.identify_and_receive("c1", "4721").await;
    for sends_remaining in [1, 0] {
        app.clock.advance(Duration::from_secs(31));
        let body: Value = app.post("c1", "resend", Value::Null).await.json().await.unwrap();
        assert_eq!(body["challenge"]["sends_remaining"], sends_remaining);
    }
    app.clock.advance(Duration::from_secs(31));
    let (status, body) = error_of(app.post("c1", "resend", Value::Null).await).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (429, "too_many_sends"));
    assert_eq!(app.sink.count(), 3);
}

#[tokio::test]
async fn resend_after_expiry_gives_a_working_code() {
    let app = spawn_app().await;
    app.add_ana().await;
    app.identify_and_receive("c1", "4721").await;
    app.clock.advance(Duration::from_secs(301));
    assert_eq!(app.state_of("c1").await["challenge"]["expires_in"], 0);
    assert_eq!(app.post("c1", "resend", Value::Null).await.status(), 200);
    let code = app.sink.wait_for(2).await["code"].as_str().unwrap().to_string();
    assert_eq!(app.verify("c1", &code).await.status(), 200);
}

#[tokio::test]
async fn resend_without_a_challenge_is_a_conflict() {
    let app = spawn_app().await;
    let (status, body) = error_of(app.post("c1", "resend", Value::Null).await).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (409, "no_pending_challenge"));
}

#[tokio::test]
async fn identifying_again_while_a_code_is_pending_is_a_resend() {
    let app = spawn_app().await;
    app.add_ana().await;
    app.identify_and_receive("c1", "4721").await;
    let (status, body) = error_of(app.identify("c1", "4721").await).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (429, "resend_too_soon"), "no cooldown bypass");
    for sends_remaining in [1, 0] {
        app.clock.advance(Duration::from_secs(30));
        let body: Value = app.identify("c1", "4721").await.json().await.unwrap();
        assert_eq!(body["challenge"]["sends_remaining"], sends_remaining);
    }
    app.clock.advance(Duration::from_secs(30));
    let (status, body) = error_of(app.identify("c1", "4721").await).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (429, "too_many_sends"));
    assert_eq!(app.sink.count(), 3, "identify is no way around the send limit");
}

#[tokio::test]
async fn a_resend_that_fails_to_deliver_is_not_counted() {
    let app = spawn_app().await;
    app.add_ana().await;
    app.identify_and_receive("c1", "4721").await;
    app.clock.advance(Duration::from_secs(30));
    app.sink.set_failing(true);
    let (status, body) = error_of(app.post("c1", "resend", Value::Null).await).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (502, "delivery_failed"));
    app.sink.set_failing(false);
    let response = app.post("c1", "resend", Value::Null).await;
    assert_eq!(response.status(), 200, "retry at once: the failed send started no cooldown");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["challenge"]["sends_remaining"], 1);
}
