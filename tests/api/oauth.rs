//! `/oauth/token`: client_credentials, the rotating refresh_token and the OTP grant.
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

pub const SCOPED: fn(&mut doorman::config::Config) =
    |c| c.clients[0].scopes = vec!["payroll.read".into(), "schedule.read".into()];

impl TestApp {
    /// POSTs form `params` to `path`, authenticated with HTTP Basic as `bot`.
    pub async fn oauth(&self, path: &str, bot: (&str, &str), params: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.url))
            .basic_auth(bot.0, Some(bot.1))
            .form(params)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn refresh(&self, refresh_token: &str) -> reqwest::Response {
        self.oauth("/oauth/token", BOT, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await
    }
}

pub fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_else(|| panic!("{key} in {v}")).to_string()
}

#[tokio::test]
async fn client_credentials_issues_a_client_token_with_its_scopes() {
    let app = spawn_app_with(SCOPED).await;
    let response = app.oauth("/oauth/token", BOT, &[("grant_type", "client_credentials")]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "payroll.read schedule.read");
    assert_eq!(body["expires_in"], 300);
    assert!(body.get("refresh_token").is_none(), "no refresh token for a client token");
    let claims = crate::tokens::claims_of(&app, &text(&body, "access_token")).await;
    assert_eq!((claims["sub"].as_str(), claims["client_id"].as_str()), (Some("hr-bot"), Some("hr-bot")));
    assert_eq!(claims["scope"], "payroll.read schedule.read");
    let audit = app.audit_text().await;
    let issued = audit.lines().find(|l| l.starts_with("token.issued") && l.contains("client_credentials"));
    let issued = issued.expect("client_credentials tokens are audited");
    assert!(issued.contains(claims["jti"].as_str().unwrap()), "{issued}");
    assert!(!audit.contains(&text(&body, "access_token")), "no token in the audit trail");
}

#[tokio::test]
async fn client_secret_post_and_json_bodies_work() {
    let app = spawn_app_with(SCOPED).await;
    let body = json!({"grant_type": "client_credentials", "scope": "payroll.read",
                      "client_id": BOT.0, "client_secret": BOT.1});
    let response = app.http.post(format!("{}/oauth/token", app.url)).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["scope"], "payroll.read");
}

/// Form parameters, credentials, expected status and `error`.
type Case<'a> = (&'a [(&'a str, &'a str)], (&'a str, &'a str), u16, &'a str);

