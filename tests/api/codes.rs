use std::time::Duration;

use futures::future::join_all;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn three_wrong_codes_cancel_the_verification() {
    let app = spawn_app().await;
    app.add_ana().await;
    let code = app.identify_and_receive("c1", "4721").await;
    let wrong = wrong_code(&code);
    for remaining in [2, 1] {
        let (status, body) = error_of(app.verify("c1", &wrong).await).await;
        assert_eq!(status, 422);
        assert_eq!(
            body,
            json!({"error": "invalid_code", "error_description": "incorrect code", "attempts_remaining": remaining})
        );
        assert_eq!(app.state_of("c1").await["challenge"]["attempts_remaining"], remaining);
    }
    let (status, body) = error_of(app.verify("c1", &wrong).await).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (422, "too_many_attempts"));
    assert_eq!(app.state_of("c1").await, json!({"state": "unidentified"}));
    let (status, body) = error_of(app.verify("c1", &code).await).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (409, "no_pending_challenge"), "the right code is dead too");
}

#[tokio::test]
async fn a_code_expires_after_its_ttl() {
    let app = spawn_app().await;
    app.add_ana().await;
    let code = app.identify_and_receive("c1", "4721").await;
    app.clock.advance(Duration::from_secs(300));
    let (status, body) = error_of(app.verify("c1", &code).await).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (422, "expired_code"));
    assert!(app.audit_kinds().await.contains(&"code.expired".to_string()));
}

#[tokio::test]
async fn a_code_just_inside_its_ttl_still_works() {
    let app = spawn_app().await;
    app.add_ana().await;
    let code = app.identify_and_receive("c1", "4721").await;
    app.clock.advance(Duration::from_millis(299_900));
    assert_eq!(app.verify("c1", &code).await.status(), 200);
}

#[tokio::test]
async fn a_code_works_once() {
    let app = spawn_app().await;
    app.add_ana().await;
    let code = app.identify_and_receive("c1", "4721").await;
    assert_eq!(app.verify("c1", &code).await.status(), 200);
    let (status, body) = error_of(app.verify("c1", &code).await).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (409, "already_authenticated"));
    assert_eq!(app.delete("c1").await.status(), 204);
    let (status, body) = error_of(app.verify("c1", &code).await).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (409, "no_pending_challenge"));
}

#[tokio::test]
async fn sixteen_concurrent_verifies_of_one_code_authenticate_exactly_once() {
    let app = spawn_app().await;
    app.add_ana().await;
    let code = app.identify_and_receive("c1", "4721").await;
    let attempts = (0..16).map(|_| app.verify("c1", &code));
    let statuses: Vec<u16> = join_all(attempts).await.into_iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || (400..500).contains(s)), "{statuses:?}");
    let sessions = app.audit_kinds().await.into_iter().filter(|k| k == "authenticated").count();
    assert_eq!(sessions, 1);
}

#[tokio::test]
async fn concurrent_wrong_guesses_never_get_more_than_the_allowed_attempts() {
    let app = spawn_app().await;
    app.add_ana().await;
    let code = app.identify_and_receive("c1", "4721").await;
    // 30 different wrong guesses at once, then the right code: only 3 guesses may have
    // been checked, so the right code must find the challenge dead.
    let guesses: Vec<String> =
        (0..30).map(|i| format!("{:06}", (code.parse::<u32>().unwrap() + 1 + i) % 1_000_000)).collect();
    let mut answers = Vec::new();
    for response in join_all(guesses.iter().map(|g| app.verify("c1", g))).await {
        answers.push(error_of(response).await.1["error"].as_str().unwrap().to_string());
    }
    let counted = answers.iter().filter(|e| *e == "invalid_code").count();
    assert!(counted <= 2, "only two guesses may be answered with attempts left: {answers:?}");
    let (status, _) = error_of(app.verify("c1", &code).await).await;
    assert_eq!(status, 409);
    let failed = app.audit_kinds().await.into_iter().filter(|k| k == "code.failed").count();
    assert_eq!(failed, 3);
}

#[tokio::test]
async fn a_malformed_code_is_a_bad_request_and_costs_no_attempt() {
    let app = spawn_app().await;
    app.add_ana().await;
    app.identify_and_receive("c1", "4721").await;
    for bad in ["12ab56", "1234567", "", "١٢٣٤٥٦"] {
        let (status, body) = error_of(app.verify("c1", bad).await).await;
        assert_eq!((status, body["error"].as_str().unwrap()), (400, "invalid_request"), "{bad:?}");
    }
    let state: Value = app.state_of("c1").await;
    assert_eq!(state["challenge"]["attempts_remaining"], 3);
}

#[tokio::test]
async fn keypad_input_with_spaces_is_accepted() {
    let app = spawn_app().await;
    app.add_ana().await;
    let code = app.identify_and_receive("c1", "4721").await;
    let spaced = format!("{} {}", &code[..3], &code[3..]);
    assert_eq!(app.verify("c1", &spaced).await.status(), 200);
}

#[tokio::test]
async fn verify_without_a_challenge_is_a_conflict() {
    let app = spawn_app().await;
    let (status, body) = error_of(app.verify("nobody", "123456").await).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (409, "no_pending_challenge"));
}
