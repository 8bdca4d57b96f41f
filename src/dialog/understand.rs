//! Finding what the dialog asked for inside what a person wrote: people answer "My number
//! is 4721." rather than "4721", and the dialog must take the one candidate there is, or
//! say why it cannot (none, or several to choose from).
use super::format::IdentifierFormat;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    One(String),
    None,
    Several,
}

impl Found {
    /// The same candidate twice ("4721, yes 4721") is still one answer.
    fn from_candidates(candidates: impl IntoIterator<Item = String>) -> Found {
        let mut found = Found::None;
        for candidate in candidates {
            match &found {
                Found::None => found = Found::One(candidate),
                Found::One(first) if *first == candidate => {}
                _ => return Found::Several,
            }
        }
        found
    }
}

/// The identifier inside a person's message: "My number is 4721." → One("4721");
/// "4721 or 4722" → Several; "hello" → None (for any format but `any`). Candidates are the
/// message's tokens (split on whitespace, surrounding punctuation trimmed; for Phone,
/// sequences like "+34 665 76 28 78" or "665-762-878" joined into one number; for Email the
/// token with @). With Any: a one-token message is the identifier; otherwise tokens
/// containing a digit; exactly one → it, else None/Several.
pub fn identifier_in(text: &str, format: &IdentifierFormat) -> Found {
    let tokens = || text.split_whitespace().map(trim).filter(|token| !token.is_empty());
    match format {
        IdentifierFormat::Any => match tokens().collect::<Vec<_>>().as_slice() {
            [only] => Found::One(only.to_string()),
            many => Found::from_candidates(
                many.iter().filter(|t| t.chars().any(|c| c.is_ascii_digit())).map(|t| t.to_string()),
            ),
        },
        IdentifierFormat::Phone => Found::from_candidates(phone_numbers(text).filter(|n| format.matches(n))),
        IdentifierFormat::Regex(_) => {
            // A pattern may itself hold spaces or edge punctuation ("AB 1234", "#42"):
            // the whole message and the untrimmed tokens are candidates too.
            let whole = text.trim();
            if format.matches(whole) {
                return Found::One(whole.to_string());
            }
            Found::from_candidates(
                text.split_whitespace()
                    .map(|raw| if format.matches(raw) { raw } else { trim(raw) })
                    .filter(|token| format.matches(token))
                    .map(str::to_string),
            )
        }
        IdentifierFormat::Digits | IdentifierFormat::Email => {
            Found::from_candidates(tokens().filter(|token| format.matches(token)).map(str::to_string))
        }
    }
}

/// The code inside a message: exactly one run of exactly `length` digits; spaces or dashes
/// inside a code typed like "483 921" or "483-921" are tolerated when the whole message is
/// the code. "The code is 483921." → One; "483921 or 123456" → Several; "12345" → None.
pub fn code_in(text: &str, length: usize) -> Found {
    let whole: String = trim(text.trim()).chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if whole.len() == length && whole.bytes().all(|b| b.is_ascii_digit()) {
        return Found::One(whole);
    }
    let runs = text.split(|c: char| !c.is_ascii_digit()).filter(|run| run.len() == length);
    Found::from_candidates(runs.map(str::to_string))
}

/// Keypad input: digits only, a trailing `#` removed; `*` alone is a command (handled by
/// the caller), so it and anything else that is not digits is None.
pub fn keypad_digits(digits: &str) -> Option<String> {
    let digits = digits.trim();
    let digits = digits.strip_suffix('#').unwrap_or(digits);
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.to_string())
}

/// A token without the punctuation around it ("4721.", "¿4721?", "<ana@example.com>"),
/// keeping a leading `+` that starts an international number.
fn trim(token: &str) -> &str {
    let end = token.trim_end_matches(|c: char| !c.is_alphanumeric());
    let start = end.trim_start_matches(|c: char| !c.is_alphanumeric() && c != '+');
    let plus_stripped = start.trim_start_matches('+');
    if plus_stripped.starts_with(|c: char| c.is_ascii_digit()) && start.len() - plus_stripped.len() == 1 {
        start
    } else {
        plus_stripped
    }
}

