//! Every text key doorman knows and the placeholders each one offers. A resource file may
//! use a key only if it is here, and a text only the placeholders its key offers: that is
//! what lets an operator's typo fail at start-up instead of reaching a person.

pub(super) struct Key {
    pub name: &'static str,
    pub offers: &'static [&'static str],
}

impl Key {
    /// Command keys hold `|`-separated words the person may send, not a text to send.
    pub fn is_command(&self) -> bool {
        self.name.ends_with(".command")
    }

    /// The placeholder whose number picks the plural form, if the key has one.
    pub fn count(&self) -> Option<&'static str> {
        COUNTS.iter().copied().find(|count| self.offers.contains(count))
    }
}

/// Suffixes a text key may carry for another rendering: `KEY.voice` is read on a phone
/// keypad call. A variant offers the same placeholders as its base key.
pub(super) const VARIANTS: &[&str] = &["voice"];

/// In order of preference when a key offers several (`login.otp.identifier.unknown` is
/// about attempts, not minutes).
const COUNTS: &[&str] = &["attempts_remaining", "seconds", "minutes"];

const NONE: &[&str] = &[];
const LABEL: &[&str] = &["identifier_label"];
const SENT: &[&str] = &["destination", "minutes"];

pub(super) const KEYS: &[Key] = &[
    Key { name: "login.otp.already.signin", offers: NONE },
    Key { name: "login.otp.confirm.phone.number", offers: &["destination"] },
    Key { name: "login.otp.identifier.prompt", offers: LABEL },
    Key { name: "login.otp.phone.number", offers: LABEL },
    Key { name: "login.otp.identifier.invalid", offers: LABEL },
    Key { name: "login.otp.identifier.ambiguous", offers: LABEL },
    Key { name: "login.otp.identifier.unknown", offers: &["identifier_label", "attempts_remaining"] },
    Key { name: "login.otp.too.many.phone.kos", offers: NONE },
    Key { name: "login.otp.sms.sent.message", offers: SENT },
    Key { name: "login.otp.email.sent.message", offers: SENT },
    Key { name: "login.otp.code.prompt", offers: &["digits"] },
    Key { name: "login.otp.code.invalid", offers: &["attempts_remaining"] },
    Key { name: "login.otp.too.many.sms.kos", offers: NONE },
    Key { name: "login.otp.code.expired", offers: NONE },
    Key { name: "login.otp.success", offers: NONE },
    Key { name: "login.otp.resent", offers: SENT },
    Key { name: "login.otp.resend.too.soon", offers: &["seconds"] },
    Key { name: "login.otp.too.many.sends", offers: NONE },
    Key { name: "login.otp.locked", offers: &["minutes"] },
    Key { name: "login.otp.locked.until.unlocked", offers: NONE },
    Key { name: "login.otp.delivery.failed", offers: NONE },
    Key { name: "login.otp.no.delivery.method", offers: NONE },
    Key { name: "login.otp.cancelled", offers: NONE },
    Key { name: "login.otp.cancel.command", offers: NONE },
    Key { name: "login.otp.newCode.command", offers: NONE },
    Key { name: "login.otp.yes.command", offers: NONE },
    Key { name: "login.otp.no.command", offers: NONE },
    Key { name: "otp.message", offers: &["code", "minutes"] },
    Key { name: "otp.subject", offers: NONE },
    Key { name: "voice.no.input", offers: NONE },
    Key { name: "voice.goodbye", offers: NONE },
    Key { name: "voice.error", offers: NONE },
];

/// The key a resource name stands for: a key itself, or `KEY.VARIANT` of a text key.
pub(super) fn lookup(name: &str) -> Option<&'static Key> {
    base(name).or_else(|| {
        let (key, variant) = name.rsplit_once('.')?;
        VARIANTS.contains(&variant).then(|| base(key)).flatten().filter(|key| !key.is_command())
    })
}

fn base(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|key| key.name == name)
}
