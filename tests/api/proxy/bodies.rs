//! Requests the client got wrong in the body or in the path bytes: refused with 400 in
//! the error shape, and nothing reaches the upstream.
use super::*;

fn post_head(token: &str, framing: &str) -> String {
    format!("POST /v1/proxy/payroll/employees/4721/requests HTTP/1.1\r\nAuthorization: Bearer {token}\r\n{framing}")
}

/// The JSON error in a raw answer.
fn error_body(answer: &str) -> Value {
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
    serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {answer:?}"))
}

#[tokio::test]
async fn a_body_shorter_than_its_content_length_is_a_400_and_never_forwarded() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    let (status, answer) = raw_then_close(&app, &post_head(&token, "Content-Length: 500"), &[b'x'; 100]).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(error_body(&answer)["error"], "invalid_request");
    assert_eq!(upstream.hits(), 0, "the upstream got no truncated request");
}

#[tokio::test]
async fn a_malformed_or_cut_chunked_body_is_a_400_and_never_forwarded() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    let chunked = post_head(&token, "Transfer-Encoding: chunked");
    for (body, close) in [
        (&b"5\r\nhello\r\nZZ\r\nbad\r\n0\r\n\r\n"[..], false),
        (&b"5\r\nhelloXX\r\n0\r\n\r\n"[..], false),
        (&b"a\r\nhel"[..], true),
        (&b"5\r\nhello\r\n"[..], true),
    ] {
        let (status, answer) =
            if close { raw_then_close(&app, &chunked, body).await } else { raw(&app, &chunked, body).await };
        assert_eq!(status, 400, "{:?}: {answer}", String::from_utf8_lossy(body));
        let error = error_body(&answer);
        assert_eq!(error["error"], "invalid_request");
        assert!(error["error_description"].as_str().unwrap().contains("body"), "{error}");
    }
    assert_eq!(upstream.hits(), 0);
    // The sanity check: a whole chunked body goes through.
    let (status, answer) = raw(&app, &chunked, b"5\r\nhello\r\n0\r\n\r\n").await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("\"body\":\"hello\""), "{answer}");
}

#[tokio::test]
async fn escapes_that_are_not_utf8_are_refused_like_encoded_slashes() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    for path in [
        "/public/%C0%AF",
        "/public/%C0%AE%C0%AE/admin",
        "/public/%E0%80%AF",
        "/public/%FF",
        "/public/%C3",
        "/employees/4721%C0%AF/payslips/2026-10",
        "/legacy/%C0%AF",
    ] {
        let head = format!("GET /v1/proxy/payroll{path} HTTP/1.1\r\nAuthorization: Bearer {token}");
        let (status, answer) = raw(&app, &head, b"").await;
        assert_eq!(status, 400, "{path}: {answer}");
        assert_eq!(error_body(&answer)["error"], "invalid_request", "{path}");
    }
    assert_eq!(upstream.hits(), 0);
    let head = format!("GET /v1/proxy/payroll/public/caf%C3%A9 HTTP/1.1\r\nAuthorization: Bearer {token}");
    let (status, answer) = raw(&app, &head, b"").await;
    assert_eq!(status, 200, "well-formed UTF-8 escapes pass: {answer}");
    assert!(answer.contains("/public/caf%C3%A9"), "{answer}");
}
