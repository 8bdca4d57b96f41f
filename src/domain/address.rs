//! A conversation's address, checked once where it enters (the HTTP path, the OTP grant's
//! `conversation` field) and trusted everywhere after.

/// `(client, channel, conversation id)`: a conversation belongs to the bot client that
/// opened it, so no client can see or act on another's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    pub client_id: String,
    pub channel: String,
    pub external_id: String,
}

/// "Printable", as a conversation id must be: no control characters (Cc), no format
/// characters (Cf: bidi overrides like U+202E, the byte-order mark U+FEFF, zero-width
/// spaces) and no line or paragraph separators (Zl, Zp). Such characters show as nothing
/// or reorder what follows, so two ids that look the same could differ and a log line
/// could be made to lie. Every way in (a path, the proxy's `X-Doorman-Conversation`, the
/// OTP grant's `conversation`) is checked by this one rule.
pub fn is_printable(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    !matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

const MAX_CHANNEL_CHARS: usize = 32;
const MAX_CONVERSATION_ID_CHARS: usize = 256;

impl Address {
    /// The conversation address, checked: channels are short lowercase names, ids are
    /// printable and bounded.
    pub fn checked(client_id: &str, channel: String, id: String) -> Result<Self, &'static str> {
        let channel_ok = !channel.is_empty()
            && channel.len() <= MAX_CHANNEL_CHARS
            && channel.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !channel_ok {
            return Err("channel must be 1 to 32 characters of a-z, 0-9, - and _");
        }
        if id.is_empty() || id.chars().count() > MAX_CONVERSATION_ID_CHARS || !id.chars().all(is_printable) {
            return Err("conversation id must have 1 to 256 printable characters");
        }
        Ok(Address { client_id: client_id.to_string(), channel, external_id: id })
    }

    pub fn label(&self) -> String {
        format!("{}:{}", self.channel, self.external_id)
    }
}

#[cfg(test)]
mod tests {
    use super::Address;

    #[test]
    fn channels_and_ids_are_checked() {
        assert!(Address::checked("bot", "whatsapp".into(), "+34600000001".into()).is_ok());
        assert!(Address::checked("bot", "WhatsApp".into(), "x".into()).is_err());
        assert!(Address::checked("bot", "".into(), "x".into()).is_err());
        assert!(Address::checked("bot", "sms".into(), "".into()).is_err());
        assert!(Address::checked("bot", "sms".into(), "a\nb".into()).is_err());
        assert!(Address::checked("bot", "sms".into(), "9".repeat(257)).is_err());
        let address = Address::checked("bot", "voice".into(), "CA12".into()).unwrap();
        assert_eq!(address.label(), "voice:CA12");
    }
}
