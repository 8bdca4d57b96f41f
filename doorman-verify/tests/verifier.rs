//! The verifier against a local issuer that serves RFC 8414 metadata and a JWKS, and
//! can be told to fail.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use doorman_verify::{Claims, Options, Rejection, RoleGuard, SetupError, Verifier, VerifyError, unix_now};
use http_body_util::BodyExt;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use tower::ServiceExt;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Up,
    Down,
    Garbage,
}

struct IssuerState {
    jwks: Mutex<Vec<Value>>,
    mode: Mutex<Mode>,
    claimed_issuer: Mutex<Option<String>>,
    hits: AtomicUsize,
}

struct Issuer {
    url: String,
    state: Arc<IssuerState>,
}

impl Issuer {
    async fn start(keys: &[&Key]) -> Issuer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(IssuerState {
            jwks: Mutex::new(keys.iter().map(|k| k.jwk.clone()).collect()),
            mode: Mutex::new(Mode::Up),
            claimed_issuer: Mutex::new(None),
            hits: AtomicUsize::new(0),
        });
        let (metadata_state, jwks_state, base) = (state.clone(), state.clone(), url.clone());
        let app = Router::new()
            .route(
                "/.well-known/oauth-authorization-server",
                get(move || {
                    let issuer = metadata_state.claimed_issuer.lock().unwrap().clone().unwrap_or(base.clone());
                    let jwks_uri = format!("{base}/jwks");
                    async move { axum::Json(json!({"issuer": issuer, "jwks_uri": jwks_uri})) }
                }),
            )
            .route(
                "/jwks",
                get(move || {
                    jwks_state.hits.fetch_add(1, Ordering::SeqCst);
                    let mode = *jwks_state.mode.lock().unwrap();
                    let keys = jwks_state.jwks.lock().unwrap().clone();
                    async move {
                        match mode {
                            Mode::Up => (StatusCode::OK, json!({"keys": keys}).to_string()),
                            Mode::Down => (StatusCode::INTERNAL_SERVER_ERROR, String::new()),
                            Mode::Garbage => (StatusCode::OK, "<html>maintenance</html>".into()),
                        }
                    }
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Issuer { url, state }
    }

    fn publish(&self, key: &Key) {
        self.state.jwks.lock().unwrap().push(key.jwk.clone());
    }

    fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }

    fn options(&self) -> Options {
        Options::new(&self.url, "doorman")
    }

    /// A person's token as doorman mints it, with `changes` applied to the claims.
    fn token(&self, key: &Key, changes: Value) -> String {
        let now = unix_now();
        let mut claims = json!({"iss": self.url, "sub": "employees/4721", "aud": "doorman", "exp": now + 300,
            "iat": now, "jti": "j1", "client_id": "hr-bot", "sid": "s1", "roles": ["view_own_payroll"],
            "employee_number": "4721", "acr": "loa2"});
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        key.sign(&claims, Some("at+jwt"))
    }
}

struct Key {
    kid: String,
    algorithm: Algorithm,
    encoding: EncodingKey,
    jwk: Value,
}

impl Key {
    fn es256(kid: &str) -> Key {
        let der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
        Key::new(kid, Algorithm::ES256, EncodingKey::from_ec_der(der.as_ref()))
    }

    fn eddsa(kid: &str) -> Key {
        let der = Ed25519KeyPair::generate_pkcs8v1(&SystemRandom::new()).unwrap();
        Key::new(kid, Algorithm::EdDSA, EncodingKey::from_ed_der(der.as_ref()))
    }

    fn new(kid: &str, algorithm: Algorithm, encoding: EncodingKey) -> Key {
        let mut jwk = Jwk::from_encoding_key(&encoding, algorithm).unwrap();
        jwk.common.key_id = Some(kid.into());
        Key { kid: kid.into(), algorithm, encoding, jwk: serde_json::to_value(jwk).unwrap() }
    }

