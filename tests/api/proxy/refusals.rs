//! Every refusal and failure of the proxy: the status and code, and that nothing
//! reached the upstream.
use std::time::Duration;

use super::*;

async fn refused(response: reqwest::Response) -> (u16, String) {
    let (status, body) = error_of(response).await;
    (status, body["error"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn deny_by_default_roles_and_own_records() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    let cases = [
        ("/employees/4722/payslips/2026-10", 403, "forbidden_resource"),
        ("/employees/%34%37%32%32/payslips/2026-10", 403, "forbidden_resource"),
        ("/admin/reports", 403, "insufficient_role"),
        ("/employees/4721/payslips", 404, "no_route"),
        ("/employees/4721/payslips/2026-10/extra", 404, "no_route"),
        ("/employees/4721/payslips/2026-10/", 404, "no_route"),
        ("/nowhere", 404, "no_route"),
    ];
    for (path, status, code) in cases {
        assert_eq!(refused(app.proxy_get(&token, path).await).await, (status, code.to_string()), "{path}");
    }
    let wrong_method = app.http.delete(app.proxy_url("/employees/4721/payslips/2026-10")).bearer_auth(&token);
    assert_eq!(refused(wrong_method.send().await.unwrap()).await, (404, "no_route".into()));
    let unknown = app.http.get(format!("{}/v1/proxy/billing/x", app.url)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(refused(unknown).await, (404, "unknown_service".into()));
    assert_eq!(upstream.hits(), 0);
    // The percent-encoded spelling of her own number is her own number.
    seen(app.proxy_get(&token, "/employees/%34%37%32%31/payslips/2026-10").await).await;
    let denied = app.proxy_events("proxy.denied").await;
    let reasons: Vec<&str> = denied.iter().map(|e| e["reason"].as_str().unwrap()).collect();
    assert!(reasons.contains(&"forbidden_resource") && reasons.contains(&"insufficient_role"), "{reasons:?}");
    let forbidden = denied.iter().find(|e| e["reason"] == "forbidden_resource").unwrap();
    assert_eq!(forbidden["count"], 2);
}

#[tokio::test]
async fn a_route_without_roles_or_bindings_still_needs_a_valid_token() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    seen(app.proxy_get(&token, "/public/docs/handbook.pdf").await).await;
    let anonymous = app.http.get(app.proxy_url("/public/docs/handbook.pdf")).send().await.unwrap();
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer realm=\"doorman\", error=\"invalid_token\"");
    assert_eq!(refused(anonymous).await, (401, "invalid_token".into()));
    assert_eq!(refused(app.proxy_get("not-a-jwt", "/public/x").await).await, (401, "invalid_token".into()));
    assert_eq!(upstream.hits(), 1);
}

#[tokio::test]
async fn an_expired_token_is_refused_without_waiting() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    seen(app.proxy_get(&token, "/employees/4721/payslips/2026-10").await).await;
    app.clock.advance(app.config.tokens.access_ttl);
    let (status, body) = error_of(app.proxy_get(&token, "/employees/4721/payslips/2026-10").await).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (401, "invalid_token"));
    assert!(body["error_description"].as_str().unwrap().contains("expired"), "{body}");
    assert_eq!(upstream.hits(), 1);
}

#[tokio::test]
async fn a_token_of_an_ended_session_is_refused_at_once() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    seen(app.proxy_get(&token, "/employees/4721/payslips/2026-10").await).await;
    assert_eq!(app.delete("+34600000001").await.status(), 204);
    let (status, body) = error_of(app.proxy_get(&token, "/employees/4721/payslips/2026-10").await).await;
    assert_eq!(status, 401);
    assert!(body["error_description"].as_str().unwrap().contains("session has ended"), "{body}");
    assert_eq!(upstream.hits(), 1);
}

#[tokio::test]
async fn a_session_ended_on_another_replica_is_refused_after_one_poll() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    let replica = app.replica().await;
    seen(replica.proxy_get(&token, "/employees/4721/payslips/2026-10").await).await;
    assert_eq!(app.delete("+34600000001").await.status(), 204);
    // The replica learns of it from its next poll of the database (every second);
    // the test runs that poll itself instead of waiting for it.
    let store = &replica.state.auth.store;
    store.poll_ended_sessions(replica.clock.now(), replica.config.tokens.access_ttl).await.unwrap();
    assert_eq!(refused(replica.proxy_get(&token, "/employees/4721/payslips/2026-10").await).await.0, 401);
    // A fresh replica loads recent endings before it serves.
    let late = app.replica().await;
    assert_eq!(refused(late.proxy_get(&token, "/employees/4721/payslips/2026-10").await).await.0, 401);
    assert_eq!(upstream.hits(), 1);
}

