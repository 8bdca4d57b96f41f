//! Path parameters as sent, before anything decodes them: every `%` must start a
//! two-hex-digit escape (`%zz` and a lone `%` are not passed on as text), and the decoded
//! bytes must be UTF-8 (`%C0%AF`, an overlong `/`, or a cut `%C3`, are refused, not
//! replaced).
use axum::extract::MatchedPath;
use axum::http::request::Parts;
use percent_encoding::percent_decode_str;

use crate::http::error::ApiError;

/// Checks each `{name}` of the matched route against the same segment of the raw path.
/// A value never holds a raw `/` (that is `%2F`), so segments line up one to one.
pub fn check_raw_params(parts: &Parts) -> Result<(), ApiError> {
    let Some(route) = parts.extensions.get::<MatchedPath>() else {
        return Ok(());
    };
    for (segment, raw) in route.as_str().split('/').zip(parts.uri.path().split('/')) {
        let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
            continue;
        };
        if name.starts_with('*') {
            continue;
        }
        check_raw(name, raw)?;
    }
    Ok(())
}

fn check_raw(name: &str, raw: &str) -> Result<(), ApiError> {
    let bytes = raw.as_bytes();
    let escapes_ok = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'%')
        .all(|(i, _)| bytes.get(i + 1..i + 3).is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)));
    if !escapes_ok {
        return Err(ApiError::InvalidRequest(format!(
            "{name} has a malformed percent-escape: `%` must be followed by two hex digits (`%25` for `%` itself)"
        )));
    }
    if percent_decode_str(raw).decode_utf8().is_err() {
        return Err(ApiError::InvalidRequest(format!("{name} is not UTF-8 once percent-decoded")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_raw;

    #[test]
    fn escapes_must_be_whole_and_decode_to_utf8() {
        for raw in ["c1", "%2B34%20600", "a%25b", "%E2%82%AC", "%F0%9F%98%80"] {
            assert!(check_raw("id", raw).is_ok(), "{raw}");
        }
        for raw in ["%", "a%", "%2", "%zz", "%%41", "%C0%AF", "%FF", "%C3", "%E0%80%AF", "%ED%A0%80"] {
            assert!(check_raw("id", raw).is_err(), "{raw}");
        }
    }
}
