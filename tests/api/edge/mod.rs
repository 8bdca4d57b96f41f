//! The server's edge: request heads, sizes, timeouts and connection caps, spoken to in
//! raw HTTP/1.1 over TCP, where a client library would tidy the request up first.
mod heads;
mod metrics;
mod serve_binary;
mod slowloris;
mod timeouts;

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::TestApp;

pub fn address(app: &TestApp) -> String {
    app.url.trim_start_matches("http://").to_string()
}

/// Sends `request` as it is and reads until the server closes: status and body.
pub async fn raw(app: &TestApp, request: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address(app)).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let answer = read_answer(&mut stream).await;
    parse(&answer)
}

/// Everything the server writes until it closes (at most 5 s: the test fails instead).
pub async fn read_answer(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server neither answered nor closed: {}", String::from_utf8_lossy(&answer));
    String::from_utf8_lossy(&answer).into_owned()
}

pub fn parse(answer: &str) -> (u16, String) {
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// The `error` code of a §5 error body.
pub fn error_code(body: &str) -> String {
    let json: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not a JSON error body: {body:?}"));
    assert!(json["error_description"].is_string(), "{json}");
    json["error"].as_str().unwrap_or_default().to_string()
}

/// True when the server closed `stream` (or reset it) within `within`.
pub async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 512];
    matches!(
        tokio::time::timeout(within, async {
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => continue,
                }
            }
        })
        .await,
        Ok(())
    )
}
