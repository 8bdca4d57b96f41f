//! `[server]` timeouts and connection caps, each with a short configured value.
use std::time::{Duration, Instant};

use super::*;
use crate::helpers::spawn_app_with;

const SHORT: Duration = Duration::from_millis(300);

#[tokio::test]
async fn half_a_request_head_is_cut_off_after_the_header_timeout() {
    let app = spawn_app_with(|c| c.server.request_header_timeout = SHORT).await;
    let mut stream = TcpStream::connect(address(&app)).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let started = Instant::now();
    assert!(closed_within(&mut stream, Duration::from_secs(3)).await, "closed after the header timeout");
    assert!(started.elapsed() >= SHORT - Duration::from_millis(50), "not before it: {:?}", started.elapsed());
}

#[tokio::test]
async fn a_stalled_body_is_cut_off_after_the_body_timeout() {
    let app = spawn_app_with(|c| c.server.request_body_timeout = SHORT).await;
    let mut stream = TcpStream::connect(address(&app)).await.unwrap();
    stream
        .write_all(
            b"POST /v1/conversations/whatsapp/1/identify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Authorization: Basic aHItYm90OmhyLWJvdC1zZWNyZXQtMDEyMzQ1Njc4OQ==\r\nContent-Length: 50\r\n\r\n{\"flow\"",
        )
        .await
        .unwrap();
    let (status, body) = parse(&read_answer(&mut stream).await);
    assert!(status == 0 || (400..500).contains(&status), "a client error or a close, got {status} {body}");
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_idle_timeout() {
    let app = spawn_app_with(|c| c.server.idle_timeout = SHORT).await;
    let mut silent = TcpStream::connect(address(&app)).await.unwrap();
    assert!(closed_within(&mut silent, Duration::from_secs(3)).await, "a connection that never spoke");
    let mut kept = TcpStream::connect(address(&app)).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    assert!(closed_within(&mut kept, Duration::from_secs(3)).await, "a keep-alive connection after its answer");
}

#[tokio::test]
async fn connections_over_the_per_ip_cap_are_closed_at_once() {
    let app = spawn_app_with(|c| c.server.max_connections_per_ip = 3).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(address(&app)).await.unwrap();
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut buf = [0u8; 12];
        stream.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf[9..12], b"200", "within the cap");
        held.push(stream);
    }
    let mut fourth = TcpStream::connect(address(&app)).await.unwrap();
    let _ = fourth.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(closed_within(&mut fourth, Duration::from_secs(1)).await, "over the cap: closed");
    // A place comes back when a connection ends.
    drop(held.pop());
    let served = async {
        loop {
            let (status, _) = raw(&app, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
            if status == 200 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    assert!(tokio::time::timeout(Duration::from_secs(3), served).await.is_ok(), "served again once one closed");
}
