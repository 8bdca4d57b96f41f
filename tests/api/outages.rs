//! A database that does not answer in time: requests get `503 temporarily_unavailable`
//! with `Retry-After` after the configured acquire timeout (not the old 10 s),
//! `/readyz` says 503 within a second, and service resumes when the database does.
use std::time::{Duration, Instant};

use crate::helpers::*;

// Short, but long enough that start-up on a loaded machine gets its connections.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);

/// Holds every connection of the writing pool, as a stuck transaction or a database
/// that stopped answering would: the next request cannot get one.
async fn exhaust_pool(app: &TestApp) -> Vec<sea_orm::DatabaseTransaction> {
    let mut held = Vec::new();
    while let Ok(txn) = sea_orm::TransactionTrait::begin(app.state.auth.store.db()).await {
        held.push(txn);
        assert!(held.len() <= 64, "the pool should be bounded");
    }
    assert!(!held.is_empty());
    held
}

async fn readyz(app: &TestApp) -> (u16, Duration) {
    let started = Instant::now();
    let response = app.http.get(format!("{}/readyz", app.url)).send().await.unwrap();
    (response.status().as_u16(), started.elapsed())
}

#[tokio::test]
async fn an_unavailable_database_is_a_fast_503_with_retry_after() {
    let app = spawn_app_with(|c| c.database.acquire_timeout = ACQUIRE_TIMEOUT).await;
    app.add_ana().await;
    let held = exhaust_pool(&app).await;

    let started = Instant::now();
    let response = app.identify("+34600000001", "4721").await;
    let elapsed = started.elapsed();
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
    let (status, body) = error_of(response).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (503, "temporarily_unavailable"), "{body}");
    let description = body["error_description"].as_str().unwrap();
    assert!(!description.contains("Pool") && !description.contains("database:"), "no internals: {description}");
    let seconds: u64 = retry_after.expect("Retry-After").parse().expect("delta-seconds");
    assert!(seconds > 0);
    assert!(elapsed < Duration::from_secs(4), "answered after {elapsed:?}, not the old 10 s");
    assert!(elapsed >= ACQUIRE_TIMEOUT, "it waited for a connection first: {elapsed:?}");

    let (status, elapsed) = readyz(&app).await;
    assert_eq!(status, 503);
    assert!(elapsed < Duration::from_secs(1), "/readyz took {elapsed:?}");

    drop(held);
    assert_eq!(readyz(&app).await.0, 200);
    assert_eq!(app.identify("+34600000001", "4721").await.status(), 200, "service resumes");
}

/// PostgreSQL only: the database itself goes away (its connections terminated, then
/// dropped) under a running doorman.
#[tokio::test]
async fn a_dropped_postgres_database_is_a_fast_503() {
    let Ok(admin_url) = std::env::var("DOORMAN_TEST_DATABASE_URL") else {
        return;
    };
    if !admin_url.starts_with("postgres") {
        return;
    }
    let app = spawn_app_with(|c| c.database.acquire_timeout = ACQUIRE_TIMEOUT).await;
    app.add_ana().await;
    let name = app.config.database.url.rsplit('/').next().unwrap().to_string();
    let admin = sea_orm::Database::connect(&admin_url).await.unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(&admin, &format!("DROP DATABASE {name} WITH (FORCE)")).await.unwrap();

    for conversation in ["+34600000001", "+34600000002"] {
        let started = Instant::now();
        let response = app.identify(conversation, "4721").await;
        let elapsed = started.elapsed();
        let has_retry_after = response.headers().contains_key("retry-after");
        let (status, body) = error_of(response).await;
        assert_eq!((status, body["error"].as_str().unwrap()), (503, "temporarily_unavailable"), "{body}");
        assert!(has_retry_after);
        assert!(elapsed < Duration::from_secs(3), "answered after {elapsed:?}");
    }
    let (status, elapsed) = readyz(&app).await;
    assert_eq!(status, 503);
    assert!(elapsed < Duration::from_secs(1), "/readyz took {elapsed:?}");
}
