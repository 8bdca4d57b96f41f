//! The attack corpus. Each request gets a 4xx and none reaches the upstream. Paths
//! go over a raw TCP connection ([`raw`]): an HTTP client library would "fix" them first.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{EncodingKey, Header, encode};

use super::*;

#[tokio::test]
async fn traversal_and_encoding_tricks_are_rejected() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    let paths = [
        "/employees/4721/payslips/../../4722/payslips/2026-10",
        "/employees/4722/payslips/2026-10/..",
        "/employees/4721/payslips/%2e%2e/%2e%2e/4722/payslips/2026-10",
        "/employees/4721/payslips/%2E%2E%2F%2E%2E%2F4722/x",
        "/employees/4721%2f..%2f4722/payslips/2026-10",
        "/employees/4721%5c..%5c4722/payslips/2026-10",
        "/employees/4721/payslips/..%5c2026-10",
        "/employees/4721;/payslips/2026-10",
        "/employees/4721;jsessionid=x/payslips/2026-10",
        "/employees//4721/payslips/2026-10",
        "/employees/4721/payslips/2026-10%00",
        "/employees/4721/payslips/./2026-10",
        "/employees/4721/payslips/%252e%252e",
        "/admin/%2e%2e/employees/4721/payslips/2026-10",
        "/public/..%2fadmin",
        "/public/%",
    ];
    for path in paths {
        let (status, _) =
            raw(&app, &format!("GET /v1/proxy/payroll{path} HTTP/1.1\r\nAuthorization: Bearer {token}"), b"").await;
        assert!((400..500).contains(&status), "{path} answered {status}");
    }
    assert_eq!(upstream.hits(), 0);
    // An escaped `%` that starts no escape is an ordinary character.
    let status =
        raw(&app, &format!("GET /v1/proxy/payroll/public/100%25 HTTP/1.1\r\nAuthorization: Bearer {token}"), b"")
            .await
            .0;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn spoofed_identity_headers_are_refused_in_every_spelling() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    for header in [
        "X-Doorman-User: employees/4722",
        "x-doorman-roles: payroll_admin",
        "X_Doorman_User: employees/4722",
        "x_doorman-sub: employees/4722",
        "X-DOORMAN-CLAIMS: {}",
        "Connection: Authorization",
        "Connection: keep-alive, authorization",
        "Connection: X-Forwarded-For",
        "Connection: x_request_id",
    ] {
        let head = format!(
            "GET /v1/proxy/payroll/employees/4721/payslips/2026-10 HTTP/1.1\r\nAuthorization: Bearer {token}\r\n{header}"
        );
        let (status, _) = raw(&app, &head, b"").await;
        assert_eq!(status, 400, "{header}");
    }
    // The injected header's own name, sent by the client in another spelling.
    let head = format!(
        "GET /v1/proxy/payroll/employees/4721/header HTTP/1.1\r\nAuthorization: Bearer {token}\r\nX_User_Token: forged"
    );
    assert_eq!(raw(&app, &head, b"").await.0, 200);
    assert_eq!(upstream.hits(), 1);
    let response = app
        .http
        .get(app.proxy_url("/employees/4721/header"))
        .bearer_auth(&token)
        .header("x_user_token", "forged")
        .send()
        .await
        .unwrap();
    let seen = seen(response).await;
    assert_eq!(seen["headers"]["x-user-token"].as_array().unwrap().len(), 1);
    assert!(seen["headers"].get("x_user_token").is_none());
    assert_ne!(header(&seen, "x-user-token"), Some("forged"));
}

