//! Spawns the real application on port 0 with its own database (a SQLite file, or a
//! fresh PostgreSQL database when DOORMAN_TEST_DATABASE_URL names a server) and points
//! webhook delivery at a local sink that checks signatures and keeps the codes.
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use doorman::app::{AppState, Edges};
use doorman::clock::{Clock, ManualClock};
use doorman::config::{ClientConfig, Config, DirectoryConfig, FlowConfig, Provider, Secret, WebhookConfig};
use doorman::store::records::RecordUpsert;
use reqwest::Response;
use serde_json::{Value, json};
use tokio::sync::{Notify, oneshot};

pub const BOT: (&str, &str) = ("hr-bot", "hr-bot-secret-0123456789");
pub const OTHER_BOT: (&str, &str) = ("other-bot", "other-bot-secret-0123456789");
pub const WEBHOOK_SECRET: &str = "webhook-secret-0123456789";

pub struct TestApp {
    pub url: String,
    pub http: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub sink: Sink,
    pub state: Arc<AppState>,
    pub config: Config,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    _dir: Arc<tempfile::TempDir>,
}

/// The configuration every test starts from: one directory, a payroll flow with OTP
/// (WhatsApp, then SMS, then e-mail), a schedule flow without, and two bots.
pub fn base_config(dir: &std::path::Path, database_url: String, sink_url: String) -> Config {
    let mut config = Config::default();
    config.server.public_url = "http://doorman.test".into();
    config.database.url = database_url;
    config.keys.dir = dir.join("keys").display().to_string();
    config.otp.resend_cooldown = Duration::from_secs(30);
    config.directories = vec![DirectoryConfig {
        name: "employees".into(),
        identifiers: vec!["employee_number".into(), "id_number".into()],
    }];
    let flow = |name: &str, require_otp: bool| FlowConfig {
        require_otp,
        delivery: ["whatsapp:phone", "sms:phone", "email:corporate_email"].map(|t| t.parse().expect("target")).to_vec(),
        claims: vec!["employee_number".into(), "name".into()],
        ..FlowConfig::new(name, "employees", "employee_number")
    };
    config.flows = vec![flow("payroll", true), flow("schedule", false), {
        let mut f = flow("hidden", true);
        f.conceal_unknown = true;
        f
    }];
    config.clients = vec![
        ClientConfig {
            id: BOT.0.into(),
            secret: Secret::new(BOT.1),
            flows: vec!["payroll".into(), "schedule".into(), "hidden".into()],
            scopes: vec![],
        },
        ClientConfig {
            id: OTHER_BOT.0.into(),
            secret: Secret::new(OTHER_BOT.1),
            flows: vec!["schedule".into()],
            scopes: vec![],
        },
    ];
    config.delivery.sms = Provider::Webhook;
    config.delivery.whatsapp = Provider::Webhook;
    config.delivery.email = Provider::Webhook;
    config.delivery.webhook =
        Some(WebhookConfig { url: sink_url, secret: Secret::new(WEBHOOK_SECRET), timeout: Duration::from_secs(5) });
    config
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let sink = Sink::start().await;
    let mut config = base_config(dir.path(), fresh_database(dir.path()).await, sink.url());
    adjust(&mut config);
    let clock = Arc::new(ManualClock::new());
    start(config, clock, sink, dir).await
}

async fn start(config: Config, clock: Arc<ManualClock>, sink: Sink, dir: Arc<tempfile::TempDir>) -> TestApp {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let edges = Edges { clock: clock.clone(), deliveries: None };
    let state = AppState::build(config.clone().validated().expect("valid config"), edges).await.expect("app builds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn({
        let state = state.clone();
        async move {
            doorman::app::serve(listener, state, async {
                let _ = rx.await;
            })
            .await
            .expect("server runs");
        }
    });
    TestApp {
        url,
        http: reqwest::Client::new(),
        clock,
        sink,
        state,
        config,
        shutdown: Some(tx),
        server: Some(server),
        _dir: dir,
    }
}

