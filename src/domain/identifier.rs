//! Identifiers as people type them (or key them in on a phone keypad) become one
//! canonical form, used both when records are imported and when someone identifies.

pub const MAX_IDENTIFIER_CHARS: usize = 128;

/// Trims, drops spaces, dashes and dots, upper-cases, and drops a keypad's trailing `#`.
/// `"12.345.678-z "` and `"12345678Z#"` are the same identifier.
pub fn normalize(raw: &str) -> Option<String> {
    let value: String = raw
        .trim()
        .trim_end_matches('#')
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '.'))
        .flat_map(char::to_uppercase)
        .collect();
    let valid =
        !value.is_empty() && value.chars().count() <= MAX_IDENTIFIER_CHARS && !value.chars().any(char::is_control);
    valid.then_some(value)
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn normalization_table() {
        for (raw, canonical) in [
            ("4721", Some("4721")),
            (" 4721# ", Some("4721")),
            ("12.345.678-z", Some("12345678Z")),
            ("ab 12", Some("AB12")),
            ("", None),
            ("  # ", None),
            ("a\u{0}b", None),
        ] {
            assert_eq!(normalize(raw).as_deref(), canonical, "{raw:?}");
        }
        assert!(normalize(&"9".repeat(129)).is_none());
    }
}
