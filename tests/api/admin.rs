//! `/admin/v1/...`: records, clients, sessions and audit, behind the admin token.
use serde_json::{Value, json};

use crate::helpers::*;

pub const ADMIN_TOKEN: &str = "admin-token-0123456789abcdef";

async fn spawn_admin_app() -> TestApp {
    spawn_app_with(|c| c.admin.token = Some(doorman::config::Secret::new(ADMIN_TOKEN))).await
}

impl TestApp {
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}/admin/v1{path}", self.url)).bearer_auth(ADMIN_TOKEN)
    }
}

async fn json_of(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

use reqwest::Method;

#[tokio::test]
async fn the_admin_api_needs_the_admin_token() {
    let app = spawn_admin_app().await;
    for token in [Some("wrong"), Some(""), None] {
        let mut request = app.http.get(format!("{}/admin/v1/clients", app.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert!(response.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
        let (status, body) = error_of(response).await;
        assert_eq!((status, body["error"].as_str().unwrap()), (401, "invalid_token"), "{token:?}");
    }
    let basic = app.http.get(format!("{}/admin/v1/clients", app.url)).basic_auth(BOT.0, Some(BOT.1));
    assert_eq!(basic.send().await.unwrap().status(), 401, "a bot is not an operator");
}

#[tokio::test]
async fn without_a_configured_token_the_admin_api_refuses_everything() {
    let app = spawn_app().await;
    let (status, body) = json_of(app.admin(Method::GET, "/clients")).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (401, "invalid_token"));
    assert!(body["error_description"].as_str().unwrap().contains("disabled"));
}

#[tokio::test]
async fn records_can_be_put_read_and_deleted() {
    let app = spawn_admin_app().await;
    let record = json!({"fields": {"employee_number": "4721", "name": "Ana Ruiz", "phone": "+34665762878"},
                        "roles": ["view_own_payroll"]});
    let (status, body) = json_of(app.admin(Method::PUT, "/directories/employees/records/4721").json(&record)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"key": "4721", "active": true, "roles": ["view_own_payroll"],
        "fields": {"employee_number": "4721", "name": "Ana Ruiz", "phone": "+34665762878"}})
    );
    let (status, got) = json_of(app.admin(Method::GET, "/directories/employees/records/4721")).await;
    assert_eq!((status, &got), (200, &body));
    app.login("c1").await;
    let (status, _) = json_of(app.admin(Method::DELETE, "/directories/employees/records/4721")).await;
    assert_eq!(status, 204);
    assert_eq!(app.state_of("c1").await, json!({"state": "unidentified"}), "deleting ends its sessions");
    let (status, body) = json_of(app.admin(Method::GET, "/directories/employees/records/4721")).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (404, "not_found"));
    let (status, _) = json_of(app.admin(Method::DELETE, "/directories/employees/records/4721")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn disabling_a_record_ends_its_sessions() {
    let app = spawn_admin_app().await;
    app.add_ana().await;
    let login = app.login("c1").await;
    let record = json!({"fields": {"employee_number": "4721", "phone": "+34665762878"}, "active": false});
    let (status, body) = json_of(app.admin(Method::PUT, "/directories/employees/records/4721").json(&record)).await;
    assert_eq!((status, body["active"].as_bool()), (200, Some(false)));
    assert_eq!(app.state_of("c1").await, json!({"state": "unidentified"}));
    let token = login["access_token"].as_str().unwrap();
    let answer: Value = app.oauth("/oauth/introspect", BOT, &[("token", token)]).await.json().await.unwrap();
    assert_eq!(answer, json!({"active": false}));
    assert_eq!(app.refresh(login["refresh_token"].as_str().unwrap()).await.status(), 400);
}

#[tokio::test]
async fn records_follow_the_import_rules() {
    let app = spawn_admin_app().await;
    app.add_ana().await;
    let put =
        |key: &str, body: Value| app.admin(Method::PUT, &format!("/directories/employees/records/{key}")).json(&body);
    for (key, body, status) in [
        ("9", json!({"fields": {"employee_number": "4721"}}), 400), // identifier taken by Ana
        ("9", json!({"fields": {"employee_number": ""}, "roles": "x"}), 400),
        ("9", json!({"fields": {"employee_number": {"nested": 1}}}), 400),
        ("9", json!({"fields": {}, "extra": true}), 400),
    ] {
        let (got, body) = json_of(put(key, body)).await;
        assert_eq!((got, body["error"].as_str().unwrap()), (status, "invalid_request"), "{body}");
    }
    let (status, _) = json_of(app.admin(Method::GET, "/directories/nope/records/1")).await;
    assert_eq!(status, 404);
    // The flows of `employees` send codes to `phone` and `corporate_email`: both are checked.
    let bad = json!({"fields": {"employee_number": "9", "phone": "600000001", "corporate_email": "nine"}});
    let (status, body) = json_of(put("9", bad)).await;
    assert_eq!(status, 400, "{body}");
    let description = body["error_description"].as_str().unwrap();
    assert!(description.contains("phone: \"600000001\" is not a phone number in E.164 form"), "{description}");
    assert!(description.contains("corporate_email: \"nine\" is not an e-mail address"), "{description}");
}

#[tokio::test]
async fn bulk_import_is_all_or_nothing() {
    let app = spawn_admin_app().await;
    let import = |content_type: &str, body: &str| {
        app.admin(Method::POST, "/directories/employees/records")
            .header("content-type", content_type)
            .body(body.to_string())
    };
    let csv = "employee_number,name,phone,roles\n4721,Ana Ruiz,+34665762878,view_own_payroll\n1023,Luis,,\n";
    let (status, body) = json_of(import("text/csv", csv)).await;
    assert_eq!((status, body), (200, json!({"imported": 2})));
    let bad = "{\"fields\": {\"employee_number\": \"77\"}}\n{\"fields\": {\"employee_number\": \"77\"}}\n";
    let (status, body) = json_of(import("application/x-ndjson", bad)).await;
    assert_eq!(status, 400);
    assert!(body["error_description"].as_str().unwrap().contains("line 2"), "{body}");
    let (status, _) = json_of(app.admin(Method::GET, "/directories/employees/records/77")).await;
    assert_eq!(status, 404, "nothing was imported");
    let bad = "employee_number,phone\n80,+34665762878\n81,+34\n82,12345\n";
    let (status, body) = json_of(import("text/csv", bad)).await;
    let description = body["error_description"].as_str().unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(description.starts_with("2 bad rows, nothing was imported: line 3, phone"), "{description}");
    assert!(description.contains("line 4, phone: \"12345\""), "{description}");
    let (status, _) = json_of(app.admin(Method::GET, "/directories/employees/records/80")).await;
    assert_eq!(status, 404, "the good row was not imported either");
    let (status, _) = json_of(import("application/json", "[]")).await;
    assert_eq!(status, 415);
    let (status, body) = json_of(app.admin(Method::GET, "/directories/employees/records/1023")).await;
    assert_eq!((status, body["fields"]["name"].as_str()), (200, Some("Luis")));
}

#[tokio::test]
async fn clients_are_created_listed_rotated_and_disabled() {
    let app = spawn_admin_app().await;
    let (status, created) = json_of(
        app.admin(Method::POST, "/clients")
            .json(&json!({"client_id": "web-bot", "flows": ["schedule"], "scopes": ["a"]})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let first = (created["client_id"].as_str().unwrap(), created["client_secret"].as_str().unwrap());
    assert_eq!(app.get_as(first, "c1").await.status(), 200, "the new secret works");
    let (status, _) = json_of(app.admin(Method::POST, "/clients").json(&json!({"client_id": "web-bot"}))).await;
    assert_eq!(status, 409);
    let (status, body) =
        json_of(app.admin(Method::POST, "/clients").json(&json!({"client_id": "x", "flows": ["nope"]}))).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (400, "invalid_request"));
    let (_, list) = json_of(app.admin(Method::GET, "/clients")).await;
    let ids: Vec<&str> = list["clients"].as_array().unwrap().iter().map(|c| c["client_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["hr-bot", "other-bot", "web-bot"]);
    assert!(list.to_string().contains("\"configured\":true"));
    assert!(!list.to_string().contains("secret"), "no secret or hash is listed");

    let (status, rotated) = json_of(app.admin(Method::POST, "/clients/web-bot/rotate")).await;
    assert_eq!(status, 200);
    let second = ("web-bot", rotated["client_secret"].as_str().unwrap());
    assert_eq!(app.get_as(first, "c1").await.status(), 401, "the old secret is dead at once");
    assert_eq!(app.get_as(second, "c1").await.status(), 200);
    let store = &app.state.auth.store;
    let stored = store.find_client("web-bot").await.unwrap().expect("stored");
    assert!(stored.secret_hash.starts_with("$argon2id$"), "stored as an argon2id hash");
    assert!(!stored.secret_hash.contains(second.1), "never in plain text");
    let (status, _) = json_of(app.admin(Method::POST, "/clients/web-bot/disable")).await;
    assert_eq!(status, 204);
    assert_eq!(app.get_as(second, "c1").await.status(), 401);
    let (status, body) = json_of(app.admin(Method::POST, "/clients/hr-bot/rotate")).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (409, "conflict"), "file clients change in the file");
    let (status, _) = json_of(app.admin(Method::POST, "/clients/ghost/disable")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn sessions_are_listed_and_revoked() {
    let app = spawn_admin_app().await;
    app.add_ana().await;
    let first = app.login("c1").await;
    app.login("c2").await;
    let (status, list) = json_of(app.admin(Method::GET, "/sessions?subject=employees/4721")).await;
    assert_eq!(status, 200);
    assert_eq!(list["sessions"].as_array().unwrap().len(), 2);
    let (_, by_client) = json_of(app.admin(Method::GET, "/sessions?client_id=hr-bot")).await;
    assert_eq!(by_client["sessions"].as_array().unwrap().len(), 2);
    let sid = first["session"]["id"].as_str().unwrap();
    let (status, _) = json_of(app.admin(Method::DELETE, &format!("/sessions/{sid}"))).await;
    assert_eq!(status, 204);
    assert_eq!(app.state_of("c1").await["state"], "unidentified");
    let (status, _) = json_of(app.admin(Method::DELETE, &format!("/sessions/{sid}"))).await;
    assert_eq!(status, 404, "already ended");
    let (status, body) = json_of(app.admin(Method::DELETE, "/sessions?subject=employees/4721")).await;
    assert_eq!((status, body), (200, json!({"revoked": 1})));
    assert_eq!(app.state_of("c2").await["state"], "unidentified");
    let (_, all) = json_of(app.admin(Method::GET, "/sessions?subject=employees/4721&include_ended=true")).await;
    assert_eq!(all["sessions"][0]["end_reason"], "revoked_by_operator");
    for query in ["", "?subject=employees/4721&client_id=hr-bot", "?subject=nodirectory", "?bogus=1"] {
        let (status, _) = json_of(app.admin(Method::GET, &format!("/sessions{query}"))).await;
        assert_eq!(status, 400, "{query}");
    }
    let (status, _) = json_of(app.admin(Method::GET, "/sessions?subject=employees/0000")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_audit_trail_is_filtered_and_paged() {
    let app = spawn_admin_app().await;
    app.add_ana().await;
    app.login("c1").await;
    app.login("c2").await;
    let (status, page) = json_of(app.admin(Method::GET, "/audit?kind=authenticated&limit=1")).await;
    assert_eq!(status, 200);
    let events = page["events"].as_array().unwrap();
    assert_eq!((events.len(), events[0]["conversation"].as_str()), (1, Some("whatsapp:c2")), "newest first");
    let next = page["next_before"].as_i64().unwrap();
    let (_, page) = json_of(app.admin(Method::GET, &format!("/audit?kind=authenticated&limit=1&before={next}"))).await;
    assert_eq!(page["events"][0]["conversation"], "whatsapp:c1");
    let (_, page) = json_of(app.admin(Method::GET, &format!("/audit?kind=authenticated&limit=5&before={next}"))).await;
    assert_eq!((page["events"].as_array().unwrap().len(), &page["next_before"]), (1, &Value::Null));
    let (_, page) = json_of(app.admin(Method::GET, "/audit?subject=employees/4721&client_id=hr-bot")).await;
    assert!(page["events"].as_array().unwrap().iter().all(|e| e["subject"] == "employees/4721"));
    assert!(!page["events"].as_array().unwrap().is_empty());
    let (_, page) = json_of(app.admin(Method::GET, "/audit?since=2999-01-01T00:00:00Z")).await;
    assert_eq!(page["events"], json!([]));
    let (_, page) = json_of(app.admin(Method::GET, "/audit?until=2000-01-01T00:00:00Z")).await;
    assert_eq!(page["events"], json!([]));
    let (status, _) = json_of(app.admin(Method::GET, "/audit?since=yesterday")).await;
    assert_eq!(status, 400);
    let text = app.admin(Method::GET, "/audit").send().await.unwrap().text().await.unwrap();
    assert!(!text.contains(BOT.1), "no secrets in the audit trail");
}