    fn sign(&self, claims: &Value, typ: Option<&str>) -> String {
        let mut header = Header::new(self.algorithm);
        header.typ = typ.map(String::from);
        header.kid = Some(self.kid.clone());
        encode(&header, claims, &self.encoding).unwrap()
    }
}

#[tokio::test]
async fn discovery_finds_the_keys_and_a_good_token_verifies() {
    let key = Key::es256("k1");
    let issuer = Issuer::start(&[&key]).await;
    let verifier = Verifier::discover(issuer.options()).await.unwrap();
    let claims = verifier.verify(&issuer.token(&key, json!({}))).await.unwrap();
    assert_eq!(claims.sub, "employees/4721");
    assert_eq!(claims.roles, ["view_own_payroll"]);
    assert_eq!(claims.claim("employee_number").as_deref(), Some("4721"));
    assert_eq!(claims.claim("acr").as_deref(), Some("loa2"));
    assert_eq!(issuer.hits(), 1, "keys are cached");
    verifier.verify(&issuer.token(&key, json!({}))).await.unwrap();
    assert_eq!(issuer.hits(), 1);
}

#[tokio::test]
async fn wrong_claims_types_and_algorithms_are_refused() {
    let key = Key::es256("k1");
    let ed = Key::eddsa("ed");
    let issuer = Issuer::start(&[&key, &ed]).await;
    let verifier = Verifier::from_jwks_url(issuer.options(), format!("{}/jwks", issuer.url)).await.unwrap();
    let now = unix_now();
    let refused = |token: String, why: VerifyError| {
        let verifier = verifier.clone();
        async move { assert_eq!(verifier.verify(&token).await, Err(why.clone()), "{why}") }
    };
    refused(issuer.token(&key, json!({"aud": "other-api"})), VerifyError::Invalid("wrong audience")).await;
    refused(issuer.token(&key, json!({"iss": "https://evil.example"})), VerifyError::Invalid("wrong issuer")).await;
    let malformed = VerifyError::Invalid("a required claim is missing or malformed");
    refused(issuer.token(&key, json!({"sub": null})), malformed.clone()).await;
    refused(issuer.token(&key, json!({"exp": null})), malformed.clone()).await;
    refused(issuer.token(&key, json!({"roles": "admin"})), malformed).await;
    refused(issuer.token(&key, json!({"exp": now - 60})), VerifyError::Expired).await;
    refused(issuer.token(&key, json!({"nbf": now + 60})), VerifyError::NotYetValid).await;
    refused(key.sign(&json!({"sub": "x"}), Some("JWT")), VerifyError::WrongType).await;
    refused(key.sign(&json!({"sub": "x"}), None), VerifyError::WrongType).await;
    // Signed by another key under a published kid.
    let impostor = Key::es256("k1");
    refused(issuer.token(&impostor, json!({})), VerifyError::Invalid("bad signature")).await;
    // The token claims another algorithm than its key's.
    let mut swapped = Key::eddsa("k1");
    swapped.kid = "k1".into();
    refused(issuer.token(&swapped, json!({})), VerifyError::AlgorithmMismatch).await;
    let hmac =
        Key { kid: "k1".into(), algorithm: Algorithm::HS256, encoding: EncodingKey::from_secret(b"x"), jwk: json!({}) };
    refused(issuer.token(&hmac, json!({})), VerifyError::AlgorithmMismatch).await;
    for garbage in ["", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", &"x".repeat(20_000)] {
        refused(garbage.to_string(), VerifyError::Malformed).await;
    }
    // Within the leeway an expired token still passes; the EdDSA key works too.
    verifier.verify(&issuer.token(&key, json!({"exp": now - 2}))).await.unwrap();
    verifier.verify(&issuer.token(&ed, json!({}))).await.unwrap();
}

#[tokio::test]
async fn an_unknown_kid_refreshes_the_keys_at_most_once_per_interval() {
    let old = Key::es256("old");
    let issuer = Issuer::start(&[&old]).await;
    let mut options = issuer.options();
    options.refresh_interval = Duration::from_millis(300);
    let verifier = Verifier::discover(options).await.unwrap();
    assert_eq!(issuer.hits(), 1);

    tokio::time::sleep(Duration::from_millis(350)).await;
    let stranger = Key::es256("stranger");
    for _ in 0..5 {
        assert_eq!(verifier.verify(&issuer.token(&stranger, json!({}))).await, Err(VerifyError::UnknownKey));
    }
    assert_eq!(issuer.hits(), 2, "five unknown kids, one fetch");

    // A rotation: the new key is found on the next fetch, the old one still works.
    let new = Key::es256("new");
    issuer.publish(&new);
    assert_eq!(verifier.verify(&issuer.token(&new, json!({}))).await, Err(VerifyError::UnknownKey), "rate-limited");
    tokio::time::sleep(Duration::from_millis(350)).await;
    verifier.verify(&issuer.token(&new, json!({}))).await.unwrap();
    verifier.verify(&issuer.token(&old, json!({}))).await.unwrap();
    assert_eq!(issuer.hits(), 3);
}

#[tokio::test]
async fn a_failing_jwks_endpoint_leaves_the_held_keys_serving() {
    let key = Key::es256("k1");
    let issuer = Issuer::start(&[&key]).await;
    let mut options = issuer.options();
    options.max_age = Duration::ZERO;
    options.refresh_interval = Duration::ZERO;
    let verifier = Verifier::discover(options).await.unwrap();
    for mode in [Mode::Down, Mode::Garbage] {
        issuer.set_mode(mode);
        let before = issuer.hits();
        verifier.verify(&issuer.token(&key, json!({}))).await.unwrap();
        assert!(issuer.hits() > before, "a stale set is fetched again");
        let unknown = verifier.verify(&issuer.token(&Key::es256("k2"), json!({}))).await;
        assert!(matches!(unknown, Err(VerifyError::KeysUnavailable(_))), "{unknown:?}");
        assert!(verifier.refresh().await.is_err());
    }
    issuer.set_mode(Mode::Up);
    assert_eq!(verifier.refresh().await, Ok(1));
}

#[tokio::test]
async fn setup_fails_clearly() {
    let key = Key::es256("k1");
    let issuer = Issuer::start(&[&key]).await;
    issuer.set_mode(Mode::Down);
    let down = Verifier::discover(issuer.options()).await.err().unwrap();
    assert!(down.to_string().contains("/jwks: answered 500"), "{down}");
    issuer.set_mode(Mode::Garbage);
    let garbage = Verifier::discover(issuer.options()).await.err().unwrap();
    assert!(garbage.to_string().contains("not a JWKS document"), "{garbage}");
    issuer.set_mode(Mode::Up);
    *issuer.state.claimed_issuer.lock().unwrap() = Some("https://elsewhere.example".into());
    assert!(matches!(Verifier::discover(issuer.options()).await, Err(SetupError::IssuerMismatch { .. })));
    let nowhere = Verifier::discover(Options::new("http://127.0.0.1:9", "doorman")).await.err().unwrap();
    assert!(nowhere.to_string().contains("unreachable"), "{nowhere}");
    assert!(matches!(Verifier::discover(Options::new("doorman", "a")).await, Err(SetupError::IssuerUrl(_))));

    // A lazy verifier starts anyway, and answers "unavailable" until the keys arrive.
    issuer.set_mode(Mode::Down);
    let mut options = issuer.options();
    options.refresh_interval = Duration::ZERO;
    let lazy = Verifier::lazy(options, format!("{}/jwks", issuer.url)).unwrap();
    assert!(matches!(lazy.verify(&issuer.token(&key, json!({}))).await, Err(VerifyError::KeysUnavailable(_))));
    issuer.set_mode(Mode::Up);
    lazy.verify(&issuer.token(&key, json!({}))).await.unwrap();
}

async fn call(app: &Router, token: Option<&str>, path: &str) -> (StatusCode, Option<String>, Value) {
    let mut request = Request::get(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = app.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let challenge = response.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_string());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, challenge, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_axum_extractor_and_guards_answer_in_doormans_error_shape() {
    let key = Key::es256("k1");
    let issuer = Issuer::start(&[&key]).await;
    let mut options = issuer.options();
    options.refresh_interval = Duration::ZERO;
    let verifier = Verifier::discover(options).await.unwrap();
    let guarded = axum::middleware::from_fn_with_state(
        doorman_verify::Guarded::new(verifier.clone(), RoleGuard::all_of(["view_own_payroll", "payroll_admin"])),
        doorman_verify::enforce,
    );
    let app = Router::new()
        .route("/admin", get(|claims: Claims| async move { claims.sub }))
        .route_layer(guarded)
        .route(
            "/own/{n}",
            get(|claims: Claims, axum::extract::Path(n): axum::extract::Path<String>| async move {
                claims.require_any_role(&["view_own_payroll"])?;
                claims.require_own("employee_number", &n)?;
                Ok::<_, Rejection>(axum::Json(json!({"n": n})))
            }),
        )
        .with_state(verifier);
    let good = issuer.token(&key, json!({}));

    let (status, challenge, body) = call(&app, None, "/own/4721").await;
    assert_eq!(status, 401);
    assert!(challenge.unwrap().starts_with("Bearer error=\"invalid_token\""));
    assert_eq!(body["error"], "invalid_token");
    assert!(body["error_description"].as_str().unwrap().contains("Bearer"));
    let (status, challenge, body) = call(&app, Some(&issuer.token(&key, json!({"exp": 1}))), "/own/4721").await;
    assert_eq!((status, body["error_description"].as_str()), (StatusCode::UNAUTHORIZED, Some("the token has expired")));
    assert_eq!(challenge.unwrap(), "Bearer error=\"invalid_token\", error_description=\"the token has expired\"");

    assert_eq!(call(&app, Some(&good), "/own/4721").await.2, json!({"n": "4721"}));
    let (status, challenge, body) = call(&app, Some(&good), "/own/4722").await;
    assert_eq!((status, challenge, body["error"].as_str()), (StatusCode::FORBIDDEN, None, Some("forbidden_resource")));
    let no_role = issuer.token(&key, json!({"roles": []}));
    assert_eq!(call(&app, Some(&no_role), "/own/4721").await.2["error"], "insufficient_role");

    assert_eq!(call(&app, Some(&good), "/admin").await.2["error"], "insufficient_role", "all of, not any of");
    let admin = issuer.token(&key, json!({"roles": ["view_own_payroll", "payroll_admin"]}));
    let (status, _, _) = call(&app, Some(&admin), "/admin").await;
    assert_eq!(status, 200);

    issuer.set_mode(Mode::Down);
    let (status, _, body) = call(&app, Some(&issuer.token(&Key::es256("k9"), json!({}))), "/own/4721").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("temporarily_unavailable")));
}
