//! The one path normalization of the proxy. Its output is used both to match routes
//! and to build the upstream URL, so the upstream never sees a path that was matched
//! differently from how it reads it. Ambiguous spellings are rejected, not rewritten.
use std::borrow::Cow;

use percent_encoding::percent_decode_str;

use super::error::ProxyError;

/// A request path in canonical form: `/`-separated segments, each percent-encoded in
/// one way only (unreserved characters plain, every other escape in upper-case hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalPath {
    segments: Vec<String>,
    trailing_slash: bool,
}

/// Longest path accepted, before normalization.
const MAX_PATH: usize = 4096;

impl CanonicalPath {
    /// Normalizes the raw (still percent-encoded) path that follows the service name.
    /// Empty means the service's root.
    pub fn parse(raw: &str) -> Result<Self, ProxyError> {
        if raw.len() > MAX_PATH {
            return Err(ProxyError::InvalidPath("the path is too long"));
        }
        let body = raw.strip_prefix('/').unwrap_or(raw);
        if body.is_empty() {
            return Ok(Self { segments: Vec::new(), trailing_slash: raw.starts_with('/') });
        }
        let (body, trailing_slash) = match body.strip_suffix('/') {
            Some(rest) => (rest, true),
            None => (body, false),
        };
        let segments = body.split('/').map(canonical_segment).collect::<Result<Vec<_>, _>>()?;
        Ok(Self { segments, trailing_slash })
    }

    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    pub fn has_trailing_slash(&self) -> bool {
        self.trailing_slash
    }

    /// The path as it is forwarded: `/` + segments (+ the trailing slash it came with).
    pub fn join(segments: &[String], trailing_slash: bool) -> String {
        let mut out = String::with_capacity(segments.iter().map(|s| s.len() + 1).sum::<usize>() + 1);
        for segment in segments {
            out.push('/');
            out.push_str(segment);
        }
        if trailing_slash || out.is_empty() {
            out.push('/');
        }
        out
    }
}

/// The decoded text of a canonical segment, for comparing with a claim.
pub fn decoded(segment: &str) -> Cow<'_, str> {
    percent_decode_str(segment).decode_utf8_lossy()
}

fn canonical_segment(raw: &str) -> Result<String, ProxyError> {
    if raw.is_empty() {
        return Err(ProxyError::InvalidPath("empty path segments (`//`) are not accepted"));
    }
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'%' => {
                let value = bytes
                    .get(i + 1..i + 3)
                    .filter(|hex| hex.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok())
                    .ok_or(ProxyError::InvalidPath("a `%` must start a two-digit hex escape"))?;
                check_decoded(value)?;
                if is_unreserved(value) {
                    out.push(value as char);
                } else {
                    out.push('%');
                    out.push_str(&format!("{value:02X}"));
                }
                i += 3;
            }
            b';' => return Err(ProxyError::InvalidPath("`;` path parameters are not accepted")),
            b'\\' => return Err(ProxyError::InvalidPath("backslashes are not accepted in paths")),
            0 => return Err(ProxyError::InvalidPath("NUL is not accepted in paths")),
            _ => {
                out.push(b as char);
                i += 1;
            }
        }
    }
    if out == "." || out == ".." {
        return Err(ProxyError::InvalidPath("`.` and `..` segments are not accepted"));
    }
    // The usual segment has no escape left, and then nothing below can apply.
    if !out.contains('%') {
        return Ok(out);
    }
    // Checked on the canonical form, so `%25%32%65` is caught as well as `%252e`: an
    // upstream that decodes twice would read either as `%2e`, then as a dot.
    let double_encoded = out
        .match_indices("%25")
        .any(|(at, _)| out.as_bytes().get(at + 3..at + 5).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)));
    if double_encoded {
        return Err(ProxyError::InvalidPath("double-encoded escapes (`%25XX`) are not accepted"));
    }
    // Overlong forms (`%C0%AF` for `/`) and other invalid UTF-8 read differently in
    // every decoder, and no claim can equal them.
    if percent_decode_str(&out).decode_utf8().is_err() {
        return Err(ProxyError::InvalidPath("escapes must decode to UTF-8"));
    }
    Ok(out)
}

/// Escapes whose meaning differs between servers (an encoded dot, slash or backslash)
/// or that no path should hold.
fn check_decoded(value: u8) -> Result<(), ProxyError> {
    match value {
        b'.' => Err(ProxyError::InvalidPath("encoded dots (`%2e`) are not accepted")),
        b'/' => Err(ProxyError::InvalidPath("encoded slashes (`%2f`) are not accepted")),
        b'\\' => Err(ProxyError::InvalidPath("encoded backslashes (`%5c`) are not accepted")),
        b';' => Err(ProxyError::InvalidPath("encoded `;` is not accepted")),
        0 => Err(ProxyError::InvalidPath("NUL is not accepted in paths")),
        _ => Ok(()),
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'~')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> String {
        let path = CanonicalPath::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
        CanonicalPath::join(path.segments(), path.has_trailing_slash())
    }

    #[test]
    fn canonical_spelling_is_unique() {
        assert_eq!(ok("/employees/4721"), "/employees/4721");
        assert_eq!(ok("/employees/%34%37%32%31"), "/employees/4721");
        assert_eq!(ok("/a%2ab/c%7e"), "/a%2Ab/c~");
        assert_eq!(ok("/files/"), "/files/");
        assert_eq!(ok("/100%25"), "/100%25");
        assert_eq!(ok(""), "/");
        assert_eq!(ok("/caf%C3%A9"), "/caf%C3%A9");
    }

    #[test]
    fn ambiguous_paths_are_rejected() {
        for raw in [
            "/a/../b",
            "/a/./b",
            "/a/%2e%2e/b",
            "/a/%2E/b",
            "/a/.%2e/b",
            "/a%2fb",
            "/a%2Fb",
            "/a%5cb",
            "/a\\b",
            "/a;x=1",
            "/a%3bx",
            "/a//b",
            "//a",
            "/a%00",
            "/a%",
            "/a%zz",
            "/a%4",
            "/a%252e",
            "/a%252F",
            "/a%25%32%65",
            "/a%+1",
            "/a%-1",
            "/a%C0%AF",
            "/a%C0%AE",
            "/a%E0%80%AF",
            "/a%FF",
            "/a%C3",
        ] {
            assert!(CanonicalPath::parse(raw).is_err(), "{raw} should be rejected");
        }
    }
}
