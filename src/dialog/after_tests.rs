//! The pure core, driven without HTTP or a database: what is heard, planned and said.
use super::*;
use crate::delivery::Method;
use crate::dialog::format::IdentifierFormat;
use crate::dialog::{Effect, Heard, Plan, Rules, Situation, Standing, advance};
use crate::domain::memory::{Awaiting, DialogMemory};

fn situation<'a>(standing: Standing, memory: Option<&'a DialogMemory>, format: &'a IdentifierFormat) -> Situation<'a> {
    Situation {
        standing,
        memory,
        channel_number: None,
        rules: Rules { format, label: "employee number".into(), code_length: 6, max_prompts: 3 },
        notes: memory.cloned().unwrap_or_default(),
    }
}

fn said(plan: Plan) -> Said {
    match plan {
        Plan::Say(said) => said,
        Plan::Run(effect) => panic!("expected words, got {effect:?}"),
    }
}

fn pending(method: Method) -> ConversationState {
    ConversationState::Pending {
        flow: "payroll".into(),
        challenge: ChallengeView {
            id: "c".into(),
            method,
            destination: "***78".into(),
            expires_in: 300,
            attempts_remaining: 3,
            sends_remaining: 2,
        },
    }
}

#[test]
fn a_first_message_with_an_identifier_identifies_at_once() {
    let any = IdentifierFormat::Any;
    let s = situation(Standing::Unidentified, None, &any);
    assert_eq!(advance(&s, Heard::Words("My number is 4721.".into())), Plan::Run(Effect::Identify("4721".into())));
    assert_eq!(said(advance(&s, Heard::Words("hello".into()))).lines[0].key, "login.otp.identifier.prompt");
    let phone = IdentifierFormat::Phone;
    let s = situation(Standing::Unidentified, None, &phone);
    assert_eq!(said(advance(&s, Heard::Nothing)).lines[0].key, "login.otp.phone.number", "a phone flow's prompt");
}

#[test]
fn the_code_step_takes_codes_commands_and_nothing_else() {
    let any = IdentifierFormat::Any;
    let memory = DialogMemory::default();
    let s = situation(Standing::Pending, Some(&memory), &any);
    assert_eq!(advance(&s, Heard::Words("The code is 483921.".into())), Plan::Run(Effect::Verify("483921".into())));
    assert_eq!(advance(&s, Heard::Keys("483921".into())), Plan::Run(Effect::Verify("483921".into())));
    assert_eq!(advance(&s, Heard::NewCode), Plan::Run(Effect::Resend));
    assert_eq!(advance(&s, Heard::Cancel), Plan::Run(Effect::Cancel));
    let reprompt = said(advance(&s, Heard::Words("483921 or 123456".into())));
    assert_eq!((reprompt.lines[0].key, reprompt.step), ("login.otp.code.prompt", Step::AskCode));
    assert_eq!(advance(&situation(Standing::Authenticated, None, &any), Heard::Cancel), Plan::Run(Effect::Tokens));
}

#[test]
fn the_channel_number_question_takes_yes_no_and_keys() {
    let any = IdentifierFormat::Any;
    let memory = DialogMemory { awaiting: Awaiting::ChannelNumber, ..Default::default() };
    let mut s = situation(Standing::Unidentified, Some(&memory), &any);
    s.channel_number = Some("***78".into());
    assert_eq!(advance(&s, Heard::Yes), Plan::Run(Effect::IdentifyByChannelNumber));
    assert_eq!(advance(&s, Heard::Keys("1".into())), Plan::Run(Effect::IdentifyByChannelNumber));
    assert_eq!(said(advance(&s, Heard::No)).lines[0].key, "login.otp.identifier.prompt");
    assert_eq!(
        said(advance(&s, Heard::Words("what do you mean".into()))).lines[0].key,
        "login.otp.confirm.phone.number"
    );
}

#[test]
fn domain_answers_become_replies() {
    let any = IdentifierFormat::Any;
    let memory = DialogMemory::default();
    let s = situation(Standing::Pending, Some(&memory), &any);
    let verify = Effect::Verify("000000".into());
    let r = after(&s, &verify, Err(FlowError::InvalidCode { attempts_remaining: 1 })).unwrap();
    assert_eq!(
        (r.lines[0].key, r.lines[0].args.clone()),
        ("login.otp.code.invalid", vec![("attempts_remaining", "1".into())])
    );
    let r = after(&s, &verify, Err(FlowError::TooManyAttempts)).unwrap();
    assert_eq!((r.outcome, r.memory), (Some(Outcome::Failed), None), "a failed dialog is forgotten");
    let r = after(&s, &Effect::Identify("4721".into()), Ok(pending(Method::Email))).unwrap();
    assert_eq!(r.lines[0].key, "login.otp.email.sent.message");
    assert_eq!(r.lines[0].args, vec![("destination", "***78".into()), ("minutes", "5".into())]);
    let r = after(&s, &Effect::Resend, Err(FlowError::ResendTooSoon { retry_after: 12 })).unwrap();
    assert_eq!(r.lines[0].args, vec![("seconds", "12".into())]);
    let r = after(&s, &Effect::Identify("4721".into()), Err(FlowError::Locked { retry_after: 61 })).unwrap();
    assert_eq!((r.lines[0].key, r.lines[0].args.clone()), ("login.otp.locked", vec![("minutes", "2".into())]));
    assert!(after(&s, &verify, Err(FlowError::UnknownFlow)).is_err(), "the bot's mistakes stay errors");
}

#[test]
fn answers_without_an_identifier_are_counted_until_the_limit() {
    let digits: IdentifierFormat = "digits".parse().unwrap();
    let memory = DialogMemory { prompts_used: 1, ..Default::default() };
    let s = situation(Standing::Unidentified, Some(&memory), &digits);
    let r = said(advance(&s, Heard::Words("no idea".into())));
    assert_eq!((r.lines[0].key, r.memory.map(|m| m.prompts_used)), ("login.otp.identifier.invalid", Some(2)));
    let memory = DialogMemory { prompts_used: 2, ..Default::default() };
    let s = situation(Standing::Unidentified, Some(&memory), &digits);
    let r = said(advance(&s, Heard::Words("4721 4722".into())));
    assert_eq!((r.lines[0].key, r.outcome), ("login.otp.too.many.phone.kos", Some(Outcome::Failed)));
    assert_eq!(said(advance(&s, Heard::Nothing)).lines[0].key, "login.otp.identifier.prompt", "silence is not counted");
}