#[tokio::test]
async fn bad_token_requests_get_rfc_6749_errors() {
    let app = spawn_app_with(SCOPED).await;
    let cases: Vec<Case> = vec![
        (&[("grant_type", "client_credentials"), ("scope", "admin")], BOT, 400, "invalid_scope"),
        (&[("grant_type", "client_credentials")], OTHER_BOT, 400, "unauthorized_client"),
        (&[("grant_type", "client_credentials")], ("hr-bot", "wrong"), 401, "invalid_client"),
        (&[("grant_type", "password")], BOT, 400, "unsupported_grant_type"),
        (&[("scope", "x")], BOT, 400, "invalid_request"),
        (&[("grant_type", "refresh_token")], BOT, 400, "invalid_request"),
        (&[("grant_type", "refresh_token"), ("refresh_token", "nope")], BOT, 400, "invalid_grant"),
        (&[("grant_type", "client_credentials"), ("client_secret", BOT.1)], BOT, 400, "invalid_request"),
    ];
    for (params, bot, status, error) in cases {
        let response = app.oauth("/oauth/token", bot, params).await;
        assert_eq!(response.headers()["cache-control"], "no-store");
        let (got, body) = error_of(response).await;
        assert_eq!((got, body["error"].as_str().unwrap()), (status, error), "{params:?}: {body}");
        assert!(body["error_description"].is_string());
    }
    let response = app.http.post(format!("{}/oauth/token", app.url)).basic_auth(BOT.0, Some(BOT.1)).body("x").send();
    assert_eq!(response.await.unwrap().status(), 415);
    let no_auth = app.http.post(format!("{}/oauth/token", app.url)).form(&[("grant_type", "client_credentials")]);
    assert_eq!(no_auth.send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn a_refresh_token_is_rotated_on_every_use() {
    let app = spawn_app().await;
    app.add_ana().await;
    let login = app.login("c1").await;
    let response = app.refresh(&text(&login, "refresh_token")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let second: Value = response.json().await.unwrap();
    assert_ne!(second["refresh_token"], login["refresh_token"]);
    let claims = crate::tokens::claims_of(&app, &text(&second, "access_token")).await;
    assert_eq!(claims["sid"], login["session"]["id"]);
    assert_eq!(claims["sub"], "employees/4721");
    let third = app.refresh(&text(&second, "refresh_token")).await;
    assert_eq!(third.status(), 200, "the new one works in turn");
}

#[tokio::test]
async fn reusing_a_refresh_token_revokes_the_whole_session() {
    let app = spawn_app().await;
    app.add_ana().await;
    let login = app.login("c1").await;
    let first = text(&login, "refresh_token");
    let second: Value = app.refresh(&first).await.json().await.unwrap();
    let (status, body) = error_of(app.refresh(&first).await).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (400, "invalid_grant"));
    assert_eq!(app.state_of("c1").await, json!({"state": "unidentified"}));
    let (status, _) = error_of(app.refresh(&text(&second, "refresh_token")).await).await;
    assert_eq!(status, 400, "the rotated token died with the session");
    assert!(app.audit_text().await.contains("refresh_token_reused"));
}

#[tokio::test]
async fn two_concurrent_uses_of_one_refresh_token_cannot_both_succeed() {
    let app = spawn_app().await;
    app.add_ana().await;
    let token = text(&app.login("c1").await, "refresh_token");
    let uses = futures::future::join_all((0..6).map(|_| app.refresh(&token))).await;
    let ok = uses.iter().filter(|r| r.status() == 200).count();
    assert!(ok <= 1, "{ok} concurrent uses succeeded");
}

#[tokio::test]
async fn a_refresh_token_never_outlives_its_session() {
    let app = spawn_app().await;
    app.add_ana().await;
    let login = app.login("c1").await;
    app.clock.advance(Duration::from_secs(30 * 60));
    let (status, body) = error_of(app.refresh(&text(&login, "refresh_token")).await).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (400, "invalid_grant"));
}

#[tokio::test]
async fn another_client_cannot_use_or_burn_a_refresh_token() {
    let app = spawn_app().await;
    app.add_ana().await;
    let token = text(&app.login("c1").await, "refresh_token");
    let grant = [("grant_type", "refresh_token"), ("refresh_token", token.as_str())];
    let (status, _) = error_of(app.oauth("/oauth/token", OTHER_BOT, &grant).await).await;
    assert_eq!(status, 400);
    assert_eq!(app.refresh(&token).await.status(), 200, "the owner's token still works");
}

#[tokio::test]
async fn the_otp_grant_follows_the_rules_of_verify() {
    let app = spawn_app().await;
    app.add_ana().await;
    let code = app.identify_and_receive("+34600000001", "4721").await;
    let grant = |code: String| {
        vec![
            ("grant_type".to_string(), "urn:doorman:params:oauth:grant-type:otp".to_string()),
            ("conversation".to_string(), "whatsapp:+34600000001".to_string()),
            ("code".to_string(), code),
        ]
    };
    let post = |params: Vec<(String, String)>| {
        app.http.post(format!("{}/oauth/token", app.url)).basic_auth(BOT.0, Some(BOT.1)).form(&params).send()
    };
    let (status, body) = error_of(post(grant(wrong_code(&code))).await.unwrap()).await;
    assert_eq!(status, 400);
    assert_eq!((body["error"].as_str(), body["reason"].as_str()), (Some("invalid_grant"), Some("invalid_code")));
    assert_eq!(body["attempts_remaining"], 2);
    let response = post(grant(code)).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["refresh_token"].is_string());
    let claims = crate::tokens::claims_of(&app, &text(&body, "access_token")).await;
    assert_eq!((claims["acr"].as_str(), claims["channel"].as_str()), (Some("loa2"), Some("whatsapp")));
    assert_eq!(app.state_of("+34600000001").await["state"], "authenticated");
    let (status, body) = error_of(post(grant("123456".into())).await.unwrap()).await;
    assert_eq!((status, body["reason"].as_str()), (400, Some("already_authenticated")));
    let bad = vec![("grant_type".to_string(), OTP.to_string()), ("conversation".to_string(), "nocolon".to_string())];
    let (status, body) = error_of(post(bad).await.unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")));
}

const OTP: &str = "urn:doorman:params:oauth:grant-type:otp";