/// A SQLite file in `dir`, or a new database on the PostgreSQL server named by
/// DOORMAN_TEST_DATABASE_URL (the URL of a database the tests may connect to).
async fn fresh_database(dir: &std::path::Path) -> String {
    match std::env::var("DOORMAN_TEST_DATABASE_URL") {
        Ok(admin_url) if admin_url.starts_with("postgres") => {
            use sea_orm::ConnectionTrait;
            let name =
                format!("doorman_test_{}", doorman::crypto::random_token(9).to_lowercase().replace(['-', '_'], "x"));
            let admin = sea_orm::Database::connect(&admin_url).await.expect("connect to PostgreSQL");
            admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create database");
            let (base, _) = admin_url.rsplit_once('/').expect("URL names a database");
            format!("{base}/{name}")
        }
        _ => format!("sqlite://{}/doorman.db?mode=rwc", dir.display()),
    }
}

impl TestApp {
    /// Stops the server and starts a new one on the same database, keys and clock:
    /// what an operator's restart (or a second replica) looks like.
    pub async fn restart(mut self) -> TestApp {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        let config = self.config.clone();
        let (clock, sink, dir) = (self.clock.clone(), self.sink.clone(), self._dir.clone());
        drop(self);
        start(config, clock, sink, dir).await
    }

    /// A second doorman process sharing this one's database.
    pub async fn replica(&self) -> TestApp {
        start(self.config.clone(), self.clock.clone(), self.sink.clone(), self._dir.clone()).await
    }

    pub async fn add_record(&self, key: &str, fields: &[(&str, &str)], roles: &[&str], active: bool) {
        let fields: BTreeMap<String, String> = fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let identifiers = self.config.directories[0]
            .identifiers
            .iter()
            .filter_map(|f| {
                fields.get(f).map(|v| (f.clone(), doorman::domain::identifier::normalize(v).expect("valid identifier")))
            })
            .collect();
        let record = RecordUpsert {
            directory: "employees".into(),
            key: key.into(),
            fields,
            roles: roles.iter().map(|r| r.to_string()).collect(),
            active,
            identifiers,
        };
        let store = &self.state.auth.store;
        store.upsert_record(store.db(), &record, self.clock.now()).await.expect("record stored");
    }

    /// Ana: phone and e-mail on record, two roles.
    pub async fn add_ana(&self) {
        self.add_record(
            "4721",
            &[
                ("employee_number", "4721"),
                ("name", "Ana Ruiz"),
                ("phone", "+34665762878"),
                ("corporate_email", "ana.ruiz@corp.example"),
            ],
            &["view_own_payroll", "view_own_schedule"],
            true,
        )
        .await;
    }

    pub fn conversation_url(&self, channel: &str, id: &str, action: &str) -> String {
        let id = percent_encode(id);
        let base = format!("{}/v1/conversations/{channel}/{id}", self.url);
        if action.is_empty() { base } else { format!("{base}/{action}") }
    }

    pub async fn post(&self, conversation: &str, action: &str, body: Value) -> Response {
        self.post_as(BOT, conversation, action, body).await
    }

    pub async fn post_as(&self, bot: (&str, &str), conversation: &str, action: &str, body: Value) -> Response {
        let request =
            self.http.post(self.conversation_url("whatsapp", conversation, action)).basic_auth(bot.0, Some(bot.1));
        let request = if body.is_null() { request } else { request.json(&body) };
        request.send().await.expect("request sent")
    }

    pub async fn identify(&self, conversation: &str, identifier: &str) -> Response {
        self.post(conversation, "identify", json!({"flow": "payroll", "identifier": identifier})).await
    }

    pub async fn verify(&self, conversation: &str, code: &str) -> Response {
        self.post(conversation, "verify", json!({"code": code})).await
    }

    pub async fn state_of(&self, conversation: &str) -> Value {
        self.get_as(BOT, conversation).await.json().await.expect("JSON state")
    }

    pub async fn get_as(&self, bot: (&str, &str), conversation: &str) -> Response {
        self.http
            .get(self.conversation_url("whatsapp", conversation, ""))
            .basic_auth(bot.0, Some(bot.1))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn delete(&self, conversation: &str) -> Response {
        self.http
            .delete(self.conversation_url("whatsapp", conversation, ""))
            .basic_auth(BOT.0, Some(BOT.1))
            .send()
            .await
            .expect("request sent")
    }

    /// identify, read the delivered code, and return it.
    pub async fn identify_and_receive(&self, conversation: &str, identifier: &str) -> String {
        let sent = self.sink.count();
        let response = self.identify(conversation, identifier).await;
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap_or_default());
        self.sink.wait_for(sent + 1).await["code"].as_str().expect("code in webhook").to_string()
    }

