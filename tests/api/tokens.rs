use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use serde_json::{Value, json};

use crate::helpers::*;

/// Validates `token` with nothing but the served JWKS document, the way a downstream
/// API would, and returns its claims.
pub async fn claims_of(app: &TestApp, token: &str) -> Value {
    let jwks: JwkSet =
        app.http.get(format!("{}/.well-known/jwks.json", app.url)).send().await.unwrap().json().await.unwrap();
    let header = decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let jwk = jwks.find(header.kid.as_deref().expect("kid in header")).expect("kid published");
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&["doorman"]);
    validation.set_issuer(&["http://doorman.test"]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    decode::<Value>(token, &key, &validation).expect("token validates against the JWKS").claims
}

#[tokio::test]
async fn a_token_validates_with_only_the_served_jwks() {
    let app = spawn_app().await;
    app.add_ana().await;
    let body = app.login("+34600000001").await;
    let claims = claims_of(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["sub"], "employees/4721");
    assert_eq!(claims["aud"], "doorman");
    assert_eq!(claims["roles"], json!(["view_own_payroll", "view_own_schedule"]));
    assert_eq!(claims["amr"], json!(["otp", "sms"]), "RFC 8176: a code by WhatsApp is otp + sms");
    assert_eq!(claims["acr"], "loa2");
    assert_eq!(claims["client_id"], "hr-bot");
    assert_eq!(claims["sid"], body["session"]["id"]);
    assert_eq!(claims["channel"], "whatsapp");
    assert_eq!(claims["flow"], "payroll");
    assert_eq!(claims["employee_number"], "4721");
    assert_eq!(claims["name"], "Ana Ruiz");
    assert!(claims.get("phone").is_none(), "only the flow's claims are copied");
    assert!(claims["jti"].as_str().unwrap().len() >= 16);
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 300);
}

#[tokio::test]
async fn a_tampered_or_foreign_token_does_not_validate() {
    let app = spawn_app().await;
    app.add_ana().await;
    let token = app.login("c1").await["access_token"].as_str().unwrap().to_string();
    let jwks: JwkSet =
        app.http.get(format!("{}/.well-known/jwks.json", app.url)).send().await.unwrap().json().await.unwrap();
    let key = DecodingKey::from_jwk(&jwks.keys[0]).unwrap();
    let mut validation = Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&["doorman"]);
    let mut parts: Vec<String> = token.split('.').map(String::from).collect();
    parts[1] = parts[1].replace('A', "B");
    assert!(decode::<Value>(&parts.join("."), &key, &validation).is_err());
    validation.set_audience(&["payroll-api"]);
    assert!(decode::<Value>(&token, &key, &validation).is_err(), "the audience is pinned");
}

#[tokio::test]
async fn rs256_and_eddsa_can_be_selected() {
    for (algorithm, name) in
        [(doorman::config::Algorithm::RS256, "RS256"), (doorman::config::Algorithm::EdDSA, "EdDSA")]
    {
        let app = spawn_app_with(|c| c.keys.algorithm = algorithm).await;
        app.add_ana().await;
        let token = app.login("c1").await["access_token"].as_str().unwrap().to_string();
        assert_eq!(format!("{:?}", decode_header(&token).unwrap().alg), name);
        assert_eq!(claims_of(&app, &token).await["sub"], "employees/4721");
        let jwks: Value =
            app.http.get(format!("{}/.well-known/jwks.json", app.url)).send().await.unwrap().json().await.unwrap();
        assert_eq!(jwks["keys"][0]["alg"], name);
        assert_eq!(jwks["keys"][0]["use"], "sig");
    }
}

#[tokio::test]
async fn a_rotated_key_keeps_old_tokens_valid() {
    let app = spawn_app().await;
    app.add_ana().await;
    let old = app.login("c1").await["access_token"].as_str().unwrap().to_string();
    let dir = std::path::PathBuf::from(&app.config.keys.dir);
    doorman::keys::generate_key_file(&dir, doorman::config::Algorithm::ES256).unwrap();
    let app = app.restart().await;
    let new = app.login("c2").await["access_token"].as_str().unwrap().to_string();
    let (old_kid, new_kid) = (decode_header(&old).unwrap().kid, decode_header(&new).unwrap().kid);
    assert_ne!(old_kid, new_kid, "the newest key signs");
    claims_of(&app, &old).await;
    claims_of(&app, &new).await;
}

#[tokio::test]
async fn metadata_names_the_issuer_and_the_jwks() {
    let app = spawn_app_with(|c| c.server.public_url = "http://doorman.test/".into()).await;
    app.add_ana().await;
    let token = app.login("c1").await["access_token"].as_str().unwrap().to_string();
    assert_eq!(claims_of(&app, &token).await["iss"], "http://doorman.test", "iss and issuer are spelled alike");
    for path in ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"] {
        let metadata: Value = app.http.get(format!("{}{path}", app.url)).send().await.unwrap().json().await.unwrap();
        assert_eq!(metadata["issuer"], "http://doorman.test");
        assert_eq!(metadata["jwks_uri"], "http://doorman.test/.well-known/jwks.json");
    }
    assert_eq!(app.http.get(format!("{}/readyz", app.url)).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn token_responses_are_not_cached() {
    let app = spawn_app().await;
    app.add_ana().await;
    let code = app.identify_and_receive("c1", "4721").await;
    let response = app.verify("c1", &code).await;
    assert_eq!(response.headers()["cache-control"], "no-store");
}
