//! Checking the phone numbers and e-mail addresses taken from records, and writing
//! them the one way providers expect.
use super::Method;

/// The destination in canonical form (E.164 for phones), or `None` when `raw` is not a
/// valid address for `method`. Phones must carry their `+country` prefix: a record has
/// no region to guess one from.
pub fn normalize(method: Method, raw: &str) -> Option<String> {
    match method {
        Method::Sms | Method::Whatsapp => normalize_phone(raw),
        Method::Email => normalize_email(raw),
    }
}

fn normalize_phone(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if !raw.starts_with('+') || raw.len() > 32 {
        return None;
    }
    let number = phonenumber::parse(None, raw).ok().filter(phonenumber::is_valid)?;
    Some(number.format().mode(phonenumber::Mode::E164).to_string())
}

/// Syntax only (RFC 5321/5322 as lettre reads it); the domain is compared lowercase.
fn normalize_email(raw: &str) -> Option<String> {
    let address: lettre::Address = raw.trim().parse().ok()?;
    Some(format!("{}@{}", address.user(), address.domain().to_ascii_lowercase()))
}

/// The country calling code of a number already in E.164 form (`"+34..."` → `"34"`).
pub fn country_code(e164: &str) -> Option<String> {
    phonenumber::parse(None, e164).ok().map(|n| n.code().value().to_string())
}

/// A test-code key from the configuration, in the same canonical form as destinations.
pub fn normalize_any(raw: &str) -> Option<String> {
    if raw.trim_start().starts_with('+') { normalize_phone(raw) } else { normalize_email(raw) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_become_e164_and_invalid_ones_are_refused() {
        for (raw, expected) in [
            ("+34665762878", Some("+34665762878")),
            ("+34 665 76 28 78", Some("+34665762878")),
            ("+1 (202) 555-0143", Some("+12025550143")),
            ("665762878", None),
            ("+34 12", None),
            ("+999 1234567", None),
            ("call me", None),
        ] {
            assert_eq!(normalize(Method::Sms, raw).as_deref(), expected, "{raw}");
        }
        assert_eq!(country_code("+34665762878").as_deref(), Some("34"));
        assert_eq!(country_code("+12025550143").as_deref(), Some("1"));
    }

    #[test]
    fn emails_are_checked_by_syntax() {
        assert_eq!(normalize(Method::Email, "Ana.Ruiz@Corp.Example").as_deref(), Some("Ana.Ruiz@corp.example"));
        for bad in ["not-an-address", "a@", "@corp.example", "a b@corp.example", "a@corp..example"] {
            assert_eq!(normalize(Method::Email, bad), None, "{bad}");
        }
    }
}
