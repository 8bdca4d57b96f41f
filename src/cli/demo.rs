//! `doorman demo`: a newcomer's first command. A throwaway doorman (temporary SQLite
//! and keys, removed on exit) with three demo employees, a demo bot whose secret it
//! prints, console delivery, the playground, and a tiny payroll API behind the proxy, so
//! a login in the playground can end in "my payslip" — and in a refusal of someone
//! else's. None of this is reachable from `serve`: it exists only in this command.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use axum::Router;
use axum::extract::Path as UrlPath;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tokio::net::TcpListener;

use super::Failure;
use crate::app::{AppState, Edges};
use crate::clock::{Clock, SystemClock, rfc3339};
use crate::config::{Config, ValidConfig};
use crate::domain::records::{self, JsonRecord};

const CLIENT_ID: &str = "demo-bot";

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Where to serve; port 0 picks a free one (the URL printed is the real one).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
}

struct Employee {
    number: &'static str,
    name: &'static str,
    phone: Option<&'static str>,
    email: Option<&'static str>,
    gross: &'static str,
    net: &'static str,
}

const EMPLOYEES: [Employee; 3] = [
    Employee {
        number: "4721",
        name: "Ana Ruiz",
        phone: Some("+34665762878"),
        email: Some("ana.ruiz@demo.example"),
        gross: "2,830.00 EUR",
        net: "2,140.00 EUR",
    },
    Employee {
        number: "4722",
        name: "Luis Gómez",
        phone: Some("+34665762892"),
        email: None,
        gross: "2,610.00 EUR",
        net: "1,980.00 EUR",
    },
    Employee {
        number: "4730",
        name: "Marta Soler",
        phone: None,
        email: Some("marta.soler@demo.example"),
        gross: "3,120.00 EUR",
        net: "2,395.00 EUR",
    },
];

pub async fn run(args: DemoArgs) -> Result<(), Failure> {
    fn runtime(what: &str) -> impl FnOnce(std::io::Error) -> Failure + '_ {
        move |e| Failure::Runtime(format!("{what}: {e}"))
    }
    let dir = tempfile::Builder::new().prefix("doorman-demo-").tempdir().map_err(runtime("temporary directory"))?;
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|e| Failure::Runtime(format!("cannot listen on {}: {e}", args.listen)))?;
    let bound = listener.local_addr().map_err(runtime("listener"))?;
    let payroll = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.map_err(runtime("demo payroll API"))?;
    let payroll_addr = payroll.local_addr().map_err(runtime("demo payroll API"))?;
    let url = public_url(bound);
    let secret = crate::crypto::random_token(24);

    let config = demo_config(dir.path(), bound, &url, payroll_addr, &secret)?;
    // A key made here, so start-up does not warn about a generated key as it would in production.
    crate::keys::generate_key_file(Path::new(&config.keys.dir), config.keys.algorithm)
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    let state = AppState::build(config.clone(), Edges::default()).await.map_err(|e| Failure::Runtime(e.to_string()))?;
    add_employees(&state, &config).await?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(payroll, payroll_api()).await {
            tracing::error!(error = %e, "the demo payroll API stopped");
        }
    });
    if !bound.ip().is_loopback() && !bound.ip().is_unspecified() {
        tracing::warn!("the playground answers only browsers on this machine; open {url}/playground here");
    }
    println!("{}", welcome(&url, &secret, dir.path()));
    crate::app::serve(listener, state, super::shutdown_signal()).await.map_err(|e| Failure::Runtime(e.to_string()))?;
    drop(dir);
    println!("doorman demo stopped; its database and keys are deleted.");
    Ok(())
}

/// The URL a browser on this machine uses: an unspecified listen address is reached
/// through loopback, and the issuer (`public_url`) must be that same URL.
fn public_url(bound: SocketAddr) -> String {
    let ip = match bound.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, bound.port()))
}