    /// A full login; returns the verify response body.
    pub async fn login(&self, conversation: &str) -> Value {
        let code = self.identify_and_receive(conversation, "4721").await;
        let response = self.verify(conversation, &code).await;
        assert_eq!(response.status(), 200);
        response.json().await.expect("JSON")
    }

    /// Audit event kinds, oldest first.
    pub async fn audit_kinds(&self) -> Vec<String> {
        self.state.auth.audit_log.flush().await;
        let events = self.state.auth.store.query_audit(&Default::default(), 1000).await.expect("audit readable");
        events.into_iter().rev().map(|e| e.kind).collect()
    }

    pub async fn audit_text(&self) -> String {
        self.state.auth.audit_log.flush().await;
        let events = self.state.auth.store.query_audit(&Default::default(), 1000).await.expect("audit readable");
        events
            .iter()
            .map(|e| format!("{} {:?} {:?} {:?} {}\n", e.kind, e.client_id, e.subject, e.conversation, e.detail))
            .collect()
    }
}

pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub fn wrong_code(code: &str) -> String {
    if code == "000000" { "999999".into() } else { "000000".into() }
}

/// A POST to one of the conversation's endpoints with a raw body and content type, as
/// `bot`; returns the status and the JSON error body.
pub async fn raw_post(
    app: &TestApp,
    bot: (&str, &str),
    action: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> (u16, Value) {
    let response = app
        .http
        .post(app.conversation_url("whatsapp", "c1", action))
        .basic_auth(bot.0, Some(bot.1))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("request sent");
    error_of(response).await
}

pub async fn error_of(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.expect("error body is JSON"))
}

/// Standard Webhooks, checked as its receivers do (written here, not taken from doorman):
/// the key is the secret's bytes, the signature `v1,` + base64 HMAC-SHA256 of
/// `id.timestamp.body`, and the timestamp within five minutes of now.
fn standard_webhook_signed(headers: &HeaderMap, body: &[u8]) -> bool {
    use base64::Engine;
    use hmac::Mac;
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    let (id, timestamp) = (text("webhook-id"), text("webhook-timestamp"));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    if id.is_empty() || timestamp.parse::<i64>().map_or(true, |t| (now - t).abs() > 300) {
        return false;
    }
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let expected = format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()));
    text("webhook-signature").split(' ').any(|s| s == expected)
}

/// The bot platform's webhook endpoint: checks the HMAC signature and keeps payloads.
#[derive(Clone)]
pub struct Sink {
    inner: Arc<SinkInner>,
}

struct SinkInner {
    addr: std::net::SocketAddr,
    messages: Mutex<Vec<Value>>,
    bad_signatures: Mutex<u32>,
    fail: Mutex<bool>,
    arrived: Notify,
}

impl Sink {
    async fn start() -> Sink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind sink");
        let inner = Arc::new(SinkInner {
            addr: listener.local_addr().expect("address"),
            messages: Mutex::new(Vec::new()),
            bad_signatures: Mutex::new(0),
            fail: Mutex::new(false),
            arrived: Notify::new(),
        });
        let handler_inner = inner.clone();
        let app = axum::Router::new().route(
            "/otp",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let inner = handler_inner.clone();
                async move {
                    let expected = doorman::delivery::webhook_signature(WEBHOOK_SECRET.as_bytes(), &body);
                    if headers.get("x-doorman-signature").and_then(|v| v.to_str().ok()) != Some(expected.as_str())
                        || !standard_webhook_signed(&headers, &body)
                    {
                        *inner.bad_signatures.lock().unwrap() += 1;
                    }
                    inner.messages.lock().unwrap().push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                    inner.arrived.notify_waiters();
                    if *inner.fail.lock().unwrap() { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK }
                }
            }),
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Sink { inner }
    }

    pub fn url(&self) -> String {
        format!("http://{}/otp", self.inner.addr)
    }

    pub fn count(&self) -> usize {
        self.inner.messages.lock().unwrap().len()
    }

    pub fn bad_signatures(&self) -> u32 {
        *self.inner.bad_signatures.lock().unwrap()
    }

    pub fn set_failing(&self, fail: bool) {
        *self.inner.fail.lock().unwrap() = fail;
    }

    /// The n-th message (1-based), waiting for it to arrive.
    pub async fn wait_for(&self, n: usize) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.inner.arrived.notified();
            if let Some(m) = self.inner.messages.lock().unwrap().get(n - 1) {
                return m.clone();
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("no delivery #{n} within 10 s");
            }
        }
    }
}
