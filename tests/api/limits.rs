//! `[delivery.limits]`: sends per destination per hour, a global hourly budget, and the
//! countries sms and whatsapp may reach. Past a limit nothing is sent.
use std::time::Duration;

use serde_json::Value;

use crate::helpers::{error_of, spawn_app_with};

#[tokio::test]
async fn a_destination_gets_a_bounded_number_of_codes_per_hour() {
    let app = spawn_app_with(|c| c.delivery.limits.per_destination_per_hour = 2).await;
    app.add_ana().await;
    app.identify_and_receive("c1", "4721").await;
    app.identify_and_receive("c2", "4721").await;

    let response = app.identify("c3", "4721").await;
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    let (status, body) = error_of(response).await;
    assert_eq!((status, body["error"].as_str()), (429, Some("too_many_sends")));
    assert_eq!(app.sink.count(), 2, "nothing is sent past the limit");
    assert_eq!(app.state_of("c3").await["state"], "unidentified");
    assert!(app.audit_kinds().await.contains(&"code.limited".to_string()));

    app.clock.advance(Duration::from_secs(retry_after));
    app.identify_and_receive("c4", "4721").await;
}

#[tokio::test]
async fn the_limit_holds_across_replicas_and_resends() {
    let app = spawn_app_with(|c| {
        c.delivery.limits.per_destination_per_hour = 2;
        c.otp.resend_cooldown = Duration::from_secs(1);
    })
    .await;
    app.add_ana().await;
    let other = app.replica().await;
    app.identify_and_receive("c1", "4721").await;
    app.clock.advance(Duration::from_secs(2));
    assert_eq!(other.post("c1", "resend", Value::Null).await.status(), 200);
    app.clock.advance(Duration::from_secs(2));
    let (status, body) = error_of(other.post("c1", "resend", Value::Null).await).await;
    assert_eq!((status, body["error"].as_str()), (429, Some("too_many_sends")));
    assert_eq!(app.sink.count(), 2);
}

#[tokio::test]
async fn the_global_budget_stops_all_sends_for_the_hour() {
    let app = spawn_app_with(|c| c.delivery.limits.global_per_hour = 2).await;
    app.add_ana().await;
    app.add_record("2", &[("employee_number", "2"), ("phone", "+34665762802")], &[], true).await;
    app.add_record("3", &[("employee_number", "3"), ("phone", "+34665762803")], &[], true).await;
    app.identify_and_receive("c1", "4721").await;
    app.identify_and_receive("c2", "2").await;

    let response = app.identify("c3", "3").await;
    assert!(response.headers().contains_key("retry-after"));
    let (status, body) = error_of(response).await;
    assert_eq!((status, body["error"].as_str()), (429, Some("send_budget_exhausted")));
    assert_eq!(app.sink.count(), 2);
}

#[tokio::test]
async fn a_refused_send_spends_nothing_of_the_other_limit() {
    // Both counters are reserved in one statement: the global budget is counted for the
    // send the destination's limit refuses, and must be given back.
    let app = spawn_app_with(|c| {
        c.delivery.limits.per_destination_per_hour = 1;
        c.delivery.limits.global_per_hour = 2;
    })
    .await;
    app.add_ana().await;
    app.add_record("2", &[("employee_number", "2"), ("phone", "+34665762802")], &[], true).await;
    app.identify_and_receive("c1", "4721").await;
    let (status, body) = error_of(app.identify("c2", "4721").await).await;
    assert_eq!((status, body["error"].as_str()), (429, Some("too_many_sends")));

    app.identify_and_receive("c3", "2").await;
    let (status, body) = error_of(app.identify("c4", "2").await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("too_many_sends")),
        "the destination's limit, not the budget"
    );
    assert_eq!(app.sink.count(), 2);
}

#[tokio::test]
async fn phones_outside_the_allowed_countries_are_not_sent_to() {
    let app = spawn_app_with(|c| c.delivery.limits.allowed_country_codes = vec!["1".into()]).await;
    app.add_ana().await;
    app.add_record("2", &[("employee_number", "2"), ("phone", "+34665762802")], &[], true).await;
    app.add_record("3", &[("employee_number", "3"), ("phone", "+12025550143")], &[], true).await;

    let ana: Value = app.identify("c1", "4721").await.json().await.unwrap();
    assert_eq!(ana["challenge"]["method"], "email", "her Spanish phone is skipped; e-mail has no country");
    let (status, body) = error_of(app.identify("c2", "2").await).await;
    assert_eq!((status, body["error"].as_str()), (422, Some("destination_not_allowed")));
    let us: Value = app.identify("c3", "3").await.json().await.unwrap();
    assert_eq!(us["challenge"]["destination"], "***43");
    assert_eq!(app.sink.count(), 2);
}

#[tokio::test]
async fn a_burst_of_concurrent_identifies_cannot_pass_the_limit() {
    let app = spawn_app_with(|c| c.delivery.limits.per_destination_per_hour = 3).await;
    app.add_ana().await;
    let conversations: Vec<String> = (0..8).map(|i| format!("burst-{i}")).collect();
    let statuses =
        futures::future::join_all(conversations.iter().map(|c| async { app.identify(c, "4721").await.status() })).await;
    assert_eq!(statuses.iter().filter(|s| s.as_u16() == 200).count(), 3, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| s.as_u16() == 429).count(), 5, "{statuses:?}");
    app.sink.wait_for(3).await;
    assert_eq!(app.sink.count(), 3);
}
