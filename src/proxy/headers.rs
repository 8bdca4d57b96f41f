//! Which headers cross the proxy. Names are compared in one spelling, lower case with
//! `_` read as `-`, because some servers treat `X_Doorman_User` as `X-Doorman-User`.
use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::header::GetAll;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};

use super::error::ProxyError;

/// Meaningful for one connection only (RFC 9110 §7.6.1), never forwarded.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-authenticate",
    "proxy-authorization",
];

/// The client's credentials and cookies are for doorman, not for the upstream.
const CLIENT_SECRETS: &[&str] = &["authorization", "cookie", "proxy-authorization"];

/// Set by doorman alone: a client's values are dropped (or, from a trusted proxy, extended).
const FORWARDING: &[&str] =
    &["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded", "x-real-ip", "x-request-id", "host"];

/// Ask some servers and frameworks to route or dispatch differently from the request
/// line, which would undo the route's method and path checks.
const ROUTING_OVERRIDES: &[&str] =
    &["x-original-url", "x-rewrite-url", "x-http-method-override", "x-http-method", "x-method-override"];

/// Framing headers a `Connection` header may not remove: doorman reads them.
const FRAMING: &[&str] = &["content-length", "content-type", "transfer-encoding", "host"];

/// The conversation-mode header: read by doorman, never forwarded.
pub const CONVERSATION_HEADER: &str = "x-doorman-conversation";

/// The header a route may inject a token into, in its one spelling; `None` for a
/// hop-by-hop, framing or forwarding header, which doorman manages itself.
pub fn injectable(name: &str) -> Option<String> {
    let name = spelling(name).into_owned();
    let managed = HOP_BY_HOP.contains(&name.as_str())
        || FRAMING.contains(&name.as_str())
        || FORWARDING.contains(&name.as_str())
        || name.starts_with("x-forwarded-");
    (!managed).then_some(name)
}

/// Where the request came from, as doorman tells the upstream.
pub struct Origin {
    pub peer: IpAddr,
    /// The peer is one of `server.trusted_proxies`: its `X-Forwarded-*` are believed.
    pub trusted: bool,
    /// The host of `server.public_url`: what clients reach doorman by, whatever `Host`
    /// they send.
    pub public_host: HeaderValue,
}

/// Lower case with `_` as `-`; allocates only for the rare name that needs it.
fn spelling(name: &str) -> Cow<'_, str> {
    if name.bytes().any(|b| b == b'_' || b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase().replace('_', "-"))
    } else {
        Cow::Borrowed(name)
    }
}

/// The request headers the upstream receives, and the request id they carry.
/// `injected` is the header the token goes into, if the route puts it in one.
pub fn upstream_headers(
    client: &HeaderMap,
    origin: &Origin,
    injected: Option<&str>,
) -> Result<(HeaderMap, HeaderValue), ProxyError> {
    let set_by_doorman = |name: &str| {
        name.starts_with("x-doorman-")
            || FORWARDING.contains(&name)
            || injected == Some(name)
            || name == "authorization"
    };
    let named_by_connection = connection_tokens(client);
    if let Some(name) = named_by_connection.iter().find(|n| set_by_doorman(n) || FRAMING.contains(&n.as_str())) {
        return Err(ProxyError::InvalidHeader(format!("Connection may not name `{name}`: doorman sets or reads it")));
    }
    let mut out = HeaderMap::with_capacity(client.len() + 4);
    for (name, value) in client {
        let name_spelled = spelling(name.as_str());
        let name_spelled = name_spelled.as_ref();
        if name_spelled.starts_with("x-doorman-") && name_spelled != CONVERSATION_HEADER {
            return Err(ProxyError::InvalidHeader(format!("`{name}` is set by doorman, never by clients")));
        }
        if ROUTING_OVERRIDES.contains(&name_spelled) {
            return Err(ProxyError::InvalidHeader(format!("`{name}` would override the checked method or path")));
        }
        let dropped = set_by_doorman(name_spelled)
            || HOP_BY_HOP.contains(&name_spelled)
            || CLIENT_SECRETS.contains(&name_spelled)
            || named_by_connection.iter().any(|n| n == name_spelled);
        if !dropped {
            out.append(name.clone(), value.clone());
        }
    }
    let request_id = forwarding_headers(client, origin, &mut out);
    Ok((out, request_id))
}

