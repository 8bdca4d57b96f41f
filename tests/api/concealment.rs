//! `conceal_unknown`: a bot must not tell a known identifier from an unknown one by
//! anything it can observe, over many requests: destinations, methods, send limits,
//! cooldowns, lockouts, or how long the answers take.
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::*;

const KNOWN: &str = "4721";
const UNKNOWN: &str = "9999";

async fn identify_hidden(app: &TestApp, conversation: &str, identifier: &str) -> (u16, Value) {
    let response = app.post(conversation, "identify", json!({"flow": "hidden", "identifier": identifier})).await;
    error_of(response).await
}

/// What a bot sees of an answer: the status, the error or state, and the challenge's
/// method, counters and the *shape* of its destination.
fn observed((status, body): &(u16, Value)) -> String {
    let challenge = &body["challenge"];
    let shape: String = challenge["destination"]
        .as_str()
        .unwrap_or("")
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                '9'
            } else if c.is_ascii_lowercase() {
                'a'
            } else {
                c
            }
        })
        .collect();
    format!(
        "{status} {} {} {} {} {} {shape}",
        body["error"],
        body["state"],
        challenge["method"],
        challenge["attempts_remaining"],
        challenge["sends_remaining"]
    )
}

/// A directory of a few people, some with a phone, some with only an e-mail.
async fn add_staff(app: &TestApp) {
    app.add_ana().await;
    for (key, phone) in [("5001", "+34600111201"), ("5002", "+34600111302"), ("5003", "+34600111403")] {
        app.add_record(key, &[("employee_number", key), ("phone", phone)], &[], true).await;
    }
    for key in ["5004", "5005"] {
        let email = format!("p{key}@corp.example");
        app.add_record(key, &[("employee_number", key), ("corporate_email", &email)], &[], true).await;
    }
}

#[tokio::test]
async fn a_decoy_shows_the_same_destination_every_time_shaped_like_a_records() {
    let app = spawn_app().await;
    add_staff(&app).await;
    let masks = |identifier: &'static str| {
        let app = &app;
        async move {
            let mut seen = Vec::new();
            for i in 0..4 {
                let (status, body) = identify_hidden(app, &format!("{identifier}-{i}"), identifier).await;
                assert_eq!(status, 200, "{body}");
                seen.push((body["challenge"]["method"].clone(), body["challenge"]["destination"].clone()));
            }
            seen
        }
    };
    let known = masks(KNOWN).await;
    assert!(known.iter().all(|m| *m == known[0]), "{known:?}");
    let real_masks = ["***78", "***01", "***02", "***03", "p***@corp.example"];
    for unknown in ["9999", "1234", "777", "31337", "8080", "4242"] {
        let seen = masks(unknown).await;
        assert!(seen.iter().all(|m| *m == seen[0]), "a decoy's destination never changes: {seen:?}");
        let (method, destination) = &seen[0];
        let destination = destination.as_str().unwrap();
        assert!(real_masks.contains(&destination), "{destination} looks like one of the directory's records");
        let expected_method = if destination.contains('@') { "email" } else { "whatsapp" };
        assert_eq!(method, expected_method, "the method the flow would pick for such a record");
    }
}

#[tokio::test]
async fn an_email_only_directory_shows_email_for_decoys_too() {
    let app = spawn_app().await;
    for key in ["6001", "6002", "6003"] {
        let email = format!("m{key}@corp.example");
        app.add_record(key, &[("employee_number", key), ("corporate_email", &email)], &[], true).await;
    }
    let known = identify_hidden(&app, "k", "6001").await;
    assert_eq!(known.1["challenge"]["method"], "email");
    for (i, unknown) in ["9999", "1", "22", "333"].iter().enumerate() {
        let decoy = identify_hidden(&app, &format!("u{i}"), unknown).await;
        assert_eq!(observed(&decoy), observed(&known), "{}", decoy.1);
        assert!(decoy.1["challenge"]["destination"].as_str().unwrap().ends_with("***@corp.example"));
    }
}

/// The same script for a known and an unknown identifier: repeated identifies in one
/// conversation (resends, their cooldown, the per-login send limit), then new
/// conversations until the hourly per-destination limit answers.
async fn send_script(app: &TestApp, identifier: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let conversation = format!("sends-{identifier}");
    seen.push(observed(&identify_hidden(app, &conversation, identifier).await));
    seen.push(observed(&identify_hidden(app, &conversation, identifier).await));
    for _ in 0..3 {
        app.clock.advance(Duration::from_secs(31));
        seen.push(observed(&identify_hidden(app, &conversation, identifier).await));
    }
    for i in 0..3 {
        seen.push(observed(&identify_hidden(app, &format!("{conversation}-{i}"), identifier).await));
    }
    seen
}

