//! Fakes of the outside providers, at the edge only: Twilio's HTTP API (wiremock, checking
//! the wire format) and a real SMTP server on loopback (mailin-embedded).
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use doorman::config::{Config, Provider, Secret, SmtpConfig, TwilioConfig, TwilioVerifyConfig};
use serde_json::{Value, json};
use wiremock::matchers::{basic_auth, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const AUTH_TOKEN: &str = "twilio-auth-token-0123456789";
pub const VERIFY_SID: &str = "VA0123456789abcdef0123456789abcdef";
pub const SMS_FROM: &str = "+15005550006";
pub const WHATSAPP_FROM: &str = "+14155238886";

pub fn messages_path() -> String {
    format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")
}

pub fn twilio_config(base_url: &str) -> TwilioConfig {
    TwilioConfig {
        account_sid: ACCOUNT_SID.into(),
        auth_token: Secret::new(AUTH_TOKEN),
        sms_from: Some(SMS_FROM.into()),
        whatsapp_from: Some(WHATSAPP_FROM.into()),
        messaging_service_sid: None,
        whatsapp_content_sid: None,
        base_url: base_url.into(),
        timeout: Duration::from_secs(5),
        verify: Some(TwilioVerifyConfig { service_sid: VERIFY_SID.into(), base_url: base_url.into() }),
    }
}

/// sms and whatsapp through Twilio at `server`; e-mail stays on the webhook sink.
pub fn use_twilio(config: &mut Config, server: &MockServer) {
    config.delivery.sms = Provider::Twilio;
    config.delivery.whatsapp = Provider::Twilio;
    config.delivery.twilio = Some(twilio_config(&server.uri()));
}

/// The body Twilio answers a created Message with (201), trimmed to its stable fields.
pub fn message_created(to: &str) -> Value {
    json!({
        "account_sid": ACCOUNT_SID, "api_version": "2010-04-01", "body": "…",
        "date_created": "Sun, 22 Nov 2026 10:00:00 +0000", "date_sent": null,
        "date_updated": "Sun, 22 Nov 2026 10:00:00 +0000", "direction": "outbound-api",
        "error_code": null, "error_message": null, "from": SMS_FROM, "messaging_service_sid": null,
        "num_media": "0", "num_segments": "1", "price": null, "price_unit": null,
        "sid": "SM0123456789abcdef0123456789abcdef", "status": "queued", "to": to,
        "uri": format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/SM0123456789abcdef0123456789abcdef.json"),
    })
}

/// Twilio's error body: `code`, `message`, `more_info`, `status`.
pub fn twilio_error(status: u16, code: u32, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "code": code, "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status,
    }))
}

/// Accepts Messages posts with the account's Basic auth; anything else gets 401/404.
pub async fn twilio_accepting() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .and(basic_auth(ACCOUNT_SID, AUTH_TOKEN))
        .respond_with(ResponseTemplate::new(201).set_body_json(message_created("+34665762878")))
        .mount(&server)
        .await;
    server
}

/// The form fields of every request `server` received at `at`, in order.
pub async fn forms_at(server: &MockServer, at: &str) -> Vec<HashMap<String, String>> {
    let requests = server.received_requests().await.unwrap_or_default();
    requests
        .iter()
        .filter(|r| r.url.path() == at)
        .map(|r| {
            assert_eq!(
                r.headers.get("content-type").and_then(|v| v.to_str().ok()),
                Some("application/x-www-form-urlencoded"),
                "Twilio takes form-encoded bodies"
            );
            serde_urlencoded::from_bytes(&r.body).expect("form body")
        })
        .collect()
}

/// The first run of `length` digits in `text`: the code in a message body.
pub fn code_in(text: &str, length: usize) -> String {
    text.split(|c: char| !c.is_ascii_digit()).find(|w| w.len() == length).expect("a code in the text").to_string()
}

/// A real SMTP server on loopback that keeps every mail it accepts.
#[derive(Clone, Default)]
pub struct SmtpSink {
    pub mails: Arc<Mutex<Vec<Mail>>>,
    current: Arc<Mutex<Mail>>,
}

#[derive(Clone, Debug, Default)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

impl mailin_embedded::Handler for SmtpSink {
    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> mailin_embedded::Response {
        *self.current.lock().unwrap() = Mail { from: from.into(), to: to.to_vec(), data: String::new() };
        mailin_embedded::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.lock().unwrap().data.push_str(&String::from_utf8_lossy(buf));
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        let mail = std::mem::take(&mut *self.current.lock().unwrap());
        self.mails.lock().unwrap().push(mail);
        mailin_embedded::response::OK
    }
}

impl SmtpSink {
    /// Starts the server on a free loopback port; it lives as long as the test process.
    pub fn start() -> (SmtpSink, u16) {
        let sink = SmtpSink::default();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind SMTP");
        let port = listener.local_addr().expect("address").port();
        let mut server = mailin_embedded::Server::new(sink.clone());
        server.with_name("smtp.test").with_tcp_listener(listener).with_num_threads(2);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        (sink, port)
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }
}

pub fn smtp_config(port: u16) -> SmtpConfig {
    SmtpConfig {
        url: format!("smtp://127.0.0.1:{port}"),
        from: "Doorman <no-reply@doorman.test>".into(),
        username: None,
        password: None,
        timeout: Duration::from_secs(5),
    }
}