/// Sets `X-Forwarded-For`, `-Proto`, `-Host` and `X-Request-Id`. A trusted proxy's
/// values are extended or kept; anyone else's were dropped above.
fn forwarding_headers(client: &HeaderMap, origin: &Origin, out: &mut HeaderMap) -> HeaderValue {
    let from_trusted = |name: &HeaderName| client.get(name).filter(|_| origin.trusted).cloned();
    let peer = peer_value(origin.peer);
    let chain = match from_trusted(&X_FORWARDED_FOR).as_ref().and_then(|v| v.to_str().ok()) {
        Some(earlier) => owned_value(format!("{earlier}, {}", origin.peer)),
        None => Some(peer),
    };
    out.insert(X_FORWARDED_FOR.clone(), chain.unwrap_or(HeaderValue::from_static("unknown")));
    let proto = from_trusted(&X_FORWARDED_PROTO).unwrap_or(HeaderValue::from_static("http"));
    out.insert(X_FORWARDED_PROTO.clone(), proto);
    let host = from_trusted(&X_FORWARDED_HOST).unwrap_or_else(|| origin.public_host.clone());
    out.insert(X_FORWARDED_HOST.clone(), host);
    let request_id = from_trusted(&X_REQUEST_ID).filter(|v| v.len() <= 128).unwrap_or_else(new_request_id);
    out.insert(X_REQUEST_ID.clone(), request_id.clone());
    request_id
}

/// The peer's address as a header value. A keep-alive client sends request after request
/// from one address: the thread keeps the last one made instead of formatting it each time.
fn peer_value(peer: IpAddr) -> HeaderValue {
    thread_local! {
        static LAST: std::cell::RefCell<Option<(IpAddr, HeaderValue)>> = const { std::cell::RefCell::new(None) };
    }
    LAST.with_borrow_mut(|last| match last {
        Some((ip, value)) if *ip == peer => value.clone(),
        _ => {
            let value = owned_value(peer.to_string()).unwrap_or(HeaderValue::from_static("unknown"));
            *last = Some((peer, value.clone()));
            value
        }
    })
}

/// Removes hop-by-hop headers, and those the upstream's `Connection` names, from a response.
pub fn clean_response_headers(headers: &mut HeaderMap) {
    // One pass over the (few) names there are, rather than a lookup per name there might
    // be; the `Connection` tokens are read in place, so the usual answer (its one
    // hop-by-hop header a `Connection: keep-alive`) allocates only the list of one.
    let connection = headers.get_all(header::CONNECTION);
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|name| HOP_BY_HOP.contains(&name.as_str()) || tokens(&connection).any(|n| n == name.as_str()))
        .cloned()
        .collect();
    for name in doomed {
        headers.remove(name);
    }
}

/// The header names `Connection` headers list, in their one spelling.
fn tokens<'a>(connection: &GetAll<'a, HeaderValue>) -> impl Iterator<Item = Cow<'a, str>> {
    connection
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|token| spelling(token.trim()))
        .filter(|token| !token.is_empty())
}

fn connection_tokens(headers: &HeaderMap) -> Vec<String> {
    tokens(&headers.get_all(header::CONNECTION)).map(Cow::into_owned).collect()
}

/// A header value that takes the string's buffer instead of copying it.
pub fn owned_value(text: String) -> Option<HeaderValue> {
    HeaderValue::from_maybe_shared(bytes::Bytes::from(text.into_bytes())).ok()
}

pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Unique per process without a system call: a random prefix and a counter. Each
/// thread counts in its own range (the top 16 bits are the thread's), so that threads
/// do not share the counter's cache line.
fn new_request_id() -> HeaderValue {
    static PREFIX: LazyLock<String> = LazyLock::new(|| crate::crypto::random_token(6));
    static THREADS: AtomicU64 = AtomicU64::new(0);
    thread_local! {
        static NEXT: std::cell::Cell<u64> = std::cell::Cell::new((THREADS.fetch_add(1, Ordering::Relaxed) << 48) | 1);
    }
    let n = NEXT.with(|next| next.replace(next.get() + 1));
    // `{PREFIX}-{n:x}`, written out by hand: the formatting machinery was a tenth of
    // this function's cost per proxied request (bench/proxy_instructions.sh).
    let mut id = String::with_capacity(PREFIX.len() + 17);
    id.push_str(&PREFIX);
    id.push('-');
    let digits = (64 - n.leading_zeros()).div_ceil(4).max(1);
    for shift in (0..digits).rev() {
        id.push(char::from(b"0123456789abcdef"[(n >> (shift * 4)) as usize & 0xf]));
    }
    owned_value(id).unwrap_or(HeaderValue::from_static("doorman"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (HeaderName::try_from(*k).unwrap(), HeaderValue::from_str(v).unwrap())).collect()
    }

    const ORIGIN: Origin = Origin {
        peer: IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        trusted: false,
        public_host: HeaderValue::from_static("doorman.test"),
    };

    #[test]
    fn identity_headers_in_any_spelling_are_refused() {
        for name in [
            "x-doorman-user",
            "X-DOORMAN-ROLES",
            "x_doorman_user",
            "X_Doorman-Sub",
            "X-Original-URL",
            "x_http_method_override",
        ] {
            assert!(upstream_headers(&headers(&[(name, "admin")]), &ORIGIN, None).is_err(), "{name}");
        }
    }

    #[test]
    fn connection_cannot_remove_what_doorman_sets() {
        for named in
            ["authorization", "Authorization", "x-forwarded-for", "X_Request_Id", "x-token", "content-length", "Host"]
        {
            let h = headers(&[("connection", &format!("keep-alive, {named}"))]);
            assert!(upstream_headers(&h, &ORIGIN, Some("x-token")).is_err(), "{named}");
        }
        let h = headers(&[("connection", "x-trace"), ("x-trace", "1"), ("x-other", "2")]);
        let (out, _) = upstream_headers(&h, &ORIGIN, None).unwrap();
        assert!(out.get("x-trace").is_none() && out.get("x-other").is_some());
    }

    #[test]
    fn hop_by_hop_response_headers_are_removed() {
        let cleaned = |pairs: &[(&str, &str)]| {
            let mut h = headers(pairs);
            clean_response_headers(&mut h);
            let mut names: Vec<_> = h.keys().map(|n| n.as_str().to_string()).collect();
            names.sort();
            names
        };
        // The usual answer: only `Connection: keep-alive` to drop.
        assert_eq!(cleaned(&[("connection", "keep-alive"), ("content-type", "x")]), ["content-type"]);
        assert_eq!(cleaned(&[("content-type", "x")]), ["content-type"]);
        // What `Connection` names goes, and so does every hop-by-hop header, with or
        // without a `Connection` header.
        assert_eq!(cleaned(&[("connection", "Keep-Alive, X-Trace"), ("x-trace", "1"), ("a", "1")]), ["a"]);
        assert_eq!(cleaned(&[("connection", "keep-alive"), ("keep-alive", "timeout=5"), ("a", "1")]), ["a"]);
        assert_eq!(cleaned(&[("transfer-encoding", "chunked"), ("upgrade", "h2c"), ("a", "1")]), ["a"]);
    }

    #[test]
    fn request_ids_are_the_prefix_and_a_hex_count() {
        let (a, b) = (new_request_id(), new_request_id());
        let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
        let (prefix, n) = a.rsplit_once('-').unwrap();
        assert_eq!(b, format!("{prefix}-{:x}", u64::from_str_radix(n, 16).unwrap() + 1));
        assert!(n.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()) && !n.starts_with('0'));
    }

    #[test]
    fn the_peer_address_is_the_forwarded_for_of_each_request() {
        let other = Origin { peer: "192.0.2.9".parse().unwrap(), ..ORIGIN };
        for (origin, expected) in [(&ORIGIN, "127.0.0.1"), (&other, "192.0.2.9"), (&ORIGIN, "127.0.0.1")] {
            let (out, _) = upstream_headers(&HeaderMap::new(), origin, None).unwrap();
            assert_eq!(out["x-forwarded-for"], expected);
        }
    }

    #[test]
    fn tokens_go_only_into_headers_doorman_does_not_manage() {
        assert_eq!(injectable("X_User-Token").as_deref(), Some("x-user-token"));
        for managed in
            ["Connection", "transfer_encoding", "Host", "Content-Length", "X-Forwarded-Prefix", "x-request-id"]
        {
            assert_eq!(injectable(managed), None, "{managed}");
        }
    }

    #[test]
    fn secrets_and_forged_forwarding_are_dropped() {
        let h = headers(&[
            ("authorization", "Bearer x"),
            ("cookie", "s=1"),
            ("x-forwarded-for", "6.6.6.6"),
            ("x_forwarded_for", "6.6.6.6"),
            ("host", "doorman.test"),
        ]);
        let (out, _) = upstream_headers(&h, &ORIGIN, None).unwrap();
        assert!(out.get("authorization").is_none() && out.get("cookie").is_none());
        assert_eq!(out.get_all("x-forwarded-for").iter().collect::<Vec<_>>(), ["127.0.0.1"]);
        assert!(out.get("x_forwarded_for").is_none());
        assert_eq!(out["x-forwarded-host"], "doorman.test");
    }
}
