//! From what was heard, in the situation the conversation is in, to a plan: say something
//! (a prompt, a re-prompt), or run one effect with the domain. Pure.
use super::format::IdentifierFormat;
use super::understand::{Found, code_in, identifier_in};
use super::{Heard, Line, Outcome, Said, Step};
use crate::domain::memory::{Awaiting, DialogMemory};

/// Where the conversation stands in the domain (challenges and sessions are the truth).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Unidentified,
    Pending,
    Authenticated,
}

/// The flow's dialog settings, in the conversation's language.
#[derive(Debug, Clone)]
pub struct Rules<'a> {
    pub format: &'a IdentifierFormat,
    pub label: String,
    pub code_length: usize,
    pub max_prompts: u32,
}

#[derive(Debug, Clone)]
pub struct Situation<'a> {
    pub standing: Standing,
    /// The dialog's notes; None before its first message.
    pub memory: Option<&'a DialogMemory>,
    /// The conversation's own number, masked, when it may be offered (the flow offers
    /// it and it is the phone of exactly one record).
    pub channel_number: Option<String>,
    pub rules: Rules<'a>,
    /// The notes this message starts from (its flow, locale and intent applied).
    pub notes: DialogMemory,
}

/// One call into the domain; [`super::after`] turns its result into what is said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Identify(String),
    /// "Yes, use this number": identify the record whose phone the conversation is.
    IdentifyByChannelNumber,
    Verify(String),
    Resend,
    Cancel,
    /// Already signed in: fresh tokens for the live session.
    Tokens,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    Say(Said),
    Run(Effect),
}

pub fn advance(situation: &Situation, heard: Heard) -> Plan {
    match (situation.standing, heard) {
        (Standing::Authenticated, _) => Plan::Run(Effect::Tokens),
        (_, Heard::Cancel) => Plan::Run(Effect::Cancel),
        (Standing::Pending, heard) => at_code(situation, heard),
        (Standing::Unidentified, heard) => match situation.memory {
            None => first_message(situation, heard),
            Some(memory) if memory.awaiting == Awaiting::ChannelNumber => at_channel_number(situation, heard),
            Some(_) => at_identifier(situation, heard),
        },
    }
}

fn at_code(situation: &Situation, heard: Heard) -> Plan {
    let length = situation.rules.code_length;
    let code = match &heard {
        Heard::NewCode => return Plan::Run(Effect::Resend),
        Heard::Words(text) => code_in(text, length),
        Heard::Keys(keys) if keys.len() == length => Found::One(keys.clone()),
        _ => Found::None,
    };
    match code {
        Found::One(code) => Plan::Run(Effect::Verify(code)),
        Found::None | Found::Several => {
            let line = Line::new("login.otp.code.prompt").with("digits", length);
            Plan::Say(Said::ask(line, Step::AskCode, situation.notes.clone()))
        }
    }
}

/// The message that starts a dialog ("I want to check my payslip") is not an answer to
/// any question: it may already hold the identifier, and if not it is never counted.
fn first_message(situation: &Situation, heard: Heard) -> Plan {
    if let Some(number) = &situation.channel_number {
        let notes = DialogMemory { awaiting: Awaiting::ChannelNumber, ..situation.notes.clone() };
        let line = Line::new("login.otp.confirm.phone.number").with("destination", number);
        return Plan::Say(Said::ask(line, Step::ConfirmChannelNumber, notes));
    }
    match identifier(situation, &heard) {
        // Under `any` a greeting ("hello") would pass for an identifier: a first message
        // is taken as one only if it has a digit in it.
        Found::One(identifier)
            if !matches!(situation.rules.format, IdentifierFormat::Any)
                || identifier.chars().any(|c| c.is_ascii_digit()) =>
        {
            Plan::Run(Effect::Identify(identifier))
        }
        _ => Plan::Say(prompt(situation)),
    }
}

fn at_channel_number(situation: &Situation, heard: Heard) -> Plan {
    let answer = match &heard {
        Heard::Yes => Some(true),
        Heard::No => Some(false),
        Heard::Keys(keys) if keys == "1" => Some(true),
        Heard::Keys(keys) if keys == "2" => Some(false),
        _ => None,
    };
    match (answer, identifier(situation, &heard), &situation.channel_number) {
        (Some(true), _, Some(_)) => Plan::Run(Effect::IdentifyByChannelNumber),
        // Someone who types an identifier instead of yes or no has answered.
        (None, Found::One(identifier), _) => Plan::Run(Effect::Identify(identifier)),
        (None, _, Some(number)) => {
            let line = Line::new("login.otp.confirm.phone.number").with("destination", number);
            Plan::Say(Said::ask(line, Step::ConfirmChannelNumber, situation.notes.clone()))
        }
        // No, or the number is no longer one record's: ask for the identifier.
        _ => Plan::Say(prompt(situation)),
    }
}

fn at_identifier(situation: &Situation, heard: Heard) -> Plan {
    if matches!(heard, Heard::Nothing | Heard::NewCode) {
        return Plan::Say(prompt(situation));
    }
    match identifier(situation, &heard) {
        Found::One(identifier) => Plan::Run(Effect::Identify(identifier)),
        Found::None => Plan::Say(not_an_identifier(situation, "login.otp.identifier.invalid")),
        Found::Several => Plan::Say(not_an_identifier(situation, "login.otp.identifier.ambiguous")),
    }
}

fn identifier(situation: &Situation, heard: &Heard) -> Found {
    match heard {
        Heard::Words(text) => identifier_in(text, situation.rules.format),
        // A keypad entry is the whole answer, but it must still fit the format.
        Heard::Keys(keys) if situation.rules.format.matches(keys) => Found::One(keys.clone()),
        _ => Found::None,
    }
}

/// The question for the identifier, uncounted.
pub(super) fn prompt(situation: &Situation) -> Said {
    let notes = DialogMemory { awaiting: Awaiting::Identifier, ..situation.notes.clone() };
    Said::ask(prompt_line(situation), Step::AskIdentifier, notes)
}

fn prompt_line(situation: &Situation) -> Line {
    let key = match situation.rules.format {
        IdentifierFormat::Phone => "login.otp.phone.number",
        _ => "login.otp.identifier.prompt",
    };
    Line::new(key).with("identifier_label", &situation.rules.label)
}

/// An answer that holds no (single) identifier counts against `max_identifier_prompts`.
pub(super) fn not_an_identifier(situation: &Situation, key: &'static str) -> Said {
    let used = situation.notes.prompts_used + 1;
    if used >= situation.rules.max_prompts {
        return Said::end(Line::new("login.otp.too.many.phone.kos"), Outcome::Failed);
    }
    let notes = DialogMemory { awaiting: Awaiting::Identifier, prompts_used: used, ..situation.notes.clone() };
    Said::ask(Line::new(key).with("identifier_label", &situation.rules.label), Step::AskIdentifier, notes)
}
