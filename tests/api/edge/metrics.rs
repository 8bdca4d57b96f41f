//! `GET /metrics`: off by default, behind its own token, and never a label that names
//! a person, a phone, a code or a token.
use super::*;
use crate::helpers::{BOT, spawn_app, spawn_app_with};
use crate::proxy::{Upstream, proxied_with};
use doorman::config::Secret;

const TOKEN: &str = "metrics-token-0123456789";

fn enabled(config: &mut doorman::config::Config) {
    config.metrics.enabled = true;
    config.metrics.token = Some(Secret::new(TOKEN));
}

async fn scrape(app: &TestApp) -> String {
    let response = app.http.get(format!("{}/metrics", app.url)).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    response.text().await.unwrap()
}

/// The value of the sample `name{labels}`, or 0 when it is not shown.
fn sample(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name_and_labels).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or(0.0)
}

/// Every `{...}` of the samples, one string.
fn label_sets(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| Some(&l[l.find('{')?..=l.rfind('}')?]))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn metrics_are_not_served_unless_enabled_and_then_only_with_the_token() {
    let app = spawn_app().await;
    assert_eq!(app.http.get(format!("{}/metrics", app.url)).send().await.unwrap().status(), 404);
    let app = spawn_app_with(enabled).await;
    for token in [None, Some("wrong-token-0123456789")] {
        let mut request = app.http.get(format!("{}/metrics", app.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{token:?}");
    }
    let config = doorman::config::load(None);
    assert!(config.is_ok());
    let mut no_token = doorman::config::Config::default();
    no_token.metrics.enabled = true;
    let err = no_token.validated().unwrap_err().to_string();
    assert!(err.starts_with("metrics.token"), "{err}");
}

#[tokio::test]
async fn logins_codes_failures_and_requests_are_counted_without_identifiers() {
    let app = spawn_app_with(enabled).await;
    app.add_ana().await;
    app.login("+34600000001").await;
    let code = app.identify_and_receive("+34600000002", "4721").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_eq!(app.verify("+34600000002", wrong).await.status(), 422);
    app.identify("+34600000003", "9999").await;
    let text = scrape(&app).await;
    assert_eq!(sample(&text, r#"doorman_logins_total{flow="payroll",outcome="authenticated"}"#), 1.0, "{text}");
    assert_eq!(sample(&text, r#"doorman_logins_total{flow="payroll",outcome="unknown_identifier"}"#), 1.0);
    assert_eq!(sample(&text, r#"doorman_codes_total{method="whatsapp",outcome="sent"}"#), 2.0);
    assert_eq!(sample(&text, r#"doorman_verify_failures_total{reason="wrong_code"}"#), 1.0);
    let identify = r#"route="/v1/conversations/{channel}/{id}/identify",method="POST",status="200""#;
    assert_eq!(sample(&text, &format!("doorman_http_requests_total{{{identify}}}")), 2.0, "{text}");
    let verify = r#"route="/v1/conversations/{channel}/{id}/verify""#;
    assert_eq!(sample(&text, &format!("doorman_http_request_duration_seconds_count{{{verify}}}")), 2.0, "{text}");
    assert_eq!(sample(&text, &format!(r#"doorman_http_request_duration_seconds_bucket{{le="+Inf",{verify}}}"#)), 2.0);
    assert!(text.contains(r#"doorman_db_pool_max_connections{pool="writer"}"#), "{text}");
    let labels = label_sets(&text);
    for secret in ["4721", "9999", "34600000001", "665762878", "Ana", &code, BOT.1] {
        assert!(!labels.contains(secret), "{secret} appears in a label");
    }
}

#[tokio::test]
async fn proxy_requests_decisions_and_upstream_latency_are_counted() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied_with(&upstream, enabled).await;
    assert_eq!(app.proxy_get(&token, "/employees/4721/payslips/2024-01").await.status(), 200);
    assert_eq!(app.proxy_get(&token, "/employees/9999/payslips/2024-01").await.status(), 403);
    assert_eq!(app.proxy_get("not-a-token", "/employees/4721/payslips/2024-01").await.status(), 401);
    app.state.flush_audit().await;
    let text = scrape(&app).await;
    assert_eq!(sample(&text, r#"doorman_proxy_requests_total{status="200"}"#), 1.0, "{text}");
    assert_eq!(sample(&text, r#"doorman_proxy_requests_total{status="403"}"#), 1.0);
    assert_eq!(sample(&text, r#"doorman_proxy_requests_total{status="401"}"#), 1.0);
    assert!(text.contains("doorman_proxy_request_duration_seconds_count 3"), "{text}");
    assert!(text.contains(r#"doorman_proxy_upstream_duration_seconds_count{service="payroll"} 1"#), "{text}");
    assert_eq!(sample(&text, r#"doorman_proxy_decisions_total{service="payroll",outcome="allowed"}"#), 1.0);
    assert_eq!(sample(&text, r#"doorman_proxy_decisions_total{service="payroll",outcome="forbidden_resource"}"#), 1.0);
    assert_eq!(sample(&text, r#"doorman_proxy_decisions_total{service="payroll",outcome="invalid_token"}"#), 1.0);
    let labels = label_sets(&text);
    assert!(!labels.contains("4721") && !labels.contains("9999") && !text.contains(&token), "{labels}");
}