fn parts(token: &str) -> (Value, Value, String) {
    let mut pieces = token.split('.');
    let mut decode = || serde_json::from_slice(&URL_SAFE_NO_PAD.decode(pieces.next().unwrap()).unwrap()).unwrap();
    let (header, claims) = (decode(), decode());
    (header, claims, token.rsplit('.').next().unwrap().to_string())
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// doorman's own signing key, read from its key directory: for tokens that are
/// correctly signed but wrong in some claim.
fn signing_key(app: &TestApp) -> (String, EncodingKey) {
    let entry = std::fs::read_dir(&app.config.keys.dir).unwrap().next().unwrap().unwrap();
    let kid = entry.file_name().to_str().unwrap().trim_end_matches(".pem").to_string();
    (kid, EncodingKey::from_ec_pem(&std::fs::read(entry.path()).unwrap()).unwrap())
}

#[tokio::test]
async fn forged_and_misused_tokens_are_refused() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    let (header, claims, signature) = parts(&token);
    let kid = header["kid"].as_str().unwrap().to_string();

    let mut forged = Vec::new();
    // alg none, with and without a signature.
    let none = json!({"alg": "none", "typ": "at+jwt", "kid": kid});
    forged.push(format!("{}.{}.", b64(&none), b64(&claims)));
    forged.push(format!("{}.{}.{signature}", b64(&none), b64(&claims)));
    // HS256 keyed with public material (the served JWKS), the classic confusion attack.
    let jwks = app.http.get(format!("{}/.well-known/jwks.json", app.url)).send().await.unwrap().text().await.unwrap();
    let mut hs = Header::new(jsonwebtoken::Algorithm::HS256);
    hs.typ = Some("at+jwt".into());
    hs.kid = Some(kid.clone());
    forged.push(encode(&hs, &claims, &EncodingKey::from_secret(jwks.as_bytes())).unwrap());
    // A tampered signature, and a tampered payload under the original signature.
    let mut bad_signature = signature.clone().into_bytes();
    bad_signature[10] = if bad_signature[10] == b'A' { b'B' } else { b'A' };
    forged.push(format!("{}.{}.{}", b64(&header), b64(&claims), String::from_utf8(bad_signature).unwrap()));
    let mut other = claims.clone();
    other["employee_number"] = json!("4722");
    forged.push(format!("{}.{}.{signature}", b64(&header), b64(&other)));
    // Signed by doorman's real key but wrong: issuer, type, audience, or no session.
    let (real_kid, key) = signing_key(&app);
    let sign = |typ: &str, claims: &Value| {
        let mut h = Header::new(jsonwebtoken::Algorithm::ES256);
        h.typ = Some(typ.into());
        h.kid = Some(real_kid.clone());
        encode(&h, claims, &key).unwrap()
    };
    let mut wrong_iss = claims.clone();
    wrong_iss["iss"] = json!("http://evil.test");
    forged.push(sign("at+jwt", &wrong_iss));
    forged.push(sign("JWT", &claims));
    let mut service_aud = claims.clone();
    service_aud["aud"] = json!("payroll-api");
    forged.push(sign("at+jwt", &service_aud));
    let mut no_sid = claims.clone();
    no_sid.as_object_mut().unwrap().remove("sid");
    forged.push(sign("at+jwt", &no_sid));
    // The sanity check: the same signing path with the claims untouched works.
    seen(app.proxy_get(&sign("at+jwt", &claims), "/employees/4721/payslips/2026-10").await).await;

    for (i, bad) in forged.iter().enumerate() {
        let (status, body) = error_of(app.proxy_get(bad, "/employees/4721/payslips/2026-10").await).await;
        assert_eq!((status, body["error"].as_str().unwrap()), (401, "invalid_token"), "forgery #{i}: {body}");
    }
    assert_eq!(upstream.hits(), 1);
}

#[tokio::test]
async fn an_exchanged_token_leaked_by_a_service_is_no_key_to_the_proxy() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    let seen = seen(app.proxy_get(&token, "/employees/4721/header").await).await;
    let leaked = header(&seen, "x-user-token").unwrap().to_string();
    let (status, _) = error_of(app.proxy_get(&leaked, "/employees/4721/payslips/2026-10").await).await;
    assert_eq!(status, 401);
    assert_eq!(upstream.hits(), 1);
}

#[tokio::test]
async fn a_token_with_critical_extensions_is_refused() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    let (_, claims, _) = parts(&token);
    let (kid, key) = signing_key(&app);
    let mut h = Header::new(jsonwebtoken::Algorithm::ES256);
    h.typ = Some("at+jwt".into());
    h.kid = Some(kid);
    h.crit = Some(vec!["exp".into()]);
    let critical = encode(&h, &claims, &key).unwrap();
    let (status, body) = error_of(app.proxy_get(&critical, "/employees/4721/payslips/2026-10").await).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (401, "invalid_token"), "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("critical"), "{body}");
    assert_eq!(upstream.hits(), 0);
    let introspected = app.oauth("/oauth/introspect", BOT, &[("token", &critical)]).await;
    assert_eq!(introspected.json::<Value>().await.unwrap(), json!({"active": false}));
}

#[tokio::test]
async fn token_refusals_are_explained_in_words_not_library_errors() {
    let upstream = Upstream::start().await;
    let (app, token) = proxied(&upstream).await;
    let (header, claims, signature) = parts(&token);
    let (kid, key) = signing_key(&app);
    let sign = |claims: &Value| {
        let mut h = Header::new(jsonwebtoken::Algorithm::ES256);
        h.typ = Some("at+jwt".into());
        h.kid = Some(kid.clone());
        encode(&h, claims, &key).unwrap()
    };
    let mut no_exp = claims.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    let short_signature = format!("{}.{}.{}", b64(&header), b64(&claims), &signature[..5]);
    let mut other = claims.clone();
    other["employee_number"] = json!("4722");
    let tampered = format!("{}.{}.{signature}", b64(&header), b64(&other));
    for (bad, expected) in [
        (sign(&no_exp), "the token is invalid: it has no exp claim"),
        (short_signature, "the token is not a JWT doorman can read"),
        (tampered, "the token is invalid: its signature does not verify"),
    ] {
        let (status, body) = error_of(app.proxy_get(&bad, "/employees/4721/payslips/2026-10").await).await;
        assert_eq!(status, 401, "{body}");
        let description = body["error_description"].as_str().unwrap();
        assert_eq!(description, expected);
        assert!(!description.contains('(') && !description.contains("Base64"), "{description}");
    }
    assert_eq!(upstream.hits(), 0);
}
