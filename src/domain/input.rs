//! What a bot sends, as types that are valid once built: a handler that holds a
//! `Code` or an `Identifier` holds a well-formed one, so no step re-checks it.
use super::{FlowError, identifier};

const MAX_FLOW_CHARS: usize = 64;
const MAX_LOCALE_CHARS: usize = 35;
/// More than any code has, so a pasted essay is refused without being scanned whole.
const MAX_CODE_INPUT_CHARS: usize = 64;

fn invalid(message: impl Into<String>) -> FlowError {
    FlowError::InvalidRequest(message.into())
}

/// A flow's name as a bot names it; whether it exists is the domain's question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowName(String);

impl FlowName {
    pub fn parse(raw: String) -> Result<Self, FlowError> {
        if raw.len() > MAX_FLOW_CHARS {
            return Err(invalid("flow name is too long"));
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A language tag like `en` or `es-ES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locale(String);

impl Locale {
    pub fn parse(raw: String) -> Result<Self, FlowError> {
        let tag_like = !raw.is_empty()
            && raw.len() <= MAX_LOCALE_CHARS
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !tag_like {
            return Err(invalid("locale must be a language tag like en or es-ES"));
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// An identifier in its canonical form (see [`identifier::normalize`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identifier(String);

impl Identifier {
    pub fn parse(raw: &str) -> Result<Self, FlowError> {
        identifier::normalize(raw).map(Self).ok_or_else(|| {
            invalid(format!("identifier must have 1 to {} printable characters", identifier::MAX_IDENTIFIER_CHARS))
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A code of exactly `length` digits. Keypads and people add spaces or dashes; nothing
/// else is forgiven.
#[derive(Clone, PartialEq, Eq)]
pub struct Code(String);

impl Code {
    pub fn parse(raw: &str, length: u32) -> Result<Self, FlowError> {
        let digits: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).take(MAX_CODE_INPUT_CHARS).collect();
        if digits.len() != length as usize || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(format!("code must be {length} digits")));
        }
        Ok(Self(digits))
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Codes stay out of logs, even debug ones.
impl std::fmt::Debug for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Code(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_forgive_spaces_and_dashes_only() {
        assert_eq!(Code::parse("483 921", 6).unwrap().into_string(), "483921");
        assert_eq!(Code::parse("483-921", 6).unwrap().into_string(), "483921");
        assert!(Code::parse("48392", 6).is_err());
        assert!(Code::parse("4839211", 6).is_err());
        assert!(Code::parse("48392a", 6).is_err());
        assert!(Code::parse("４８３９２１", 6).is_err(), "full-width digits are not ASCII digits");
        assert!(Code::parse(&"1".repeat(10_000), 6).is_err());
        assert_eq!(format!("{:?}", Code::parse("483921", 6).unwrap()), "Code(..)");
    }

    #[test]
    fn locales_flows_and_identifiers() {
        assert!(Locale::parse("es-ES".into()).is_ok());
        assert!(Locale::parse("en_GB".into()).is_ok());
        assert!(Locale::parse("es ES".into()).is_err());
        assert!(Locale::parse("".into()).is_err());
        assert!(Locale::parse("x".repeat(36)).is_err());
        assert!(FlowName::parse("payroll".into()).is_ok());
        assert!(FlowName::parse("f".repeat(65)).is_err());
        assert_eq!(Identifier::parse(" 4721# ").unwrap().as_str(), "4721");
        assert!(Identifier::parse(" # ").is_err());
    }
}