/// The demo's configuration, written as an operator would write doorman.toml, and
/// checked like one.
fn demo_config(
    dir: &Path,
    listen: SocketAddr,
    url: &str,
    payroll: SocketAddr,
    secret: &str,
) -> Result<ValidConfig, Failure> {
    let q = |s: &str| toml::Value::String(s.to_string()).to_string();
    let text = format!(
        r#"
[server]
listen = {listen}
public_url = {url}

[database]
url = {database}

[keys]
dir = {keys}

[delivery]
sms = "console"
whatsapp = "console"
email = "console"

[playground]
enabled = true
client = {client}

[[clients]]
id = {client}
secret = {secret}
flows = ["payroll"]

[[directories]]
name = "employees"
identifiers = ["employee_number"]

[[flows]]
name = "payroll"
directory = "employees"
identify_by = "employee_number"
delivery = ["whatsapp:phone", "sms:phone", "email:corporate_email"]
claims = ["employee_number", "name"]
identifier_format = "digits"
identifier_label = {{ en = "employee number", es = "número de empleado" }}

[[services]]
name = "payroll"
upstream = {upstream}

[[services.routes]]
methods = ["GET"]
path = "/employees/{{employee_number}}/payslip"
roles = ["view_own_payroll"]
bind = {{ employee_number = "employee_number" }}
inject = "authorization"
token = "exchange"
"#,
        listen = q(&listen.to_string()),
        url = q(url),
        database = q(&format!("sqlite://{}/demo.db?mode=rwc", dir.display())),
        keys = q(&dir.join("keys").display().to_string()),
        client = q(CLIENT_ID),
        secret = q(secret),
        upstream = q(&format!("http://{payroll}")),
    );
    let config: Config = toml::from_str(&text).map_err(|e| Failure::Runtime(format!("demo configuration: {e}")))?;
    config.validated().map_err(|e| Failure::Runtime(format!("demo configuration: {e}")))
}

async fn add_employees(state: &AppState, config: &Config) -> Result<(), Failure> {
    let directory = config.directory("employees").ok_or_else(|| Failure::Runtime("no demo directory".into()))?;
    let rules = records::RecordRules::new(config, directory);
    let mut rows = Vec::new();
    for (line, e) in EMPLOYEES.iter().enumerate() {
        let mut fields = std::collections::BTreeMap::from([
            ("employee_number".to_string(), json!(e.number)),
            ("name".to_string(), json!(e.name)),
        ]);
        fields.extend(e.phone.map(|p| ("phone".to_string(), json!(p))));
        fields.extend(e.email.map(|m| ("corporate_email".to_string(), json!(m))));
        let record = JsonRecord { key: None, fields, roles: vec!["view_own_payroll".into()], active: true };
        rows.push((
            line as u64 + 1,
            records::from_json(&rules, record)
                .map_err(|problems| Failure::Runtime(records::describe_problems(&problems)))?,
        ));
    }
    records::import(&state.auth.store, &rows, SystemClock.now(), || {})
        .await
        .map_err(|e| Failure::Runtime(format!("demo employees: {e}")))
}