#[tokio::test]
async fn a_session_superseded_by_a_racing_login_is_refused_at_once() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    seen(app.proxy_get(&token, "/employees/4721/payslips/2026-10").await).await;
    // Two logins racing on one conversation: the later insert ends the earlier session.
    // Only a race gets here, so the test inserts the second session itself.
    let store = &app.state.auth.store;
    let sid = claims_unverified(&token)["sid"].as_str().unwrap().to_string();
    let first = store.find_session(&sid).await.unwrap().unwrap();
    let second = doorman::store::sessions::Session { id: "racing-login".into(), auth_time: app.clock.now(), ..first };
    store.insert_session(store.db(), second).await.unwrap();
    assert_eq!(refused(app.proxy_get(&token, "/employees/4721/payslips/2026-10").await).await.0, 401);
    assert_eq!(upstream.hits(), 1);
}

#[tokio::test]
async fn logging_in_again_gives_a_new_token_and_the_old_stays_refused() {
    let upstream = Upstream::start().await;
    let (app, old) = proxied(&upstream).await;
    seen(app.proxy_get(&old, "/employees/4721/payslips/2026-10").await).await;
    app.clock.advance(Duration::from_secs(1));
    assert_eq!(app.delete("+34600000001").await.status(), 204);
    let new = app.login("+34600000001").await["access_token"].as_str().unwrap().to_string();
    assert_eq!(refused(app.proxy_get(&old, "/employees/4721/payslips/2026-10").await).await.0, 401);
    seen(app.proxy_get(&new, "/employees/4721/payslips/2026-10").await).await;
}

#[tokio::test]
async fn an_upstream_that_is_down_is_a_502_and_a_slow_one_a_504() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    let (status, body) = error_of(app.proxy_get(&token, "/slow/4721").await).await;
    assert_eq!((status, body["error"].as_str()), (504, Some("upstream_timeout")));
    assert_eq!(body["error_description"], "service `payroll` did not answer in time");

    let (down, token) = proxied_with(&upstream, |c| c.services[0].upstream = closed.clone()).await;
    let (status, body) = error_of(down.proxy_get(&token, "/employees/4721/payslips/2026-10").await).await;
    assert_eq!((status, body["error"].as_str()), (502, Some("bad_gateway")));
    let description = body["error_description"].as_str().unwrap();
    assert!(description.starts_with("service `payroll` could not be reached"), "{description}");
    assert!(!description.contains(&closed) && !description.contains("127.0.0.1"), "no upstream URL: {description}");
    // Still serving.
    assert_eq!(down.http.get(format!("{}/healthz", down.url)).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_response_body_that_stalls_is_cut_off_after_the_timeout() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    let response = app.proxy_get(&token, "/stall/4721").await;
    assert_eq!(response.status(), 200, "the headers arrived in time");
    // The service's timeout is 2 s; the outer bound only keeps a failure from hanging the suite.
    let body = tokio::time::timeout(Duration::from_secs(20), response.text()).await.expect("cut off, not hung");
    assert!(body.is_err(), "the truncated body must end in an error, not look complete: {body:?}");
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_declared_or_streamed() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    let big = "x".repeat(1025);
    let declared = app.http.post(app.proxy_url("/employees/4721/requests")).bearer_auth(&token).body(big.clone());
    assert_eq!(refused(declared.send().await.unwrap()).await.0, 413);
    let json_route = app.http.post(app.proxy_url("/employees/4721/forms")).bearer_auth(&token);
    let chunks = chunked(vec![big.clone()]);
    let streamed = json_route.header("content-type", "application/json").body(chunks);
    assert_eq!(refused(streamed.send().await.unwrap()).await.0, 413);
    assert_eq!(upstream.hits(), 0);
}

#[tokio::test]
async fn a_json_route_refuses_a_body_that_cannot_hold_the_token() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    let post = |body: &'static str, mime: &'static str| {
        app.http
            .post(app.proxy_url("/employees/4721/forms"))
            .bearer_auth(&token)
            .header("content-type", mime)
            .body(body)
    };
    for (body, mime) in [
        ("{not json", "application/json"),
        ("[1, 2]", "application/json"),
        ("{\"auth\": 5}", "application/json"),
        ("a=1", "text/plain"),
    ] {
        let (status, code) = refused(post(body, mime).send().await.unwrap()).await;
        assert_eq!((status, code.as_str()), (400, "invalid_request"), "{body}");
    }
    assert_eq!(upstream.hits(), 0);
}
