//! Building the upstream request: its URL (the normalized path, or the route's
//! `upstream_path`) and the token, put where the route says.
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri, header};
use percent_encoding::{percent_decode_str, utf8_percent_encode};
use serde_json::Value;

use super::error::ProxyError;
use super::forward::read_body;
use super::path::CanonicalPath;
use super::routes::{Route, Service};
use super::template::Captures;
use super::upstream_path::{COMPONENT, Values};
use crate::config::Inject;
use crate::domain::AccessClaims;

/// Where one allowed request goes, and with which token.
pub struct Target<'a> {
    pub service: &'a Service,
    pub route: &'a Route,
    pub path: &'a CanonicalPath,
    pub captures: &'a Captures<'a>,
    pub claims: &'a AccessClaims,
    pub token: &'a str,
    /// `Bearer {token}`, when it was made already.
    pub bearer: Option<&'a HeaderValue>,
}

impl Inject {
    /// The header the token goes into, if any; the client may not send it.
    pub fn header_name(&self) -> Option<&str> {
        match self {
            Inject::Authorization => Some("authorization"),
            Inject::Header(name) => Some(name),
            _ => None,
        }
    }
}

impl Target<'_> {
    /// The upstream URL. The client's query goes along, minus any parameter the route
    /// sets itself (its `upstream_path` query or `inject = "query:NAME"`).
    pub fn uri(&self, client_query: &str) -> Result<Uri, ProxyError> {
        let (path, mut query, reserved) = match &self.route.upstream_path {
            Some(template) => {
                let values = Values { captures: self.captures, claims: self.claims, token: self.token };
                let (path, query) = template.render(&values)?;
                (path, query, template.query_names())
            }
            None => (CanonicalPath::join(self.path.segments(), self.path.has_trailing_slash()), String::new(), &[][..]),
        };
        let injected = match &self.route.inject {
            Inject::Query(name) => Some(name.as_str()),
            _ => None,
        };
        // Some servers also split parameters on `;`: a name hidden behind one counts too.
        let names_set_by_route = |pair: &str| {
            pair.split(';').any(|part| {
                let raw_name = part.split('=').next().unwrap_or("").replace('+', " ");
                let name = percent_decode_str(&raw_name).decode_utf8_lossy();
                injected == Some(&name) || reserved.iter().any(|r| *r == name)
            })
        };
        for pair in client_query.split('&').filter(|p| !p.is_empty()) {
            if !names_set_by_route(pair) {
                push_pair(&mut query, pair);
            }
        }
        if let Some(name) = injected {
            let pair = format!("{}={}", utf8_percent_encode(name, COMPONENT), self.token);
            push_pair(&mut query, &pair);
        }
        let upstream = &self.service.upstream;
        let question = if query.is_empty() { "" } else { "?" };
        let parts = [&upstream.scheme, "://", &upstream.authority, &upstream.base_path, &path, question, &query];
        parts.concat().parse().map_err(|_| ProxyError::InvalidPath("the upstream URL would not be valid"))
    }

    /// The request with the token injected, and the client's body read whole (see
    /// `forward`).
    pub async fn request(
        &self,
        method: Method,
        uri: Uri,
        mut headers: HeaderMap,
        body: Body,
    ) -> Result<Request<Body>, ProxyError> {
        let max = self.service.max_body_bytes;
        let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|length| length > max as u64) {
            return Err(ProxyError::BodyTooLarge);
        }
        let bytes = read_body(body, max, self.service.timeout).await?;
        let body = match &self.route.inject {
            Inject::Authorization => {
                let bearer = match self.bearer {
                    Some(made) => made.clone(),
                    None => super::headers::owned_value(format!("Bearer {}", self.token))
                        .ok_or_else(|| ProxyError::Internal("the token is not a valid header value".into()))?,
                };
                headers.insert(header::AUTHORIZATION, bearer);
                Body::from(bytes)
            }
            Inject::Header(name) => {
                let name = HeaderName::try_from(name.as_str()).map_err(|e| ProxyError::Internal(e.to_string()))?;
                let token = HeaderValue::from_str(self.token).map_err(|e| ProxyError::Internal(e.to_string()))?;
                headers.insert(name, token);
                Body::from(bytes)
            }
            Inject::Json(pointer) => {
                let json = json_with_token(&bytes, &headers, pointer, self.token)?;
                headers.remove(header::CONTENT_LENGTH);
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                Body::from(json)
            }
            Inject::Query(_) | Inject::None => Body::from(bytes),
        };
        let mut request = Request::new(body);
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        Ok(request)
    }
}

fn push_pair(query: &mut String, pair: &str) {
    if !query.is_empty() {
        query.push('&');
    }
    query.push_str(pair);
}

/// The client's JSON body (or `{}` when there is none) with the token at `pointer`.
fn json_with_token(bytes: &[u8], headers: &HeaderMap, pointer: &str, token: &str) -> Result<Vec<u8>, ProxyError> {
    let mut document = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        let mime = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let essence = mime.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(ProxyError::InvalidBody(
                "this route puts the token in a JSON body: send application/json".into(),
            ));
        }
        serde_json::from_slice(bytes).map_err(|_| ProxyError::InvalidBody("the body is not valid JSON".into()))?
    };
    set_pointer(&mut document, pointer, Value::String(token.to_string()))?;
    serde_json::to_vec(&document).map_err(|e| ProxyError::Internal(e.to_string()))
}

/// Sets the member named by an RFC 6901 pointer, creating the objects on its way.
fn set_pointer(document: &mut Value, pointer: &str, value: Value) -> Result<(), ProxyError> {
    let not_object =
        || ProxyError::InvalidBody(format!("the body has no JSON object at `{pointer}` to hold the token"));
    let names: Vec<String> = pointer.split('/').skip(1).map(|t| t.replace("~1", "/").replace("~0", "~")).collect();
    let (last, parents) = names.split_last().ok_or_else(not_object)?;
    let mut target = document;
    for name in parents {
        target = target
            .as_object_mut()
            .ok_or_else(not_object)?
            .entry(name.clone())
            .or_insert_with(|| Value::Object(Default::default()));
    }
    target.as_object_mut().ok_or_else(not_object)?.insert(last.clone(), value);
    Ok(())
}
