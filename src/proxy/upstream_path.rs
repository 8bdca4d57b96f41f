//! `upstream_path` templates such as `/old/payslip?emp={claim.employee_number}&auth={authtoken}`,
//! for upstreams that want the caller or the token in the URL.
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::error::ProxyError;
use super::path::decoded;
use super::template::Captures;
use crate::domain::AccessClaims;

/// Everything but RFC 3986 unreserved characters is escaped: a value can never add a
/// segment, a query parameter or a fragment.
pub(super) const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Param(String),
    Claim(String),
    AuthToken,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamTemplate {
    path: Vec<Piece>,
    query: Vec<Piece>,
    /// Names of the template's own query parameters: the client may not send them too.
    query_names: Vec<String>,
}

/// What a placeholder is filled from.
pub struct Values<'a> {
    pub captures: &'a Captures<'a>,
    pub claims: &'a AccessClaims,
    pub token: &'a str,
}

impl UpstreamTemplate {
    pub fn parse(text: &str, params: &[&str]) -> Result<Self, String> {
        let (path, query) = text.split_once('?').unwrap_or((text, ""));
        if !path.starts_with('/') {
            return Err("starts with `/`".into());
        }
        if path.split('/').any(|s| s == "." || s == "..") || path.contains("//") {
            return Err("`.`, `..` and `//` are not allowed".into());
        }
        let query_names = query
            .split('&')
            .filter_map(|pair| pair.split('=').next())
            .filter(|name| !name.is_empty() && !name.contains('{'))
            .map(str::to_string)
            .collect();
        Ok(Self { path: pieces(path, params)?, query: pieces(query, params)?, query_names })
    }

    pub fn query_names(&self) -> &[String] {
        &self.query_names
    }

    /// The path and the query (possibly empty).
    pub fn render(&self, values: &Values) -> Result<(String, String), ProxyError> {
        Ok((render(&self.path, values, false)?, render(&self.query, values, true)?))
    }
}

fn pieces(text: &str, params: &[&str]) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            out.push(Piece::Text(rest[..open].to_string()));
        }
        let close = rest[open..].find('}').ok_or("an unclosed `{`")? + open;
        let name = &rest[open + 1..close];
        out.push(match name {
            "authtoken" => Piece::AuthToken,
            _ if name.starts_with("claim.") && name.len() > 6 => Piece::Claim(name[6..].to_string()),
            _ if params.contains(&name) => Piece::Param(name.to_string()),
            _ => return Err(format!("`{{{name}}}` is not a path parameter, `claim.NAME` or `authtoken`")),
        });
        rest = &rest[close + 1..];
    }
    if rest.contains('}') {
        return Err("a `}` without its `{`".into());
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest.to_string()));
    }
    Ok(out)
}

fn render(pieces: &[Piece], values: &Values, in_query: bool) -> Result<String, ProxyError> {
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(text) => out.push_str(text),
            // A canonical segment is already safe inside a path; in a query it is
            // re-escaped so that `&` or `=` in it cannot add parameters.
            Piece::Param(name) => {
                let value = values.captures.get(name).ok_or(ProxyError::Internal(format!("no parameter {name}")))?;
                if in_query {
                    out.extend(utf8_percent_encode(&decoded(value), COMPONENT));
                } else {
                    out.push_str(value);
                }
            }
            Piece::Claim(name) => {
                let value = values.claims.claim(name).ok_or(ProxyError::ForbiddenResource)?;
                out.extend(utf8_percent_encode(value, COMPONENT));
            }
            Piece::AuthToken => out.push_str(values.token),
        }
    }
    Ok(out)
}