/// Phone numbers as people type them: consecutive tokens made of digits and `+ - ( ) .`
/// are one number ("+34 665 76 28 78", "(665) 762-878"); a word or a `,` `;` after a
/// token ends it, so "665762878, 600111222" is two numbers, not one too long.
fn phone_numbers(text: &str) -> impl Iterator<Item = String> {
    let mut numbers = Vec::new();
    let mut current = String::new();
    for raw in text.split_whitespace() {
        let piece = raw.trim_end_matches(['.', ',', ';', ':', '!', '?']);
        let ends_here = piece.len() < raw.len();
        let piece = piece.trim_start_matches(|c: char| !(c.is_ascii_digit() || c == '+' || c == '('));
        // A `+` only opens a number: "+34", "(+34)".
        let body = piece.trim_start_matches('(');
        let plus = body.starts_with('+');
        let is_piece = body.chars().any(|c| c.is_ascii_digit())
            && body.chars().all(|c| c.is_ascii_digit() || "+-().".contains(c))
            && !body[usize::from(plus)..].contains('+');
        if is_piece {
            if plus && !current.is_empty() {
                numbers.push(std::mem::take(&mut current));
            }
            if plus {
                current.push('+');
            }
            current.extend(piece.chars().filter(char::is_ascii_digit));
        }
        if (!is_piece || ends_here) && !current.is_empty() {
            numbers.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        numbers.push(current);
    }
    numbers.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Found {
        Found::One(text.to_string())
    }

    fn format(spelling: &str) -> IdentifierFormat {
        spelling.parse().unwrap_or_else(|e| panic!("{spelling}: {e}"))
    }

    #[test]
    fn identifiers_are_found_inside_sentences() {
        let cases: &[(&str, &str, Found)] = &[
            ("any", "My number is 4721.", one("4721")),
            ("any", "Mi número es 4721", one("4721")),
            ("any", "4721", one("4721")),
            ("any", "  E-4721!  ", one("E-4721")),
            ("any", "jgarcia", one("jgarcia")),
            ("any", "4721 or 4722", Found::Several),
            ("any", "hello there", Found::None),
            ("any", "", Found::None),
            ("any", "?!", Found::None),
            ("digits", "My number is 4721.", one("4721")),
            ("digits", "¿Es el 4721?", one("4721")),
            ("digits", "hello", Found::None),
            ("digits", "4721 or 4722", Found::Several),
            ("digits", "4721, yes, 4721", one("4721")),
            ("digits", "Employee E4721", Found::None),
            ("email", "It is ana.garcia@example.com.", one("ana.garcia@example.com")),
            ("email", "Mi correo es <ana@example.es>, gracias", one("ana@example.es")),
            ("email", "ana@example.com or ana@example.org", Found::Several),
            ("email", "ana at example dot com", Found::None),
            ("email", "@ana on twitter", Found::None),
            ("regex:[0-9]{8}[A-Z]", "Mi DNI es 12345678Z.", one("12345678Z")),
            ("regex:[0-9]{8}[A-Z]", "12345678z", Found::None),
            ("regex:[0-9]{8}[A-Z]", "12345678Z o 87654321X", Found::Several),
            ("regex:[0-9]{8}[A-Z]", "123456789Z", Found::None),
            ("regex:[A-Z]{2} [0-9]{4}", "AB 1234", one("AB 1234")),
            ("regex:#[0-9]+", "ticket #42 please", one("#42")),
        ];
        for (spelling, text, expected) in cases {
            assert_eq!(identifier_in(text, &format(spelling)), *expected, "{spelling} {text:?}");
        }
    }

    #[test]
    fn phone_numbers_are_joined_as_people_type_them() {
        let phone = IdentifierFormat::Phone;
        let cases: &[(&str, Found)] = &[
            ("+34 665 76 28 78", one("+34665762878")),
            ("Mi número es +34 665 76 28 78.", one("+34665762878")),
            ("665-762-878", one("665762878")),
            ("(665) 762-878", one("665762878")),
            ("(+34) 665.762.878", one("+34665762878")),
            ("+34665762892", one("+34665762892")),
            ("Tengo 2 hijos y mi móvil es 665762878", one("665762878")),
            ("665762878, 600111222", Found::Several),
            ("665 762 878 or 600 111 222", Found::Several),
            ("+34 665 762 878 +34 600 111 222", Found::Several),
            ("4721", Found::None),
            ("call me", Found::None),
            ("1234567890123456", Found::None),
        ];
        for (text, expected) in cases {
            assert_eq!(identifier_in(text, &phone), *expected, "{text:?}");
        }
    }

    #[test]
    fn codes_are_exactly_one_run_of_the_right_length() {
        let cases: &[(&str, usize, Found)] = &[
            ("483921", 6, one("483921")),
            ("The code is 483921.", 6, one("483921")),
            ("El código es 483921", 6, one("483921")),
            ("483 921", 6, one("483921")),
            ("483-921", 6, one("483921")),
            (" 483 921. ", 6, one("483921")),
            ("The code is 483 921", 6, Found::None),
            ("483921 or 123456", 6, Found::Several),
            ("483921, I said 483921", 6, one("483921")),
            ("12345", 6, Found::None),
            ("1234567", 6, Found::None),
            ("6789", 4, one("6789")),
            ("code 6789 for 2 people", 4, one("6789")),
            ("new code", 6, Found::None),
            ("", 6, Found::None),
        ];
        for (text, length, expected) in cases {
            assert_eq!(code_in(text, *length), *expected, "{text:?} / {length}");
        }
    }

    #[test]
    fn keypad_input_is_digits_with_an_optional_final_pound() {
        let cases: &[(&str, Option<&str>)] = &[
            ("4721#", Some("4721")),
            ("4721", Some("4721")),
            ("483921#", Some("483921")),
            ("*", None),
            ("#", None),
            ("", None),
            ("47*21#", None),
            ("4721##", None),
            ("#4721", None),
        ];
        for (digits, expected) in cases {
            assert_eq!(keypad_digits(digits).as_deref(), *expected, "{digits:?}");
        }
    }
}
