use super::Method;

/// What a person is shown of where the code went: a phone as `***` and its last two
/// digits, an e-mail as its first letter, `***` and the domain.
pub fn mask(method: Method, destination: &str) -> String {
    match method {
        Method::Email => match destination.rsplit_once('@') {
            Some((local, domain)) => {
                let first: String = local.chars().take(1).collect();
                format!("{first}***@{domain}")
            }
            None => "***".into(),
        },
        Method::Sms | Method::Whatsapp => {
            let digits: Vec<char> = destination.chars().filter(char::is_ascii_digit).collect();
            let tail: String = digits[digits.len().saturating_sub(2)..].iter().collect();
            format!("***{tail}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_table() {
        for (method, input, shown) in [
            (Method::Whatsapp, "+34665762878", "***78"),
            (Method::Sms, "+1 (555) 010-0199", "***99"),
            (Method::Sms, "7", "***7"),
            (Method::Email, "ana.ruiz@corp.example", "a***@corp.example"),
            (Method::Email, "not-an-address", "***"),
        ] {
            assert_eq!(mask(method, input), shown, "{input}");
        }
    }
}
