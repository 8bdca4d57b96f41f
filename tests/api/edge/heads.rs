//! RFC 9112 §3.2 and sizes: heads that say two things, or too much, are refused in the
//! error shape of DESIGN §5 before any handler runs.
use super::*;
use crate::helpers::spawn_app;

#[tokio::test]
async fn host_must_be_one_host_and_present_on_http_1_1() {
    let app = spawn_app().await;
    for (why, head) in [
        ("no Host", "GET /healthz HTTP/1.1\r\n"),
        ("two Hosts", "GET /healthz HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n"),
        ("a Host with a path", "GET /healthz HTTP/1.1\r\nHost: a.example/admin\r\n"),
        ("a Host with user info", "GET /healthz HTTP/1.1\r\nHost: ana@a.example\r\n"),
    ] {
        let (status, body) = raw(&app, &format!("{head}Connection: close\r\n\r\n")).await;
        assert_eq!((status, error_code(&body).as_str()), (400, "invalid_request"), "{why}: {body}");
    }
    let (status, _) = raw(&app, "GET /healthz HTTP/1.1\r\nHost: a.example:8080\r\nConnection: close\r\n\r\n").await;
    assert_eq!(status, 200, "one Host with a port");
    let (status, _) = raw(&app, "GET /healthz HTTP/1.0\r\n\r\n").await;
    assert_eq!(status, 200, "HTTP/1.0 needs no Host");
}

#[tokio::test]
async fn two_authorization_headers_are_refused_not_picked_from() {
    let app = spawn_app().await;
    for path in ["/v1/conversations/whatsapp/1", "/v1/proxy/payroll/employees/4721"] {
        let head = format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic aHItYm90OmhyLWJvdC1zZWNyZXQtMDEyMzQ1Njc4OQ==\r\n\
             Authorization: Bearer other\r\nConnection: close\r\n\r\n"
        );
        let (status, body) = raw(&app, &head).await;
        assert_eq!((status, error_code(&body).as_str()), (400, "invalid_request"), "{path}: {body}");
    }
}

#[tokio::test]
async fn long_targets_and_large_heads_are_answered_in_the_error_shape() {
    let app = spawn_app().await;
    let long = "a".repeat(9 * 1024);
    let (status, body) = raw(&app, &format!("GET /{long} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")).await;
    assert_eq!((status, error_code(&body).as_str()), (414, "invalid_request"));
    let many: String = (0..150).map(|i| format!("X-Filler-{i}: 1\r\n")).collect();
    let (status, body) =
        raw(&app, &format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many}Connection: close\r\n\r\n")).await;
    assert_eq!((status, error_code(&body).as_str()), (431, "invalid_request"));
    let big = "b".repeat(40 * 1024);
    let (status, body) =
        raw(&app, &format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\nConnection: close\r\n\r\n")).await;
    assert_eq!((status, error_code(&body).as_str()), (431, "invalid_request"));
    // The server keeps serving.
    assert_eq!(reqwest::get(format!("{}/healthz", app.url)).await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_refused_before_it_is_sent() {
    let app = spawn_app().await;
    // 10 MB declared, not a byte sent: the answer cannot wait for the body.
    let (status, body) = raw(
        &app,
        "POST /v1/conversations/whatsapp/1/identify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Authorization: Basic aHItYm90OmhyLWJvdC1zZWNyZXQtMDEyMzQ1Njc4OQ==\r\nContent-Length: 10000000\r\n\r\n",
    )
    .await;
    assert_eq!((status, error_code(&body).as_str()), (413, "invalid_request"), "{body}");
    // The import route has its own, larger limit: the same length is not refused there.
    let mut stream = TcpStream::connect(address(&app)).await.unwrap();
    stream
        .write_all(
            b"POST /admin/v1/directories/employees/records HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n",
        )
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buf)).await;
    assert!(early.is_err() || !String::from_utf8_lossy(&buf).contains(" 413 "), "the import route waits for its body");
}
