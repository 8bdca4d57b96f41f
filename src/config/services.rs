//! `[[services]]`: the downstream APIs behind the proxy and the routes into them.
use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::delivery::ten_seconds;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    pub name: String,
    /// `http://host:port` or `https://host:port`, optionally with a base path.
    pub upstream: String,
    /// `aud` of exchanged tokens; the service's name when unset.
    pub audience: Option<String>,
    /// How long the upstream may take to answer with its headers.
    #[serde(default = "ten_seconds", with = "humantime_serde")]
    pub timeout: Duration,
    /// Largest request body forwarded, in bytes.
    #[serde(default = "one_mebibyte")]
    pub max_body_bytes: usize,
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub methods: Vec<String>,
    pub path: String,
    /// All of them are required.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Path parameter → the token claim it must equal.
    #[serde(default)]
    pub bind: BTreeMap<String, String>,
    #[serde(default)]
    pub inject: Inject,
    #[serde(default)]
    pub token: TokenMode,
    /// The upstream path (and query), with `{param}`, `{claim.X}` and `{authtoken}`.
    pub upstream_path: Option<String>,
}

/// Where the token goes in the upstream request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "String")]
pub enum Inject {
    #[default]
    Authorization,
    Header(String),
    Query(String),
    /// A JSON pointer into the request body.
    Json(String),
    None,
}

impl TryFrom<String> for Inject {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        let named = |name: &str, what: &str| {
            if name.is_empty() {
                Err(format!("`{value}` needs a {what} after the colon"))
            } else {
                Ok(name.to_string())
            }
        };
        match value.split_once(':') {
            None if value == "authorization" => Ok(Inject::Authorization),
            None if value == "none" => Ok(Inject::None),
            Some(("header", name)) => {
                let name = named(name, "header name")?;
                axum::http::HeaderName::try_from(name.as_str())
                    .map_err(|_| format!("`{name}` is not a header name"))?;
                crate::proxy::headers::injectable(&name)
                    .map(Inject::Header)
                    .ok_or_else(|| format!("`{name}` is managed by the proxy itself; choose another header"))
            }
            Some(("query", name)) => Ok(Inject::Query(named(name, "parameter name")?)),
            Some(("json", pointer)) if pointer.starts_with('/') => Ok(Inject::Json(pointer.to_string())),
            Some(("json", _)) => Err(format!("`{value}`: a JSON pointer starts with `/`")),
            _ => Err(format!("`{value}`: expected authorization, header:NAME, query:NAME, json:/pointer or none")),
        }
    }
}

/// Which token the upstream receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenMode {
    /// A token minted for the service's audience, living at most 60 s.
    #[default]
    Exchange,
    /// The person's own token.
    Forward,
}

fn one_mebibyte() -> usize {
    1024 * 1024
}

impl ServiceConfig {
    pub fn audience(&self) -> &str {
        self.audience.as_deref().unwrap_or(&self.name)
    }
}

/// `"10.0.0.0/8"` or a single address such as `"127.0.0.1"`.
pub(super) fn ip_ranges<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<ipnet::IpNet>, D::Error> {
    let texts = Vec::<String>::deserialize(deserializer)?;
    texts
        .iter()
        .map(|text| {
            text.parse::<ipnet::IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| serde::de::Error::custom(format!("`{text}` is not an IP address or CIDR range")))
        })
        .collect()
}
