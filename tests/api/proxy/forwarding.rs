//! What reaches the upstream when a request is allowed.
use serde_json::json;

use super::*;
use crate::tokens::claims_of;

#[tokio::test]
async fn an_exchanged_token_for_the_service_audience_replaces_the_callers() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    let seen = seen(app.proxy_get(&token, "/employees/4721/payslips/2026-10?format=pdf").await).await;
    assert_eq!(seen["method"], "GET");
    assert_eq!(seen["uri"], "/employees/4721/payslips/2026-10?format=pdf");
    let injected = header(&seen, "authorization").unwrap().strip_prefix("Bearer ").unwrap();
    assert_ne!(injected, token, "exchange mode never forwards the person's own token");
    let exchanged = claims_unverified(injected);
    let own = claims_of(&app, &token).await;
    assert_eq!(exchanged["aud"], "payroll-api");
    assert_eq!(exchanged["sub"], own["sub"]);
    assert_eq!(exchanged["sid"], own["sid"]);
    assert_eq!(exchanged["roles"], own["roles"]);
    assert_eq!(exchanged["employee_number"], "4721");
    let now = app.clock.now() / 1000;
    assert!(exchanged["exp"].as_i64().unwrap() <= (now + 60).min(own["exp"].as_i64().unwrap()));
    assert_ne!(exchanged["jti"], own["jti"]);
    // The same session and service reuse the exchanged token while it is fresh.
    let again = seen_token(&app, &token).await;
    assert_eq!(again, injected);
}

async fn seen_token(app: &TestApp, token: &str) -> String {
    let seen = seen(app.proxy_get(token, "/employees/4721/payslips/2026-11").await).await;
    header(&seen, "authorization").unwrap().strip_prefix("Bearer ").unwrap().to_string()
}

#[tokio::test]
async fn an_exchanged_token_is_renewed_before_it_expires() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    let first = seen_token(&app, &token).await;
    app.clock.advance(std::time::Duration::from_secs(55));
    let second = seen_token(&app, &token).await;
    assert_ne!(first, second, "a token with 5 s left is not handed out");
    let exp = claims_unverified(&second)["exp"].as_i64().unwrap();
    assert!(exp > app.clock.now() / 1000 + 10);
}

#[tokio::test]
async fn forward_mode_sends_the_persons_own_token() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    let response = app
        .http
        .post(app.proxy_url("/employees/4721/requests"))
        .bearer_auth(&token)
        .body("hello")
        .send()
        .await
        .unwrap();
    let seen = seen(response).await;
    assert_eq!(header(&seen, "authorization"), Some(format!("Bearer {token}").as_str()));
    assert_eq!(seen["body"], "hello");
}

#[tokio::test]
async fn header_query_and_json_injection_put_the_token_where_the_route_says() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;

    let seen_header = seen(app.proxy_get(&token, "/employees/4721/header").await).await;
    let in_header = header(&seen_header, "x-user-token").unwrap();
    assert_eq!(claims_unverified(in_header)["aud"], "payroll-api");
    assert!(header(&seen_header, "authorization").is_none());

    // A client-sent `auth` parameter is dropped, so the upstream reads only doorman's.
    let seen_query = seen(app.proxy_get(&token, "/employees/4721/query?x=1&auth=forged&au%74h=forged2").await).await;
    let uri = seen_query["uri"].as_str().unwrap();
    assert!(uri.starts_with("/employees/4721/query?x=1&auth=ey"), "{uri}");
    assert!(!uri.contains("forged"), "{uri}");

    let response = app
        .http
        .post(app.proxy_url("/employees/4721/forms"))
        .bearer_auth(&token)
        .json(&json!({"days": 3, "auth": {"token": "forged", "keep": true}}))
        .send()
        .await
        .unwrap();
    let seen_json = seen(response).await;
    let body: Value = serde_json::from_str(seen_json["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["days"], 3);
    assert_eq!(body["auth"]["keep"], true);
    assert_eq!(claims_unverified(body["auth"]["token"].as_str().unwrap())["aud"], "payroll-api");
    assert_eq!(
        header(&seen_json, "content-length"),
        Some(seen_json["body"].as_str().unwrap().len().to_string().as_str())
    );

    // No body at all: the token alone.
    let response = app.http.put(app.proxy_url("/employees/4721/forms")).bearer_auth(&token).send().await.unwrap();
    let body: Value = serde_json::from_str(seen(response).await["body"].as_str().unwrap()).unwrap();
    assert!(body["auth"]["token"].is_string());
}

#[tokio::test]
async fn an_upstream_path_template_fills_claims_and_the_token() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    let seen = seen(app.proxy_get(&token, "/legacy/4721?auth=forged&emp=9999&page=2").await).await;
    let uri = seen["uri"].as_str().unwrap();
    let (path, query) = uri.split_once('?').unwrap();
    assert_eq!(path, "/old/payslip");
    let pairs: Vec<(&str, &str)> = query.split('&').map(|p| p.split_once('=').unwrap()).collect();
    assert_eq!(pairs[0], ("emp", "4721"));
    assert_eq!(pairs[1].0, "auth");
    assert_eq!(claims_unverified(pairs[1].1)["aud"], "payroll-api");
    assert_eq!(pairs[2..], [("page", "2")], "the client's emp and auth are dropped");
    assert!(header(&seen, "authorization").is_none(), "inject = none");
}

