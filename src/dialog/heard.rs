//! What a message says before any step looks at it: a command, a yes or no, nothing, or
//! words and keys that may hold an identifier or a code.
use super::understand::keypad_digits;
use crate::texts::Texts;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// An empty message or an empty keypad entry: (re)start or repeat the question.
    Nothing,
    Cancel,
    NewCode,
    Yes,
    No,
    /// Free text, to search for an identifier or a code.
    Words(String),
    /// Keypad digits, `#` removed: the whole entry is the answer.
    Keys(String),
    /// Keypad input that is not digits.
    BadKeys,
}

/// Commands match in the conversation's language and in English, as the whole message.
pub fn hear(text: Option<&str>, digits: Option<&str>, texts: &Texts, language: &str) -> Heard {
    if let Some(digits) = digits {
        let digits = digits.trim();
        if digits.trim_end_matches('#') == "*" {
            return Heard::NewCode;
        }
        return match keypad_digits(digits) {
            Some(keys) => Heard::Keys(keys),
            None if digits.trim_end_matches('#').is_empty() => Heard::Nothing,
            None => Heard::BadKeys,
        };
    }
    let text = text.unwrap_or_default().trim();
    let command = |key| texts.is_command(language, key, text);
    if text.is_empty() {
        Heard::Nothing
    } else if command("login.otp.cancel.command") {
        Heard::Cancel
    } else if command("login.otp.newCode.command") {
        Heard::NewCode
    } else if command("login.otp.yes.command") {
        Heard::Yes
    } else if command("login.otp.no.command") {
        Heard::No
    } else {
        Heard::Words(text.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_words_and_keys() {
        let texts = Texts::builtin();
        let heard = |text: &str| hear(Some(text), None, &texts, "es");
        assert_eq!(heard("  "), Heard::Nothing);
        assert_eq!(heard("¡Cancelar!"), Heard::Cancel);
        assert_eq!(heard("cancel"), Heard::Cancel, "English works in a Spanish conversation");
        assert_eq!(heard("Nuevo código"), Heard::NewCode);
        assert_eq!(heard("Sí"), Heard::Yes);
        assert_eq!(heard("no."), Heard::No);
        assert_eq!(heard("cancel my order"), Heard::Words("cancel my order".into()));
        let keys = |digits: &str| hear(None, Some(digits), &texts, "en");
        assert_eq!(keys("4721#"), Heard::Keys("4721".into()));
        assert_eq!(keys("*"), Heard::NewCode);
        assert_eq!(keys("*#"), Heard::NewCode);
        assert_eq!(keys("#"), Heard::Nothing);
        assert_eq!(keys(""), Heard::Nothing);
        assert_eq!(keys("12a4"), Heard::BadKeys);
    }
}
