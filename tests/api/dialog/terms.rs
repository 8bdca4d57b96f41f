//! Seed 004's register step: the T&C check decides where a login goes.
use std::time::Duration;

use axum::extract::Query;
use axum::http::StatusCode;
use serde_json::json;

use super::*;

/// A terms service: 200 for the subject that accepted, 404 for anyone else, and a
/// path that answers too late.
async fn terms_service() -> String {
    let app = axum::Router::new()
        .route(
            "/terms",
            axum::routing::get(|Query(q): Query<std::collections::HashMap<String, String>>| async move {
                if q.get("subject").map(String::as_str) == Some("employees/4721") {
                    StatusCode::OK
                } else {
                    StatusCode::NOT_FOUND
                }
            }),
        )
        .route(
            "/slow",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                StatusCode::OK
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

async fn login_with_terms(path: &str, key: &str) -> Said {
    let terms = terms_service().await;
    let terms_url = format!("{terms}{path}");
    let app = spawn_app_with(move |c| {
        c.dialog.terms_timeout = Duration::from_millis(300);
        c.flows[0].terms_url = Some(terms_url.parse().expect("a URL"));
        c.flows[0].terms_intent = Some("intent.onboarding.terms-and-conditions".into());
    })
    .await;
    app.add_record(key, &[("employee_number", key), ("phone", "+34665762878")], &[], true).await;
    message(&app, "c", json!({"text": "show my bill", "intent": "intent.billing"})).await;
    say(&app, "c", key).await;
    let code = code_number(&app, 1).await;
    say(&app, "c", &code).await
}

#[tokio::test]
async fn accepted_terms_send_the_person_to_what_they_asked_for() {
    let said = login_with_terms("/terms", "4721").await;
    assert_eq!(said.outcome(), "authenticated");
    assert_eq!(said.0["redirect"], json!({"intent": "intent.billing"}));
}

#[tokio::test]
async fn terms_not_accepted_send_the_person_to_terms_intent() {
    let said = login_with_terms("/terms", "4722").await;
    assert_eq!(said.0["redirect"], json!({"intent": "intent.onboarding.terms-and-conditions"}));
}

#[tokio::test]
async fn a_terms_service_that_does_not_answer_in_time_counts_as_not_accepted() {
    let said = login_with_terms("/slow", "4721").await;
    assert_eq!(said.outcome(), "authenticated", "the login itself stands");
    assert_eq!(said.0["redirect"], json!({"intent": "intent.onboarding.terms-and-conditions"}));
}

#[tokio::test]
async fn without_terms_the_flow_after_login_intent_is_the_default() {
    let app = spawn_app_with(|c| c.flows[0].after_login_intent = Some("intent.home".into())).await;
    app.add_ana().await;
    say(&app, "c", "4721").await;
    let code = code_number(&app, 1).await;
    assert_eq!(say(&app, "c", &code).await.0["redirect"], json!({"intent": "intent.home"}));
}
