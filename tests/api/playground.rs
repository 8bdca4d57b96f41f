//! `/playground` and `doorman demo`: the page a newcomer sees first, the endpoints it
//! calls as the playground's client, and who may call them.
use std::time::Duration;

use doorman::config::{Config, Provider};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::cli::stderr;
use crate::helpers::*;

fn console_playground(c: &mut Config) {
    c.playground.enabled = true;
    c.delivery.sms = Provider::Console;
    c.delivery.whatsapp = Provider::Console;
    c.delivery.email = Provider::Console;
}

impl TestApp {
    async fn say(&self, channel: &str, conversation: &str, fields: Value) -> Value {
        let mut body = json!({"channel": channel, "conversation": conversation});
        body.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
        let response =
            self.http.post(format!("{}/playground/api/messages", self.url)).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "no-store");
        response.json().await.unwrap()
    }

    async fn deliveries(&self, conversation: &str) -> Vec<Value> {
        let url = format!("{}/playground/api/deliveries?conversation={}", self.url, percent_encode(conversation));
        let response = self.http.get(url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }
}

fn reply(answer: &Value) -> String {
    answer["replies"].as_array().unwrap().iter().map(|r| r["text"].as_str().unwrap()).collect::<Vec<_>>().join(" ")
}

#[tokio::test]
async fn the_page_is_served_under_its_policy_without_a_secret() {
    let app = spawn_app_with(console_playground).await;
    let response = app.http.get(format!("{}/playground", app.url)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["cache-control"], "no-store");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'; script-src 'sha256-"), "{csp}");
    assert!(csp.contains("connect-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    let page = response.text().await.unwrap();
    assert!(page.contains("/playground/api/messages"));
    assert!(!page.contains(BOT.1), "the client secret is not in the page");

    let response = app.http.get(format!("{}/playground/api/info", app.url)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(!text.contains(BOT.1), "nor in the info");
    let info: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(info["client"], "hr-bot", "the first configured client by default");
    assert_eq!(info["flow"], "payroll");
    assert_eq!(info["code_length"], 6);
    assert_eq!(info["channels"], json!(["whatsapp", "voice"]));
    assert_eq!(info["proxy_example"], Value::Null, "no service is configured");
}

#[tokio::test]
async fn a_whole_login_through_the_playground_reads_the_code_from_its_deliveries() {
    let app = spawn_app_with(|c| {
        console_playground(c);
        crate::proxy::with_proxy(c, "http://127.0.0.1:9");
    })
    .await;
    app.add_ana().await;
    let info: Value =
        app.http.get(format!("{}/playground/api/info", app.url)).send().await.unwrap().json().await.unwrap();
    // The first GET route with one parameter, bound to a claim (payslips/{month} has two).
    assert_eq!(info["proxy_example"], "/v1/proxy/payroll/employees/{employee_number}/header");

    let conversation = "+34699000001";
    let first =
        app.say("whatsapp", conversation, json!({"text": "I want my payslip", "intent": "payroll.payslip"})).await;
    assert_eq!(first["step"], "ask_identifier");
    assert!(app.deliveries(conversation).await.is_empty());
    let sent = app.say("whatsapp", conversation, json!({"text": "My number is 4721."})).await;
    assert_eq!(sent["step"], "ask_code");
    assert!(reply(&sent).contains("***78"), "{sent}");

    let delivered = app.deliveries(conversation).await;
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    let code = delivered[0]["code"].as_str().unwrap().to_string();
    assert_eq!(delivered[0]["method"], "whatsapp");
    assert_eq!(delivered[0]["destination"], "***78", "masked, as the dialog says it");
    assert_eq!(delivered[0]["channel"], "whatsapp");
    assert!(delivered[0]["message"].as_str().unwrap().contains(&code));
    assert!(app.deliveries("+34699000002").await.is_empty(), "another conversation sees nothing");
    assert_eq!(app.sink.count(), 0, "console delivery: nothing went to the webhook");

    let wrong = app.say("whatsapp", conversation, json!({"text": format!("The code is {}", wrong_code(&code))})).await;
    assert!(reply(&wrong).contains("You have 2 attempts remaining."), "{wrong}");
    let done = app.say("whatsapp", conversation, json!({"text": format!("The code is {code}")})).await;
    assert_eq!(done["outcome"], "authenticated", "{done}");
    assert_eq!(done["redirect"]["intent"], "payroll.payslip");
    assert_eq!(done["subject"]["id"], "employees/4721");
    assert!(done["access_token"].as_str().is_some_and(|t| t.split('.').count() == 3));
    // The playground spoke as hr-bot: the bot's own view of the conversation agrees.
    assert_eq!(app.state_of(conversation).await["state"], "authenticated");
}

#[tokio::test]
async fn the_keypad_drives_the_same_dialog_with_digits() {
    let app = spawn_app_with(console_playground).await;
    app.add_ana().await;
    let call = "CA0123456789abcdef0123456789abcdef";
    let asked = app.say("voice", call, json!({"digits": ""})).await;
    assert_eq!(asked["expect"]["input"], "dtmf");
    let sent = app.say("voice", call, json!({"digits": "4721#"})).await;
    assert_eq!(sent["step"], "ask_code");
    assert_eq!(sent["expect"], json!({"input": "dtmf", "digits": 6, "finish_on_key": "#"}));
    let code = app.deliveries(call).await[0]["code"].as_str().unwrap().to_string();
    let done = app.say("voice", call, json!({"digits": format!("{code}#")})).await;
    assert_eq!(done["outcome"], "authenticated", "{done}");
}

#[tokio::test]
async fn codes_of_other_providers_are_never_shown() {
    // Webhook delivery (the test default) for every method: the bot platform has the code, not the page.
    let app = spawn_app_with(|c| c.playground.enabled = true).await;
    app.add_ana().await;
    let sent = app.say("whatsapp", "+34699000003", json!({"text": "4721"})).await;
    assert_eq!(sent["step"], "ask_code", "{sent}");
    app.sink.wait_for(1).await;
    assert!(app.deliveries("+34699000003").await.is_empty());
}

#[tokio::test]
async fn the_playground_talks_as_the_configured_client() {
    let app = spawn_app_with(|c| {
        console_playground(c);
        c.playground.client = Some(OTHER_BOT.0.into());
    })
    .await;
    let info: Value =
        app.http.get(format!("{}/playground/api/info", app.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(info["client"], "other-bot");
    assert_eq!(info["flow"], "schedule");
}

#[tokio::test]
async fn bad_messages_keep_the_error_shape() {
    let app = spawn_app_with(console_playground).await;
    let url = format!("{}/playground/api/messages", app.url);
    for body in [
        json!({"channel": "whatsapp", "conversation": "x", "text": "a", "digits": "1"}),
        json!({"channel": "whatsapp", "conversation": "x", "secret": "no"}),
        json!({"channel": "WhatsApp", "conversation": "x", "text": "a"}),
        json!({"channel": "whatsapp", "text": "a"}),
    ] {
        let (status, error) = error_of(app.http.post(&url).json(&body).send().await.unwrap()).await;
        assert_eq!((status, error["error"].as_str()), (400, Some("invalid_request")), "{body}");
    }
}

#[tokio::test]
async fn a_disabled_playground_is_not_there() {
    let app = spawn_app_with(|c| c.delivery.sms = Provider::Console).await;
    for path in ["/playground", "/playground/api/info", "/playground/api/deliveries?conversation=x"] {
        let (status, _) = error_of(app.http.get(format!("{}{path}", app.url)).send().await.unwrap()).await;
        assert_eq!(status, 404, "{path}");
    }
    let response = app.http.post(format!("{}/playground/api/messages", app.url)).json(&json!({})).send().await.unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn only_a_browser_on_this_machine_is_answered() {
    let app = spawn_app_with(console_playground).await;
    let get =
        |path: &str, header: (&str, &str)| app.http.get(format!("{}{path}", app.url)).header(header.0, header.1).send();
    for (header, value) in [
        ("host", "playground.evil.example"),
        ("x-forwarded-for", "203.0.113.7"),
        ("forwarded", "for=203.0.113.7"),
        ("origin", "https://evil.example"),
    ] {
        for path in ["/playground", "/playground/api/info", "/playground/api/deliveries?conversation=x"] {
            let (status, error) = error_of(get(path, (header, value)).await.unwrap()).await;
            assert_eq!((status, error["error"].as_str()), (403, Some("access_denied")), "{header} on {path}");
        }
    }
    let response = get("/playground/api/info", ("host", "localhost")).await.unwrap();
    assert_eq!(response.status(), 200, "localhost is this machine");
}

#[tokio::test]
async fn doorman_demo_serves_the_playground_and_its_payroll_api() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_doorman"))
        .args(["demo", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut url, mut secret, mut data) = (String::new(), String::new(), String::new());
    let printed = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let field = |name: &str| line.trim().strip_prefix(name).map(|v| v.trim().to_string());
            if let Some(v) = field("Playground:") {
                url = v.trim_end_matches("/playground").to_string();
            } else if let Some(v) = field("Secret:") {
                secret = v;
            } else if let Some(v) = field("Data:") {
                data = v.trim_end_matches("(deleted on exit)").trim().to_string();
            } else if line.contains("curl -s -u demo-bot:") {
                break;
            }
        }
    })
    .await;
    assert!(printed.is_ok() && url.starts_with("http://127.0.0.1:") && !secret.is_empty(), "{url} {secret}");
    assert!(std::path::Path::new(&data).is_dir(), "the demo's data directory {data:?} exists while it runs");
    let http = reqwest::Client::new();

    let page = http.get(format!("{url}/playground")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(!page.text().await.unwrap().contains(&secret));
    let metadata: Value =
        http.get(format!("{url}/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(metadata["issuer"], url.as_str(), "public_url is the real URL");

    // The secret it printed works for the dialog API.
    let talk = |text: String| {
        http.post(format!("{url}/v1/conversations/web/demo-test/messages"))
            .basic_auth("demo-bot", Some(&secret))
            .json(&json!({"text": text}))
            .send()
    };
    let sent: Value = talk("My employee number is 4721".into()).await.unwrap().json().await.unwrap();
    assert!(reply(&sent).contains("***78"), "{sent}");
    let delivered: Value = http
        .get(format!("{url}/playground/api/deliveries?conversation=demo-test"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = delivered[0]["code"].as_str().unwrap().to_string();
    let done: Value = talk(code).await.unwrap().json().await.unwrap();
    let token = done["access_token"].as_str().unwrap();

    let payslip =
        |number: &str| http.get(format!("{url}/v1/proxy/payroll/employees/{number}/payslip")).bearer_auth(token).send();
    let own = payslip("4721").await.unwrap();
    assert_eq!(own.status(), 200);
    let own: Value = own.json().await.unwrap();
    assert_eq!((own["employee_number"].as_str(), own["name"].as_str()), (Some("4721"), Some("Ana Ruiz")));
    assert!(own["net"].is_string() && own["month"].is_string());
    let (status, error) = error_of(payslip("4722").await.unwrap()).await;
    assert_eq!((status, error["error"].as_str()), (403, Some("forbidden_resource")));

    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output()).await.unwrap().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!std::path::Path::new(&data).exists(), "the demo's data is deleted on exit");
}

#[test]
fn a_playground_without_a_client_is_a_configuration_error() {
    let mut config = Config::default();
    config.playground.enabled = true;
    let error = config.clone().validated().unwrap_err().to_string();
    assert!(error.starts_with("playground.client:"), "{error}");
    config.playground.enabled = false;
    assert!(config.validated().is_ok(), "off, it needs nothing");
}
