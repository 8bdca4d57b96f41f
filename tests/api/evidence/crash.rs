//! `kill -9` right after logins loses none of their audit events: an answer is only given
//! once what it records is committed.
use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use futures::future::join_all;
use serde_json::{Value, json};

use super::{audit, cli_config, stdout};
use crate::cli::stderr;
use crate::helpers::*;

const LOGINS: usize = 25;
const CODE: &str = "123456";

/// `doorman serve` as its own process, on `app`'s database and keys, with a fixed
/// code for Ana's phone so that a login is two requests. Every login is Ana's, and each
/// verify in flight counts as a try on her record until it succeeds: hence the high limit.
struct Served {
    child: Child,
    url: String,
}

impl Served {
    async fn start(app: &TestApp, dir: &std::path::Path) -> Served {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://doorman.test\"\n\
             [database]\nurl = \"{}\"\n[keys]\ndir = \"{}\"\n\
             [otp]\nmax_failures_per_record = 1000\n\
             [[directories]]\nname = \"employees\"\nidentifiers = [\"employee_number\", \"id_number\"]\n\
             [[flows]]\nname = \"payroll\"\ndirectory = \"employees\"\nidentify_by = \"employee_number\"\ndelivery = [\"whatsapp:phone\"]\n\
             [[clients]]\nid = \"{}\"\nsecret = \"{}\"\nflows = [\"payroll\"]\n\
             [delivery]\nwhatsapp = \"console\"\n[delivery.limits]\nper_destination_per_hour = 1000\n\
             [delivery.test_codes]\n\"+34665762878\" = \"{CODE}\"\n",
            app.config.database.url, app.config.keys.dir, BOT.0, BOT.1
        );
        let path = dir.join("serve.toml");
        std::fs::write(&path, config).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_doorman"))
            .args(["serve", "--config", path.to_str().unwrap()])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("doorman starts");
        let served = Served { child, url: format!("http://127.0.0.1:{port}") };
        served.wait_ready().await;
        served
    }

    async fn wait_ready(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tokio::time::Instant::now() < deadline {
            if let Ok(r) = reqwest::get(format!("{}/healthz", self.url)).await
                && r.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("doorman serve did not answer within 30 s");
    }

    /// identify, then verify: the access token's `jti`.
    async fn login(&self, http: &reqwest::Client, conversation: String) -> String {
        let url = |action: &str| format!("{}/v1/conversations/whatsapp/{conversation}/{action}", self.url);
        let identify = json!({"flow": "payroll", "identifier": "4721"});
        let r = http.post(url("identify")).basic_auth(BOT.0, Some(BOT.1)).json(&identify).send().await.unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
        let r =
            http.post(url("verify")).basic_auth(BOT.0, Some(BOT.1)).json(&json!({"code": CODE})).send().await.unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
        let body: Value = r.json().await.unwrap();
        jti(body["access_token"].as_str().unwrap())
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn jti(token: &str) -> String {
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["jti"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn kill_9_right_after_logins_loses_none_of_their_events() {
    let app = spawn_app().await;
    app.add_ana().await;
    let dir = tempfile::tempdir().unwrap();
    let mut served = Served::start(&app, dir.path()).await;
    let http = reqwest::Client::new();
    let logins = (0..LOGINS).map(|i| served.login(&http, format!("crash-{i}")));
    let issued: HashSet<String> = join_all(logins).await.into_iter().collect();
    // SIGKILL: no shutdown, no flush.
    served.child.kill().unwrap();
    served.child.wait().unwrap();

    assert_eq!(issued.len(), LOGINS);
    let events = app.state.auth.store.query_audit(&Default::default(), 1000).await.unwrap();
    let recorded: HashSet<String> = events
        .iter()
        .filter(|e| e.kind == "token.issued")
        .filter_map(|e| serde_json::from_str::<Value>(&e.detail).ok()?["jti"].as_str().map(String::from))
        .collect();
    let lost: Vec<_> = issued.difference(&recorded).collect();
    assert!(lost.is_empty(), "{} of {LOGINS} issued tokens have no token.issued event: {lost:?}", lost.len());
    let authenticated = events.iter().filter(|e| e.kind == "authenticated").count();
    assert_eq!(authenticated, LOGINS);

    // The crash left a chain that verifies.
    let config = cli_config(&app, dir.path());
    let verified = audit(dir.path(), &config, &["verify"]);
    assert!(verified.status.success(), "{}", stderr(&verified));
    assert!(stdout(&verified).contains(&format!("{} events checked", events.len())), "{}", stdout(&verified));
}