/// What the demo prints: where to go, the bot's credentials, and a first curl.
fn welcome(url: &str, secret: &str, data: &Path) -> String {
    let people = EMPLOYEES
        .iter()
        .map(|e| {
            let reach = match (e.phone, e.email) {
                (Some(phone), _) => format!("WhatsApp ***{}", &phone[phone.len() - 2..]),
                (None, Some(_)) => "e-mail only".to_string(),
                (None, None) => "no contact".to_string(),
            };
            format!("{} {} ({reach})", e.number, e.name)
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "\n\
         doorman demo: a throwaway doorman; its database and keys are deleted when you stop it (Ctrl-C).\n\
         \n\
         \x20 Playground: {url}/playground\n\
         \x20 Client id:  {CLIENT_ID}\n\
         \x20 Secret:     {secret}\n\
         \x20 Employees:  {people}\n\
         \x20 Data:       {data} (deleted on exit)\n\
         \n\
         Open the playground and type \"I want to check my payslip\", then \"4721\"; the code it sends\n\
         shows on the page's phone and here ([console delivery]). Or talk to the dialog API yourself:\n\
         \n\
         \x20 curl -s -u {CLIENT_ID}:{secret} -H 'Content-Type: application/json' \\\n\
         \x20      -d '{{\"text\": \"My employee number is 4721\"}}' \\\n\
         \x20      {url}/v1/conversations/web/demo-1/messages\n\
         \n\
         then send {{\"text\": \"<the code>\"}} the same way, and call the payroll API through the proxy:\n\
         \n\
         \x20 curl -s -H \"Authorization: Bearer $ACCESS_TOKEN\" {url}/v1/proxy/payroll/employees/4721/payslip\n",
        data = data.display()
    )
}

/// The demo's downstream service: payslips of the demo employees. It trusts doorman to
/// have checked the caller (the proxy refuses another person's payslip before this runs)
/// and only insists that a token came with the request.
fn payroll_api() -> Router {
    Router::new().route("/employees/{number}/payslip", get(payslip))
}

async fn payslip(UrlPath(number): UrlPath<String>, headers: HeaderMap) -> Response {
    let bearer =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("Bearer "));
    if !bearer {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "no token: call me through doorman"})))
            .into_response();
    }
    let Some(e) = EMPLOYEES.iter().find(|e| e.number == number) else {
        return (StatusCode::NOT_FOUND, axum::Json(json!({"error": "no such employee"}))).into_response();
    };
    let month = last_month(&rfc3339(SystemClock.now()));
    axum::Json(json!({
        "employee_number": e.number,
        "name": e.name,
        "month": month,
        "gross": e.gross,
        "net": e.net,
        "paid_on": format!("{month}-28"),
    }))
    .into_response()
}

/// `YYYY-MM` of the month before the one `today` (RFC 3339) is in: the last one paid.
fn last_month(today: &str) -> String {
    let year: i32 = today.get(..4).and_then(|y| y.parse().ok()).unwrap_or(2026);
    let month: u32 = today.get(5..7).and_then(|m| m.parse().ok()).unwrap_or(1);
    match month {
        1 => format!("{}-12", year - 1),
        m => format!("{year}-{:02}", m - 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_configuration_is_valid_and_uses_the_real_url() {
        let dir = tempfile::tempdir().unwrap();
        let listen: SocketAddr = "0.0.0.0:4321".parse().unwrap();
        let url = public_url(listen);
        assert_eq!(url, "http://127.0.0.1:4321");
        assert_eq!(public_url("[::]:80".parse().unwrap()), "http://[::1]:80");
        let config = demo_config(dir.path(), listen, &url, "127.0.0.1:9".parse().unwrap(), "s3cret-x").unwrap();
        assert_eq!(config.issuer(), "http://127.0.0.1:4321");
        assert!(config.playground.enabled);
        assert_eq!(config.clients[0].secret.expose(), "s3cret-x");
        assert_eq!(config.services[0].upstream, "http://127.0.0.1:9");
        assert!(crate::delivery::Deliveries::uses_console(&config));
    }

    #[test]
    fn payslips_are_of_the_month_before() {
        assert_eq!(last_month("2026-12-01T09:45:36Z"), "2026-11");
        assert_eq!(last_month("2027-01-15T00:00:00Z"), "2026-12");
    }

    #[test]
    fn the_welcome_names_the_url_the_client_and_the_secret() {
        let text = welcome("http://127.0.0.1:8080", "the-secret", Path::new("/tmp/d"));
        assert!(text.contains("Playground: http://127.0.0.1:8080/playground\n"));
        assert!(text.contains("demo-bot:the-secret"));
        assert!(text.contains("4721 Ana Ruiz (WhatsApp ***78)"));
        assert!(text.contains("4730 Marta Soler (e-mail only)"));
    }
}
