//! The verifier: keys fetched from the issuer and cached, tokens checked against them.
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Validation, decode, decode_header, errors::ErrorKind};
use serde::Deserialize;

use crate::claims::Claims;
use crate::error::{SetupError, VerifyError};
use crate::keys::{Keys, PinnedKey, parse_jwks};

/// Longer than any access token doorman mints; anything bigger is refused unread.
const MAX_TOKEN: usize = 16 * 1024;
const MAX_DOCUMENT: usize = 1024 * 1024;

/// What the verifier accepts and how it keeps its keys.
#[derive(Debug, Clone)]
pub struct Options {
    /// doorman's `server.public_url`: the `iss` of its tokens.
    pub issuer: String,
    /// The `aud` this API accepts: doorman's `tokens.audience`, or the service's own
    /// audience for tokens the proxy exchanged for it.
    pub audience: String,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
    /// At most one fetch of the key set per interval, however many unknown `kid`s arrive.
    pub refresh_interval: Duration,
    /// A key set older than this is fetched again, so that withdrawn keys stop working.
    pub max_age: Duration,
    /// For each HTTP request to the issuer.
    pub timeout: Duration,
    /// Unix seconds now; replaceable for tests.
    pub clock: fn() -> i64,
}

impl Options {
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into().trim_end_matches('/').to_string(),
            audience: audience.into(),
            leeway: Duration::from_secs(5),
            refresh_interval: Duration::from_secs(10),
            // doorman serves its JWKS with max-age=300.
            max_age: Duration::from_secs(300),
            timeout: Duration::from_secs(5),
            clock: unix_now,
        }
    }
}

pub fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

#[derive(Default)]
struct KeySet {
    keys: Keys,
    fetched: Option<Instant>,
}

struct Inner {
    options: Options,
    jwks_url: String,
    http: reqwest::Client,
    keys: RwLock<Arc<KeySet>>,
    /// When the last fetch started; held while fetching, so concurrent misses share one.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
}

/// Validates doorman access tokens. Cheap to clone; clones share the key cache.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

#[derive(Deserialize)]
struct Metadata {
    issuer: String,
    jwks_uri: String,
}

impl Verifier {
    /// Finds the JWKS through the issuer's RFC 8414 metadata, then fetches it.
    pub async fn discover(options: Options) -> Result<Self, SetupError> {
        let http = client(&options)?;
        let url = metadata_url(&options.issuer)?;
        let metadata: Metadata = serde_json::from_slice(&fetch(&http, &url).await.map_err(fetch_error(&url))?)
            .map_err(|e| SetupError::Fetch { url: url.clone(), reason: format!("not RFC 8414 metadata: {e}") })?;
        if metadata.issuer.trim_end_matches('/') != options.issuer {
            return Err(SetupError::IssuerMismatch { url, expected: options.issuer, found: metadata.issuer });
        }
        Self::start(options, http, metadata.jwks_uri).await
    }

    /// Fetches the key set at `jwks_url` now, so that a wrong URL fails at start-up.
    pub async fn from_jwks_url(options: Options, jwks_url: impl Into<String>) -> Result<Self, SetupError> {
        let http = client(&options)?;
        Self::start(options, http, jwks_url.into()).await
    }

    /// Fetches nothing until the first token arrives: for an API that must start even
    /// when doorman is down.
    pub fn lazy(options: Options, jwks_url: impl Into<String>) -> Result<Self, SetupError> {
        let http = client(&options)?;
        Ok(Self::new(options, http, jwks_url.into()))
    }

    fn new(options: Options, http: reqwest::Client, jwks_url: String) -> Self {
        let inner = Inner { options, jwks_url, http, keys: RwLock::default(), last_fetch: Default::default() };
        Self { inner: Arc::new(inner) }
    }

    async fn start(options: Options, http: reqwest::Client, jwks_url: String) -> Result<Self, SetupError> {
        let verifier = Self::new(options, http, jwks_url);
        let url = verifier.inner.jwks_url.clone();
        verifier.refresh().await.map_err(|reason| SetupError::Fetch { url, reason })?;
        Ok(verifier)
    }

    pub fn options(&self) -> &Options {
        &self.inner.options
    }

    /// Fetches the key set now, whatever the rate limit; returns how many keys it holds.
    /// On failure the keys already held stay in use.
    pub async fn refresh(&self) -> Result<usize, String> {
        let mut last = self.inner.last_fetch.lock().await;
        *last = Some(Instant::now());
        self.fetch_keys().await
    }

    async fn fetch_keys(&self) -> Result<usize, String> {
        let url = &self.inner.jwks_url;
        let fetched = fetch(&self.inner.http, url).await.and_then(|body| parse_jwks(&body));
        match fetched {
            Ok(keys) => {
                let count = keys.len();
                let set = Arc::new(KeySet { keys, fetched: Some(Instant::now()) });
                *self.inner.keys.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = set;
                Ok(count)
            }
            Err(reason) => {
                tracing::warn!(url, reason, "cannot refresh the issuer's keys; keeping the ones held");
                Err(reason)
            }
        }
    }

    /// Fetches again unless a fetch started within `refresh_interval`. Err only when this
    /// call fetched and failed.
    async fn refresh_limited(&self) -> Result<(), String> {
        let mut last = self.inner.last_fetch.lock().await;
        if last.is_some_and(|at| at.elapsed() < self.inner.options.refresh_interval) {
            return Ok(());
        }
        *last = Some(Instant::now());
        self.fetch_keys().await.map(|_| ())
    }

