//! Slowloris (issue 12): thousands of connections that sent half a request head. Real
//! requests are still served while they are held, and each is closed after the header
//! timeout.
use std::time::{Duration, Instant};

use futures::future::join_all;

use super::*;
use crate::helpers::{BOT, spawn_app_with};

const HALF_OPEN: usize = 3_000;
// Long enough to open them all first: a debug build on 2 busy cores took up to 4.3 s.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn thousands_of_half_open_connections_do_not_stop_real_requests() {
    // Two sockets per connection in this process (client and server), and some to spare.
    let wanted = (HALF_OPEN as u64) * 2 + 1_024;
    let limit = rlimit::increase_nofile_limit(wanted).unwrap_or(0);
    assert!(limit >= wanted, "this test needs `ulimit -n` of at least {wanted}, have {limit}");
    let app = spawn_app_with(|c| {
        c.server.request_header_timeout = HEADER_TIMEOUT;
        // The attack comes from one address; the per-IP cap would refuse most of it,
        // and this test is about the timeout.
        c.server.max_connections_per_ip = HALF_OPEN + 100;
    })
    .await;
    app.add_ana().await;
    let started = Instant::now();
    let mut held = Vec::with_capacity(HALF_OPEN);
    for _ in 0..HALF_OPEN {
        let mut stream = TcpStream::connect(address(&app)).await.expect("connect");
        stream
            .write_all(b"POST /v1/conversations/whatsapp/1/identify HTTP/1.1\r\nHost: x\r\nContent-Ty")
            .await
            .unwrap();
        held.push(stream);
    }
    let opened = started.elapsed();
    // While they are all held (well inside the header timeout): real requests are served.
    let response = app.identify("+34600000001", "4721").await;
    assert_eq!(response.status(), 200, "an identify after opening {HALF_OPEN} half-open connections");
    for i in 0..20 {
        let url = app.conversation_url("whatsapp", &format!("+3460000{i:04}"), "");
        let response = app.http.get(url).basic_auth(BOT.0, Some(BOT.1)).send().await.unwrap();
        assert_eq!(response.status(), 200, "request {i} while they are held");
    }
    assert!(started.elapsed() < HEADER_TIMEOUT, "the real requests ran while the attack was held ({opened:?} to open)");
    // Then every half-open connection is closed by the header timeout.
    let closed = join_all(held.iter_mut().map(|s| closed_within(s, HEADER_TIMEOUT + Duration::from_secs(5)))).await;
    let open = closed.iter().filter(|c| !**c).count();
    assert_eq!(open, 0, "{open} of {HALF_OPEN} half-open connections outlived the header timeout");
    assert_eq!(reqwest::get(format!("{}/healthz", app.url)).await.unwrap().status(), 200);
}
