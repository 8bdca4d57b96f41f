//! "Printable" conversation ids at the HTTP edge: the rule is
//! [`crate::domain::is_printable`]; here it names the character it refuses and becomes
//! the OpenAPI document's pattern.
use std::fmt::Write;
use std::sync::LazyLock;

pub use crate::domain::is_printable;
use utoipa::openapi::schema::{ObjectBuilder, Type};

/// What the README and `Address::checked` promise.
pub const MAX_CONVERSATION_ID_CHARS: usize = 256;

/// The first character of `text` that is not printable.
pub fn first_unprintable(text: &str) -> Option<char> {
    text.chars().find(|c| !is_printable(*c))
}

/// The conversation id in the OpenAPI document, its pattern built from [`is_printable`]
/// itself so that the document cannot say anything else than the server checks.
pub fn conversation_id_schema() -> utoipa::openapi::Object {
    static PATTERN: LazyLock<String> = LazyLock::new(|| pattern(MAX_CONVERSATION_ID_CHARS));
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(MAX_CONVERSATION_ID_CHARS))
        .pattern(Some(PATTERN.as_str()))
        .build()
}

/// `^[^<every refused character>]{1,max}$`, in the subset of regular expressions that
/// both ECMA-262 (JSON Schema's dialect) and Python's `re` (the fuzzer's) read alike:
/// `\uXXXX` escapes in the Basic Multilingual Plane, literal characters above it.
/// Surrogates are not characters (no UTF-8 string holds one), so the class leaves them out.
fn pattern(max: usize) -> String {
    let refused = |cp: u32| char::from_u32(cp).is_some_and(|c| !is_printable(c));
    let mut class = String::new();
    let mut run: Option<u32> = None;
    for cp in 0..=0x11_0000u32 {
        let inside = cp <= 0x10_FFFF && refused(cp);
        match (inside, run) {
            (true, None) => run = Some(cp),
            (false, Some(first)) => {
                push_range(&mut class, first, cp - 1);
                run = None;
            }
            _ => {}
        }
    }
    format!("^[^{class}]{{1,{max}}}$")
}

fn push_range(class: &mut String, first: u32, last: u32) {
    push_code_point(class, first);
    if last > first {
        class.push('-');
        push_code_point(class, last);
    }
}

fn push_code_point(class: &mut String, cp: u32) {
    match char::from_u32(cp) {
        Some(c) if cp > 0xFFFF => class.push(c),
        _ => {
            let _ = write!(class, "\\u{cp:04X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_and_control_characters_are_not_printable() {
        for c in ['\u{0}', '\n', '\u{7f}', '\u{85}', '\u{202e}', '\u{feff}', '\u{200b}', '\u{2028}', '\u{e0001}'] {
            assert!(!is_printable(c), "U+{:04X}", c as u32);
        }
        for c in ['a', ' ', '+', '/', '%', 'é', '中', '😀', '\u{e000}'] {
            assert!(is_printable(c), "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn the_pattern_refuses_exactly_what_the_rule_refuses() {
        let pattern = pattern(256);
        assert!(pattern.starts_with("^[^\\u0000-\\u001F\\u007F-\\u009F"), "{pattern}");
        assert!(pattern.contains("\\u2028-\\u202E") && pattern.contains("\\uFEFF"), "{pattern}");
        assert!(!pattern.contains("\\uD800"), "{pattern}");
        assert!(pattern.contains('\u{e0001}'), "{pattern}");
        assert!(pattern.ends_with("]{1,256}$"), "{pattern}");
        // Rust's regex spells `\uXXXX` as `\x{XXXX}`.
        let rust = regex::Regex::new(r"\\u([0-9A-F]{4})").unwrap().replace_all(&pattern, r"\x{${1}}").into_owned();
        let regex = regex::Regex::new(&rust).unwrap();
        for id in ["+34600000001", "CA12 34/5?#", "é中😀"] {
            assert!(regex.is_match(id), "{id}");
        }
        for id in ["", "a\u{202e}b", "\u{feff}x", "a\nb"] {
            assert!(!regex.is_match(id), "{id:?}");
        }
    }
}