#[tokio::test]
async fn forwarding_headers_are_doormans_own_and_secrets_stay_behind() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    let response = app
        .http
        .get(app.proxy_url("/employees/4721/payslips/2026-10"))
        .bearer_auth(&token)
        .header("cookie", "session=abc")
        .header("x-forwarded-for", "6.6.6.6")
        .header("x-forwarded-proto", "https")
        .header("x-request-id", "forged")
        .header("x-custom", "kept")
        .header("connection", "x-drop-me")
        .header("x-drop-me", "1")
        .send()
        .await
        .unwrap();
    let request_id = response.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(response.headers().get("x-internal-trace").is_none(), "named by the upstream's Connection");
    assert!(response.headers().get("keep-alive").is_none());
    assert_eq!(response.headers()["x-upstream"], "payroll");
    let seen = seen(response).await;
    assert_eq!(header(&seen, "x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(header(&seen, "x-forwarded-proto"), Some("http"));
    assert_eq!(header(&seen, "x-forwarded-host"), Some("doorman.test"), "public_url's host, not the client's Host");
    assert_eq!(header(&seen, "x-request-id"), Some(request_id.as_str()));
    assert_ne!(request_id, "forged");
    assert_eq!(header(&seen, "x-custom"), Some("kept"));
    assert!(header(&seen, "cookie").is_none());
    assert!(header(&seen, "x-drop-me").is_none());
    assert_eq!(seen["headers"]["authorization"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_trusted_proxys_forwarding_headers_are_extended() {
    let upstream = Upstream::start().await;
    let (app, token) =
        proxied_with(&upstream, |c| c.server.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()]).await;
    let response = app
        .http
        .get(app.proxy_url("/employees/4721/payslips/2026-10"))
        .bearer_auth(&token)
        .header("x-forwarded-for", "203.0.113.7")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "bots.example.com")
        .header("x-request-id", "edge-42")
        .send()
        .await
        .unwrap();
    let seen = seen(response).await;
    assert_eq!(header(&seen, "x-forwarded-for"), Some("203.0.113.7, 127.0.0.1"));
    assert_eq!(header(&seen, "x-forwarded-proto"), Some("https"));
    assert_eq!(header(&seen, "x-forwarded-host"), Some("bots.example.com"));
    assert_eq!(header(&seen, "x-request-id"), Some("edge-42"));
}

#[tokio::test]
async fn bodies_stream_through_up_to_the_limit() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    let body = "x".repeat(1024);
    let response = app
        .http
        .post(app.proxy_url("/employees/4721/requests"))
        .bearer_auth(&token)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(seen(response).await["body"], body);
    // A streamed (chunked) body of unknown length, also within the limit.
    let chunks = chunked(vec!["a".repeat(500), "b".repeat(500)]);
    let response =
        app.http.post(app.proxy_url("/employees/4721/requests")).bearer_auth(&token).body(chunks).send().await.unwrap();
    assert_eq!(seen(response).await["body"].as_str().unwrap().len(), 1000);
}

#[tokio::test]
async fn allowed_requests_are_audited_as_counts_per_route() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    for _ in 0..3 {
        seen(app.proxy_get(&token, "/employees/4721/payslips/2026-10").await).await;
    }
    let events = app.proxy_events("proxy.allowed").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["count"], 3);
    assert_eq!(events[0]["service"], "payroll");
    assert_eq!(events[0]["route"], "GET /employees/{employee_number}/payslips/{month}");
    assert!(!app.audit_text().await.contains(&token), "no token in the audit trail");
}

/// The upstream pool (`proxy/pool.rs`): a connection goes back once its answer has been
/// read to the end and carries the next request; one whose answer was dropped unread
/// cannot, and a new one is opened instead.
#[tokio::test]
async fn upstream_connections_are_reused_once_their_answer_is_read() {
    let upstream = Upstream::start().await;
    // A short service timeout, so the stalled answer below is cut off soon.
    let (app, token) = proxied_with(&upstream, |c| c.services[0].timeout = Duration::from_millis(300)).await;
    for month in ["2026-08", "2026-09", "2026-10", "2026-11"] {
        let response = app.proxy_get(&token, &format!("/employees/4721/payslips/{month}")).await;
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap();
    }
    assert_eq!(upstream.hits(), 4);
    assert_eq!(upstream.connections(), 1, "four requests in a row, one keep-alive connection");
    // An answer that stalls after its first chunk is cut off by the service timeout; its
    // connection is closed, not reused, and the next request gets a fresh one.
    let stalled = app.proxy_get(&token, "/stall/4721").await;
    assert!(stalled.bytes().await.is_err(), "cut off by the timeout");
    let response = app.proxy_get(&token, "/employees/4721/payslips/2026-12").await;
    assert_eq!(response.status(), 200);
    assert_eq!(seen(response).await["uri"], "/employees/4721/payslips/2026-12");
    assert_eq!(upstream.connections(), 2);
}
