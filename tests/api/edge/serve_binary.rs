//! `doorman serve` as an operator runs it: JSON access lines with route templates, no
//! colour codes in a redirected log, and on SIGTERM a drain bounded by
//! `server.shutdown_grace`, logged at its start and end, then exit 0.
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::helpers::BOT;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn serve_logs_json_requests_and_drains_within_the_grace_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://doorman.test\"\nshutdown_grace = \"1s\"\n\
         [database]\nurl = \"sqlite://{}/d.db?mode=rwc\"\n[keys]\ndir = \"{}/keys\"\n\
         [[clients]]\nid = \"{}\"\nsecret = \"{}\"\n",
        dir.path().display(),
        dir.path().display(),
        BOT.0,
        BOT.1
    );
    let path = dir.path().join("doorman.toml");
    std::fs::write(&path, config).unwrap();
    let log = dir.path().join("stderr.log");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_doorman"))
        .args(["serve", "--config", path.to_str().unwrap()])
        .env("DOORMAN_LOG__FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let ready = async {
        loop {
            if http.get(format!("{url}/healthz")).send().await.is_ok_and(|r| r.status() == 200) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), ready).await.expect("doorman serve answers");
    let state = http.get(format!("{url}/v1/conversations/whatsapp/%2B34600000001")).basic_auth(BOT.0, Some(BOT.1));
    assert_eq!(state.send().await.unwrap().status(), 200);

    // A request whose body never finishes keeps its connection busy past SIGTERM.
    let mut busy = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    busy.write_all(
        b"POST /v1/conversations/whatsapp/1/identify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Authorization: Basic aHItYm90OmhyLWJvdC1zZWNyZXQtMDEyMzQ1Njc4OQ==\r\nContent-Length: 50\r\n\r\n{",
    )
    .await
    .unwrap();
    let mut idle = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let pid = child.id().unwrap().to_string();
    let signalled = Instant::now();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = tokio::time::timeout(Duration::from_secs(8), child.wait()).await.expect("exits").unwrap();
    let took = signalled.elapsed();
    assert_eq!(status.code(), Some(0), "exit 0 after SIGTERM");
    assert!(
        took < Duration::from_secs(5),
        "the busy connection was closed after the 1 s grace, not the 30 s body timeout: {took:?}"
    );

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains('\u{1b}'), "no ANSI escape in a redirected log");
    let lines: Vec<Value> =
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not a JSON line: {l}"))).collect();
    let served: Vec<&Value> = lines.iter().filter(|l| l["message"] == "served").collect();
    let state_line = served
        .iter()
        .find(|l| l["span"]["route"] == "/v1/conversations/{channel}/{id}")
        .unwrap_or_else(|| panic!("an access line for the state request: {text}"));
    assert_eq!(state_line["status"], 200);
    assert_eq!(state_line["span"]["method"], "GET");
    assert!(state_line["latency_ms"].is_number() && state_line["span"]["request_id"].is_string(), "{state_line}");
    assert!(!text.contains("34600000001"), "the access log carries the route template, not the path");
    let messages: Vec<&str> = lines.iter().filter_map(|l| l["message"].as_str()).collect();
    assert!(messages.iter().any(|m| m.starts_with("shutting down")), "{messages:?}");
    assert!(messages.iter().any(|m| m.starts_with("stopped")), "{messages:?}");
    assert!(!messages.iter().any(|m| m.contains("igration")), "no migration chatter at info: {messages:?}");
}
