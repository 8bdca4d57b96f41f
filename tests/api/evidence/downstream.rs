//! examples/payroll-api, a downstream API validating with doorman-verify, against the
//! real doorman: tokens from a login through the conversation API.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use doorman_verify::{Options, Verifier, unix_now};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

/// A stable address in front of doorman's JWKS, as a load balancer would be: doorman
/// moves to a new port when the test restarts it.
struct Relay {
    url: String,
    target: Arc<Mutex<String>>,
}

impl Relay {
    async fn start(target: &str) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
        let target = Arc::new(Mutex::new(target.to_string()));
        let current = target.clone();
        let app = axum::Router::new().route(
            "/.well-known/jwks.json",
            axum::routing::get(move || {
                let upstream = format!("{}/.well-known/jwks.json", current.lock().unwrap());
                async move { reqwest::get(upstream).await.unwrap().text().await.unwrap() }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Relay { url, target }
    }

    fn point_to(&self, target: &str) {
        *self.target.lock().unwrap() = target.to_string();
    }
}

/// The example API on its own port, validating with `options`.
async fn payroll_api(options: Options, jwks: &str) -> String {
    let verifier = Verifier::from_jwks_url(options, jwks).await.expect("doorman's JWKS is reachable");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, payroll_api::router(verifier)).await });
    url
}

fn options(app: &TestApp) -> Options {
    let mut options = Options::new(app.config.issuer(), &app.config.tokens.audience);
    // The test rotates a key right after the API fetched the set.
    options.refresh_interval = Duration::ZERO;
    options
}

async fn payslips(api: &str, employee: &str, token: Option<&str>) -> (StatusCode, Option<String>, Value) {
    let mut request = reqwest::Client::new().get(format!("{api}/employees/{employee}/payslips"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let challenge = response.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_string());
    (status, challenge, response.json().await.unwrap_or(Value::Null))
}

fn token_of(login: &Value) -> String {
    login["access_token"].as_str().expect("verify answers with a token").to_string()
}

fn ten_minutes_later() -> i64 {
    unix_now() + 600
}

#[tokio::test]
async fn the_payroll_api_serves_own_payslips_only_and_survives_a_key_rotation() {
    let app = spawn_app().await;
    app.add_ana().await;
    let luis = [("employee_number", "1023"), ("name", "Luis"), ("phone", "+34600000001")];
    app.add_record("1023", &luis, &["view_own_schedule"], true).await;
    let relay = Relay::start(&app.url).await;
    let api = payroll_api(options(&app), &relay.url).await;

    let ana = token_of(&app.login("c1").await);
    let (status, _, body) = payslips(&api, "4721", Some(&ana)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["employee_number"], "4721");
    let (status, _, body) = payslips(&api, "1023", Some(&ana)).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden_resource")));

    let code = app.identify_and_receive("c2", "1023").await;
    let luis = token_of(&app.verify("c2", &code).await.json().await.unwrap());
    let (status, _, body) = payslips(&api, "1023", Some(&luis)).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("insufficient_role")));

    let (status, challenge, body) = payslips(&api, "4721", None).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_token")));
    assert!(challenge.unwrap().starts_with("Bearer error=\"invalid_token\""));
    let mut later = options(&app);
    later.clock = ten_minutes_later;
    let expired_api = payroll_api(later, &relay.url).await;
    let (status, challenge, body) = payslips(&expired_api, "4721", Some(&ana)).await;
    assert_eq!((status, body["error_description"].as_str()), (StatusCode::UNAUTHORIZED, Some("the token has expired")));
    assert!(challenge.unwrap().contains("error=\"invalid_token\""));

    // Rotation: a new key signs after the restart, the old one is still published.
    let keys = std::path::PathBuf::from(&app.config.keys.dir);
    let old_kid = jsonwebtoken::decode_header(&ana).unwrap().kid.unwrap();
    let new_kid = doorman::keys::generate_key_file(&keys, app.config.keys.algorithm).unwrap();
    let app = app.restart().await;
    relay.point_to(&app.url);
    let rotated = token_of(&app.login("c3").await);
    assert_eq!(jsonwebtoken::decode_header(&rotated).unwrap().kid, Some(new_kid.clone()));
    assert_ne!(old_kid, new_kid);
    assert_eq!(payslips(&api, "4721", Some(&rotated)).await.0, 200, "the new kid is fetched");
    assert_eq!(payslips(&api, "4721", Some(&ana)).await.0, 200, "the old key still verifies");
}