    fn held(&self) -> Arc<KeySet> {
        self.inner.keys.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    async fn key(&self, kid: &str) -> Result<Arc<PinnedKey>, VerifyError> {
        let held = self.held();
        if held.fetched.is_none_or(|at| at.elapsed() >= self.inner.options.max_age) {
            // Failure is logged; the held keys keep serving.
            let _ = self.refresh_limited().await;
        }
        if let Some(key) = self.held().keys.get(kid) {
            return Ok(key.clone());
        }
        let refreshed = self.refresh_limited().await;
        let held = self.held();
        match (held.keys.get(kid), refreshed) {
            (Some(key), _) => Ok(key.clone()),
            // The key may exist; the issuer cannot be asked now.
            (None, Err(reason)) => Err(VerifyError::KeysUnavailable(reason)),
            (None, Ok(())) if held.keys.is_empty() => {
                Err(VerifyError::KeysUnavailable("no key set has been fetched yet".into()))
            }
            (None, Ok(())) => Err(VerifyError::UnknownKey),
        }
    }

    /// Checks signature (with the key's pinned algorithm), `typ`, `iss`, `aud`, `exp`
    /// and `nbf`, and returns the claims.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        if token.len() > MAX_TOKEN {
            return Err(VerifyError::Malformed);
        }
        // An unknown `alg`, "none" included, fails here: the header does not parse.
        let header = decode_header(token).map_err(|_| VerifyError::Malformed)?;
        // RFC 7515 §4.1.11: extensions marked critical must be understood; this
        // verifier understands none.
        if header.crit.is_some() {
            return Err(VerifyError::Invalid("it has critical header parameters this verifier does not understand"));
        }
        let typ_ok = header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt"));
        if !typ_ok {
            return Err(VerifyError::WrongType);
        }
        let kid = header.kid.as_deref().ok_or(VerifyError::UnknownKey)?;
        let key = self.key(kid).await?;
        if header.alg != key.algorithm {
            return Err(VerifyError::AlgorithmMismatch);
        }
        let options = &self.inner.options;
        let mut validation = Validation::new(key.algorithm);
        validation.set_issuer(&[&options.issuer]);
        validation.set_audience(&[&options.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Time is checked below, against `options.clock`.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let claims = decode::<Claims>(token, &key.key, &validation).map_err(|e| rejected(e.kind()))?.claims;
        let now = (options.clock)();
        let leeway = options.leeway.as_secs() as i64;
        if claims.exp.saturating_add(leeway) <= now {
            return Err(VerifyError::Expired);
        }
        if claims.nbf.is_some_and(|nbf| nbf.saturating_sub(leeway) > now) {
            return Err(VerifyError::NotYetValid);
        }
        Ok(claims)
    }
}

fn rejected(kind: &ErrorKind) -> VerifyError {
    match kind {
        ErrorKind::InvalidSignature => VerifyError::Invalid("bad signature"),
        ErrorKind::InvalidIssuer => VerifyError::Invalid("wrong issuer"),
        ErrorKind::InvalidAudience => VerifyError::Invalid("wrong audience"),
        // A missing `sub`, or `roles` that is no list, fails deserializing the claims.
        ErrorKind::MissingRequiredClaim(_) | ErrorKind::Json(_) => {
            VerifyError::Invalid("a required claim is missing or malformed")
        }
        ErrorKind::InvalidAlgorithm => VerifyError::AlgorithmMismatch,
        _ => VerifyError::Malformed,
    }
}

fn client(options: &Options) -> Result<reqwest::Client, SetupError> {
    reqwest::Client::builder()
        .timeout(options.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| SetupError::Client(e.to_string()))
}

/// RFC 8414 §3.1: the well-known path goes between the host and the issuer's path.
fn metadata_url(issuer: &str) -> Result<String, SetupError> {
    let url = reqwest::Url::parse(issuer).map_err(|_| SetupError::IssuerUrl(issuer.into()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(SetupError::IssuerUrl(issuer.into()));
    }
    let path = url.path().trim_end_matches('/');
    let origin = url.origin().ascii_serialization();
    Ok(format!("{origin}/.well-known/oauth-authorization-server{path}"))
}

fn fetch_error(url: &str) -> impl FnOnce(String) -> SetupError + '_ {
    move |reason| SetupError::Fetch { url: url.to_string(), reason }
}

async fn fetch(http: &reqwest::Client, url: &str) -> Result<Vec<u8>, String> {
    let response = http.get(url).send().await.map_err(|e| format!("unreachable: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("answered {}", response.status()));
    }
    if response.content_length().is_some_and(|n| n > MAX_DOCUMENT as u64) {
        return Err("the document is too large".into());
    }
    let body = response.bytes().await.map_err(|e| format!("reading the answer: {e}"))?;
    if body.len() > MAX_DOCUMENT {
        return Err("the document is too large".into());
    }
    Ok(body.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_urls_follow_rfc_8414() {
        let url = |i: &str| metadata_url(i).unwrap();
        assert_eq!(url("https://doorman.example"), "https://doorman.example/.well-known/oauth-authorization-server");
        assert_eq!(url("http://127.0.0.1:8080"), "http://127.0.0.1:8080/.well-known/oauth-authorization-server");
        assert_eq!(
            url("https://corp.example/auth"),
            "https://corp.example/.well-known/oauth-authorization-server/auth"
        );
        for bad in ["doorman", "ftp://x", "", "https://"] {
            assert!(metadata_url(bad).is_err(), "{bad}");
        }
    }
}
