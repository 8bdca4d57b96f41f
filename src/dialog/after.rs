//! From the domain's answer to an effect to what the person is told. Everything the
//! person got wrong becomes a reply; only what the bot got wrong (an unknown flow, a
//! flow it may not use) or a server fault stays an error. Pure.
use super::advance::{not_an_identifier, prompt};
use super::{Effect, Line, Outcome, Said, Situation, Step};
use crate::delivery::Method;
use crate::domain::memory::{Awaiting, DialogMemory};
use crate::domain::{ChallengeView, ConversationState, FlowError};

pub fn after(
    situation: &Situation,
    effect: &Effect,
    result: Result<ConversationState, FlowError>,
) -> Result<Said, FlowError> {
    let state = match result {
        Ok(state) => state,
        Err(refusal) => return refused(situation, effect, refusal),
    };
    Ok(match (effect, state) {
        (Effect::Cancel, _) => Said::end(Line::new("login.otp.cancelled"), Outcome::Cancelled),
        (_, ConversationState::Authenticated { .. }) if matches!(effect, Effect::Tokens) => already_signed_in(),
        (_, ConversationState::Authenticated { .. }) => {
            Said::end(Line::new("login.otp.success"), Outcome::Authenticated)
        }
        (Effect::Resend, ConversationState::Pending { challenge, .. }) => code_sent(situation, &challenge, true),
        (_, ConversationState::Pending { challenge, .. }) => code_sent(situation, &challenge, false),
        (_, ConversationState::Unidentified) => prompt(situation),
    })
}

fn already_signed_in() -> Said {
    Said::end(Line::new("login.otp.already.signin"), Outcome::AlreadyAuthenticated)
}

fn code_sent(situation: &Situation, challenge: &ChallengeView, again: bool) -> Said {
    let key = match (again, challenge.method) {
        (true, _) => "login.otp.resent",
        (false, Method::Email) => "login.otp.email.sent.message",
        (false, _) => "login.otp.sms.sent.message",
    };
    let line =
        Line::new(key).with("destination", &challenge.destination).with("minutes", minutes(challenge.expires_in));
    let notes = DialogMemory { awaiting: Awaiting::Identifier, prompts_used: 0, ..situation.notes.clone() };
    Said::ask(line, Step::AskCode, notes)
}

fn minutes(seconds: u64) -> u64 {
    seconds.div_ceil(60).max(1)
}

fn at_code(situation: &Situation, line: Line) -> Said {
    Said::ask(line, Step::AskCode, situation.notes.clone())
}

fn refused(situation: &Situation, effect: &Effect, refusal: FlowError) -> Result<Said, FlowError> {
    use FlowError as F;
    let identifying = matches!(effect, Effect::Identify(_) | Effect::IdentifyByChannelNumber);
    Ok(match refusal {
        F::AlreadyAuthenticated => already_signed_in(),
        F::Locked { retry_after } => {
            Said::end(Line::new("login.otp.locked").with("minutes", minutes(retry_after)), Outcome::Failed)
        }
        F::LockedUntilUnlocked => Said::end(Line::new("login.otp.locked.until.unlocked"), Outcome::Failed),
        F::UnknownIdentifier { attempts_remaining: 0 } => {
            Said::end(Line::new("login.otp.too.many.phone.kos"), Outcome::Failed)
        }
        F::UnknownIdentifier { attempts_remaining } => {
            let line = Line::new("login.otp.identifier.unknown")
                .with("identifier_label", &situation.rules.label)
                .with("attempts_remaining", attempts_remaining);
            let notes = DialogMemory { awaiting: Awaiting::Identifier, ..situation.notes.clone() };
            Said::ask(line, Step::AskIdentifier, notes)
        }
        // An identifier the dialog found but the domain refused as malformed (too long).
        F::InvalidRequest(_) if identifying => not_an_identifier(situation, "login.otp.identifier.invalid"),
        F::InvalidRequest(_) => {
            at_code(situation, Line::new("login.otp.code.prompt").with("digits", situation.rules.code_length))
        }
        F::InvalidCode { attempts_remaining } => {
            at_code(situation, Line::new("login.otp.code.invalid").with("attempts_remaining", attempts_remaining))
        }
        F::TooManyAttempts => Said::end(Line::new("login.otp.too.many.sms.kos"), Outcome::Failed),
        F::ExpiredCode => at_code(situation, Line::new("login.otp.code.expired")),
        F::ResendTooSoon { retry_after } => {
            at_code(situation, Line::new("login.otp.resend.too.soon").with("seconds", retry_after))
        }
        F::TooManySends | F::DestinationLimit { .. } | F::SendBudgetExhausted { .. } if identifying => {
            Said::end(Line::new("login.otp.too.many.sends"), Outcome::Failed)
        }
        F::TooManySends | F::DestinationLimit { .. } | F::SendBudgetExhausted { .. } => {
            at_code(situation, Line::new("login.otp.too.many.sends"))
        }
        F::NoDeliveryMethod | F::DestinationNotAllowed => {
            Said::end(Line::new("login.otp.no.delivery.method"), Outcome::Failed)
        }
        F::DeliveryFailed if identifying => {
            let notes = DialogMemory { awaiting: Awaiting::Identifier, ..situation.notes.clone() };
            Said::ask(Line::new("login.otp.delivery.failed"), Step::AskIdentifier, notes)
        }
        F::DeliveryFailed => at_code(situation, Line::new("login.otp.delivery.failed")),
        // The code went away under the dialog (a cancel elsewhere, a restart): start over.
        F::NoPendingChallenge | F::NotAuthenticated => prompt(situation),
        other => return Err(other),
    })
}

#[cfg(test)]
#[path = "after_tests.rs"]
mod tests;
