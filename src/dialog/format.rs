//! A flow's `identifier_format`: what an identifier looks like, parsed once from the
//! configuration (`any` · `digits` · `phone` · `email` · `regex:<pattern>`).
use std::fmt;
use std::str::FromStr;

use regex::Regex;

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum IdentifierFormat {
    #[default]
    Any,
    Digits,
    /// An international or national number: an optional `+` and 7 to 15 digits (E.164's most).
    Phone,
    Email,
    /// Matched against a whole candidate: the pattern is compiled as `^(?:pattern)$`.
    Regex(Regex),
}

#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("unknown identifier_format `{0}` (expected any, digits, phone, email or regex:<pattern>)")]
    Unknown(String),
    #[error("identifier_format `regex:{pattern}` is not a valid regular expression: {message}")]
    Regex { pattern: String, message: String },
}

const PREFIX: &str = "regex:";

impl FromStr for IdentifierFormat {
    type Err = FormatError;

    fn from_str(text: &str) -> Result<Self, FormatError> {
        match text {
            "any" => Ok(Self::Any),
            "digits" => Ok(Self::Digits),
            "phone" => Ok(Self::Phone),
            "email" => Ok(Self::Email),
            _ => {
                let pattern = text.strip_prefix(PREFIX).ok_or_else(|| FormatError::Unknown(text.to_string()))?;
                Regex::new(&format!("^(?:{pattern})$")).map(Self::Regex).map_err(|e| FormatError::Regex {
                    pattern: pattern.to_string(),
                    message: e.to_string().trim().replace('\n', " "),
                })
            }
        }
    }
}

impl TryFrom<String> for IdentifierFormat {
    type Error = FormatError;

    fn try_from(text: String) -> Result<Self, FormatError> {
        text.parse()
    }
}

/// The configuration's spelling, so a format can be logged or shown as it was written.
impl fmt::Display for IdentifierFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Regex(regex) => {
                let anchored = regex.as_str();
                let pattern = anchored.strip_prefix("^(?:").and_then(|p| p.strip_suffix(")$")).unwrap_or(anchored);
                write!(f, "{PREFIX}{pattern}")
            }
            other => f.write_str(other.describe()),
        }
    }
}

impl IdentifierFormat {
    /// The format's name: `any`, `digits`, `phone`, `email` or `regex`.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::Any => "any",
            Self::Digits => "digits",
            Self::Phone => "phone",
            Self::Email => "email",
            Self::Regex(_) => "regex",
        }
    }

    /// Whether `candidate`, as a whole, is an identifier of this format.
    pub fn matches(&self, candidate: &str) -> bool {
        match self {
            Self::Any => !candidate.is_empty(),
            Self::Digits => !candidate.is_empty() && candidate.bytes().all(|b| b.is_ascii_digit()),
            Self::Phone => {
                let digits = candidate.strip_prefix('+').unwrap_or(candidate);
                (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
            }
            Self::Email => is_email(candidate),
            Self::Regex(regex) => regex.is_match(candidate),
        }
    }
}

/// The shape of an address, not its deliverability: one `@`, something before it, and a
/// domain of dot-separated labels with no spaces.
fn is_email(candidate: &str) -> bool {
    let Some((local, domain)) = candidate.split_once('@') else { return false };
    let label_ok = |label: &str| !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '-');
    !local.is_empty()
        && !local.chars().any(|c| c.is_whitespace() || c == '@')
        && domain.contains('.')
        && domain.split('.').all(label_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_from_their_configuration_spelling() {
        for spelling in ["any", "digits", "phone", "email", "regex:[0-9]{8}[A-Z]"] {
            let format: IdentifierFormat = spelling.parse().unwrap_or_else(|e| panic!("{spelling}: {e}"));
            assert_eq!(format.to_string(), spelling);
        }
        assert!(matches!(IdentifierFormat::default(), IdentifierFormat::Any));
        let unknown = "Digits".parse::<IdentifierFormat>().err().map(|e| e.to_string());
        assert_eq!(
            unknown.as_deref(),
            Some("unknown identifier_format `Digits` (expected any, digits, phone, email or regex:<pattern>)")
        );
        let bad = "regex:[0-9".parse::<IdentifierFormat>().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(bad.starts_with("identifier_format `regex:[0-9` is not a valid regular expression: "), "{bad}");
    }

    #[test]
    fn formats_deserialize_from_a_string_and_reject_bad_ones() {
        #[derive(serde::Deserialize)]
        struct Flow {
            identifier_format: IdentifierFormat,
        }
        let flow: Flow = toml::from_str("identifier_format = \"regex:[A-Z]{3}\"").expect("a valid format");
        assert!(flow.identifier_format.matches("ABC"));
        let bad = toml::from_str::<Flow>("identifier_format = \"regex:(\"").err().map(|e| e.to_string());
        assert!(bad.is_some_and(|e| e.contains("not a valid regular expression")));
    }

    #[test]
    fn a_regex_matches_whole_candidates_only() {
        let tax_id: IdentifierFormat = "regex:[0-9]{8}[A-Z]".parse().expect("valid");
        assert!(tax_id.matches("12345678Z"));
        assert!(!tax_id.matches("012345678Z"));
        assert!(!tax_id.matches("12345678Z9"));
        // An alternation is anchored as a whole, not only its first branch.
        let either: IdentifierFormat = "regex:a|b".parse().expect("valid");
        assert!(either.matches("b") && !either.matches("ab") && !either.matches("bc"));
    }

    #[test]
    fn each_format_accepts_its_shape() {
        let cases: &[(IdentifierFormat, &str, bool)] = &[
            (IdentifierFormat::Digits, "4721", true),
            (IdentifierFormat::Digits, "47a1", false),
            (IdentifierFormat::Digits, "", false),
            (IdentifierFormat::Phone, "+34665762878", true),
            (IdentifierFormat::Phone, "665762878", true),
            (IdentifierFormat::Phone, "4721", false),
            (IdentifierFormat::Phone, "+3466576287812345", false),
            (IdentifierFormat::Phone, "6657+62878", false),
            (IdentifierFormat::Email, "ana.garcia@example.com", true),
            (IdentifierFormat::Email, "ana@example", false),
            (IdentifierFormat::Email, "@example.com", false),
            (IdentifierFormat::Email, "ana@example..com", false),
            (IdentifierFormat::Email, "ana@ex@ample.com", false),
            (IdentifierFormat::Any, "anything", true),
        ];
        for (format, candidate, expected) in cases {
            assert_eq!(format.matches(candidate), *expected, "{format} {candidate:?}");
        }
    }
}