#[tokio::test]
async fn send_limits_and_cooldowns_answer_alike() {
    let app = spawn_app().await;
    app.add_ana().await;
    // The scripts take minutes of the clock: start them early in an hourly send window.
    let into_hour = Duration::from_millis((doorman::clock::Clock::now(&*app.clock) % 3_600_000) as u64);
    app.clock.advance(Duration::from_secs(3600) - into_hour);
    let known = send_script(&app, KNOWN).await;
    let unknown = send_script(&app, UNKNOWN).await;
    assert_eq!(unknown, known);
    assert!(known[1].starts_with("429 \"resend_too_soon\""), "{known:?}");
    assert!(known[4].starts_with("429 \"too_many_sends\""), "three sends per login: {known:?}");
    assert!(known[7].starts_with("429 \"too_many_sends\""), "five sends per destination an hour: {known:?}");
    app.clock.advance(Duration::from_secs(3600));
    let again = identify_hidden(&app, "an-hour-later", UNKNOWN).await;
    assert_eq!(again.0, 200, "the decoy's hourly count renews as a record's does");
}

/// Wrong codes until the record's lockout, through new codes when one is used up.
async fn guess_script(app: &TestApp, identifier: &str) -> Vec<String> {
    let mut seen = Vec::new();
    for round in 0..5 {
        let conversation = format!("guess-{identifier}-{round}");
        let sent = app.sink.count();
        let identified = identify_hidden(app, &conversation, identifier).await;
        seen.push(observed(&identified));
        if identified.0 != 200 {
            break;
        }
        let code = if identifier == KNOWN {
            app.sink.wait_for(sent + 1).await["code"].as_str().unwrap().to_string()
        } else {
            "123456".into()
        };
        for _ in 0..3 {
            seen.push(observed(&error_of(app.verify(&conversation, &wrong_code(&code)).await).await));
        }
    }
    seen
}

#[tokio::test]
async fn failed_codes_lock_a_decoy_after_the_same_count_as_a_record() {
    let app = spawn_app().await;
    app.add_ana().await;
    let known = guess_script(&app, KNOWN).await;
    let unknown = guess_script(&app, UNKNOWN).await;
    assert_eq!(unknown, known);
    let locked = known.iter().position(|o| o.starts_with("429 \"locked\"")).expect("the record locks");
    let failures = known[..locked].iter().filter(|o| o.starts_with("422")).count();
    assert_eq!(failures, 10, "otp.max_failures_per_record: {known:?}");
    assert!(known.last().unwrap().starts_with("429 \"locked\""), "identify is refused too: {known:?}");
    let audit = app.audit_text().await;
    let decoy_lockout = audit.lines().find(|l| l.starts_with("lockout.record") && l.contains("decoy:"));
    assert!(decoy_lockout.is_some(), "the operator sees the decoy locked:\n{audit}");
    assert!(audit.lines().any(|l| l.starts_with("lockout.record") && l.contains("employees/4721")), "{audit}");
}

/// A delivery endpoint that takes `delay` to accept each message (a provider's API).
async fn slow_provider(delay: Duration) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/otp", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/otp",
        axum::routing::post(move || async move {
            tokio::time::sleep(delay).await;
            "ok"
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Known and unknown identifies interleaved, so that whatever else loads the machine
/// loads both alike; medians, so that a few stalls do not decide. Without the decoy's
/// delivery-shaped wait the unknown median is a whole provider delay shorter.
#[tokio::test]
async fn known_and_unknown_identifiers_take_as_long() {
    const DELAY: Duration = Duration::from_millis(80);
    let provider = slow_provider(DELAY).await;
    let app = spawn_app_with(|c| {
        c.delivery.webhook.as_mut().unwrap().url = provider;
        c.delivery.limits.per_destination_per_hour = 1000;
    })
    .await;
    app.add_ana().await;
    let timed = async |conversation: String, identifier: &str| {
        let started = Instant::now();
        let (status, body) = identify_hidden(&app, &conversation, identifier).await;
        assert_eq!(status, 200, "{body}");
        started.elapsed()
    };
    for i in 0..3 {
        timed(format!("warm-{i}"), KNOWN).await;
    }
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..21 {
        known.push(timed(format!("k{i}"), KNOWN).await);
        unknown.push(timed(format!("u{i}"), UNKNOWN).await);
    }
    let (known, unknown) = (median(known), median(unknown));
    eprintln!("median identify: known {known:?}, unknown {unknown:?} (provider delay {DELAY:?})");
    assert!(known >= DELAY, "the provider's delay is in the known path: {known:?}");
    let gap = known.abs_diff(unknown);
    assert!(gap < DELAY / 2, "medians {known:?} (known) and {unknown:?} (unknown) differ by {gap:?}");
}
