//! Edge cases found by mutation testing and review: each test failed against a
//! deliberately broken proxy, or against a bug that is now fixed.
use std::time::Duration;

use super::*;

fn extra_routes(c: &mut Config) {
    let routes = &mut c.services[0].routes;
    let mut r = route(&["GET"], "/people/{name}");
    r.bind = BTreeMap::from([("name".into(), "name".into())]);
    routes.push(r);
    let mut r = route(&["GET"], "/badge/{employee_number}");
    r.bind = BTreeMap::from([("employee_number".into(), "badge".into())]);
    routes.push(r);
    let mut r = route(&["GET"], "/months/{month}");
    r.bind.clear();
    r.inject = Inject::None;
    r.upstream_path = Some("/old?month={month}&auth={authtoken}".into());
    routes.push(r);
}

#[tokio::test]
async fn a_bound_parameter_is_compared_decoded() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied_with(&upstream, extra_routes).await;
    seen(app.proxy_get(&token, "/people/Ana%20Ruiz").await).await;
    assert_eq!(error_of(app.proxy_get(&token, "/people/Ana%20Ruix").await).await.0, 403);
}

#[tokio::test]
async fn a_bound_claim_the_token_lacks_is_forbidden() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied_with(&upstream, extra_routes).await;
    let (status, body) = error_of(app.proxy_get(&token, "/badge/4721").await).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (403, "forbidden_resource"));
    assert_eq!(upstream.hits(), 0);
}

#[tokio::test]
async fn a_parameter_in_a_template_query_cannot_add_parameters() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied_with(&upstream, extra_routes).await;
    let seen = seen(app.proxy_get(&token, "/months/2026-10&auth=forged").await).await;
    let uri = seen["uri"].as_str().unwrap();
    assert!(uri.starts_with("/old?month=2026-10%26auth%3Dforged&auth=ey"), "{uri}");
    assert_eq!(uri.matches("auth=").count(), 1, "{uri}");
}

#[tokio::test]
async fn an_exchanged_token_never_outlives_the_persons() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    let own_exp = claims_unverified(&token)["exp"].as_i64().unwrap();
    app.clock.advance(Duration::from_secs(270)); // 30 s left on her token
    let seen = seen(app.proxy_get(&token, "/employees/4721/payslips/2026-10").await).await;
    let injected = header(&seen, "authorization").unwrap().strip_prefix("Bearer ").unwrap();
    assert!(claims_unverified(injected)["exp"].as_i64().unwrap() <= own_exp);
}

#[tokio::test]
async fn a_cached_exchanged_token_never_outlives_an_older_persons_token() {
    let upstream = Upstream::start().await;
    let (app, old) = proxied(&upstream).await;
    let old_exp = claims_unverified(&old)["exp"].as_i64().unwrap();
    app.clock.advance(Duration::from_secs(270));
    let fresh = app.post("+34600000001", "token", Value::Null).await.json::<Value>().await.unwrap();
    let fresh = fresh["access_token"].as_str().unwrap().to_string();
    seen(app.proxy_get(&fresh, "/employees/4721/payslips/2026-10").await).await; // caches exp = now + 60
    let seen = seen(app.proxy_get(&old, "/employees/4721/payslips/2026-10").await).await;
    let injected = header(&seen, "authorization").unwrap().strip_prefix("Bearer ").unwrap();
    assert!(claims_unverified(injected)["exp"].as_i64().unwrap() <= old_exp);
}

#[tokio::test]
async fn a_declared_oversize_body_is_refused_before_it_is_sent() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    let head = format!(
        "POST /v1/proxy/payroll/employees/4721/requests HTTP/1.1\r\nAuthorization: Bearer {token}\r\nContent-Length: 2048"
    );
    let (status, answer) = raw(&app, &head, &[b'x'; 100]).await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(upstream.hits(), 0);
}

#[tokio::test]
async fn hop_by_hop_request_headers_are_dropped() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    let response = app
        .http
        .get(app.proxy_url("/employees/4721/payslips/2026-10"))
        .bearer_auth(&token)
        .header("keep-alive", "timeout=5")
        .header("proxy-connection", "keep-alive")
        .header("te", "trailers")
        .header("trailer", "x-sum")
        .header("upgrade", "websocket")
        .send()
        .await
        .unwrap();
    let seen = seen(response).await;
    for name in ["keep-alive", "proxy-connection", "te", "trailer", "upgrade"] {
        assert!(header(&seen, name).is_none(), "{name}: {seen}");
    }
}

#[tokio::test]
async fn traversal_under_a_rest_route_without_roles_is_a_400() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    for path in ["/public/../admin/x", "/public/%2e%2e/admin/x", "/public/a;x=1/b", "/public//admin"] {
        let head = format!("GET /v1/proxy/payroll{path} HTTP/1.1\r\nAuthorization: Bearer {token}");
        let (status, answer) = raw(&app, &head, b"").await;
        assert_eq!(status, 400, "{path}: {answer}");
    }
    assert_eq!(upstream.hits(), 0);
}

#[tokio::test]
async fn double_encoding_with_encoded_digits_is_a_400() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    let head =
        format!("GET /v1/proxy/payroll/public/%25%32%65%25%32%65/admin HTTP/1.1\r\nAuthorization: Bearer {token}");
    let (status, answer) = raw(&app, &head, b"").await;
    assert_eq!(status, 400, "{answer}");
}

#[tokio::test]
async fn an_escape_with_a_sign_is_a_400() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    let head = format!("GET /v1/proxy/payroll/public/a%+1 HTTP/1.1\r\nAuthorization: Bearer {token}");
    let (status, answer) = raw(&app, &head, b"").await;
    assert_eq!(status, 400, "{answer}");
}

#[tokio::test]
async fn connection_cannot_hide_content_length() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    let head = format!(
        "POST /v1/proxy/payroll/employees/4721/requests HTTP/1.1\r\nAuthorization: Bearer {token}\r\nConnection: content-length\r\nContent-Length: 2048"
    );
    let (status, answer) = raw(&app, &head, &[b'x'; 100]).await;
    assert_eq!((status, upstream.hits()), (400, 0), "refused, never sent: {answer}");
}

#[tokio::test]
async fn routing_override_headers_and_semicolon_hidden_parameters_are_refused() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    for (name, value) in [
        ("x-original-url", "/employees/4722/payslips/2026-10"),
        ("X-Rewrite-URL", "/employees/4722/payslips/2026-10"),
        ("x-http-method-override", "DELETE"),
        ("x_method_override", "DELETE"),
    ] {
        let response =
            app.http.get(app.proxy_url("/employees/4721/payslips/2026-10")).bearer_auth(&token).header(name, value);
        assert_eq!(error_of(response.send().await.unwrap()).await.0, 400, "{name}");
    }
    assert_eq!(upstream.hits(), 0);
    // `;` splits parameters for some servers: `x=1;auth=forged` must not carry a second token.
    let seen = seen(app.proxy_get(&token, "/employees/4721/query?x=1;auth=forged&y=2").await).await;
    let uri = seen["uri"].as_str().unwrap();
    assert!(!uri.contains("forged") && uri.contains("y=2"), "{uri}");
}
