//! The dialog's answer to one message, as the messages endpoint returns it and the
//! keypad renderer speaks it.
use serde::Serialize;

use super::{Outcome, Step};
use crate::config::FlowConfig;
use crate::domain::ConversationState;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Answer {
    /// The conversation's state object of §5 (`state`, and with `authenticated` the
    /// subject, session and token fields).
    #[serde(flatten)]
    pub state: ConversationState,
    pub step: Step,
    pub replies: Vec<Reply>,
    /// What the next message should carry; null once the dialog is done.
    pub expect: Option<Expect>,
    pub outcome: Option<Outcome>,
    pub redirect: Option<Redirect>,
    /// The language the replies are in.
    pub locale: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Reply {
    /// The text resource, e.g. `login.otp.sms.sent.message`.
    pub key: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Expect {
    /// `text`, or `dtmf` for a keypad.
    pub input: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digits: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finish_on_key: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Redirect {
    pub intent: String,
}

/// What the next message should carry at `step`.
pub fn expect(step: Step, keypad: bool, code_length: usize) -> Option<Expect> {
    let digits = match step {
        Step::Done => return None,
        Step::AskCode => Some(code_length),
        Step::ConfirmChannelNumber if keypad => Some(1),
        _ => None,
    };
    Some(match keypad {
        true => Expect { input: "dtmf", digits, finish_on_key: Some("#") },
        false => Expect { input: "text", digits: digits.filter(|_| step == Step::AskCode), finish_on_key: None },
    })
}

/// Where a login goes (seed 004): without terms to check, the intent asked for before
/// login or the flow's `after_login_intent`; with them, that when they are accepted and
/// the flow's `terms_intent` when they are not.
pub fn redirect(flow: &FlowConfig, requested: Option<String>, terms_accepted: Option<bool>) -> Option<Redirect> {
    let intent = match terms_accepted {
        Some(false) => flow.terms_intent.clone(),
        _ => requested.or_else(|| flow.after_login_intent.clone()),
    };
    intent.map(|intent| Redirect { intent })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keypads_are_told_how_many_keys() {
        assert_eq!(expect(Step::Done, true, 6), None);
        assert_eq!(
            expect(Step::AskCode, true, 6),
            Some(Expect { input: "dtmf", digits: Some(6), finish_on_key: Some("#") })
        );
        assert_eq!(
            expect(Step::AskCode, false, 6),
            Some(Expect { input: "text", digits: Some(6), finish_on_key: None })
        );
        assert_eq!(
            expect(Step::AskIdentifier, true, 6),
            Some(Expect { input: "dtmf", digits: None, finish_on_key: Some("#") })
        );
        assert_eq!(expect(Step::ConfirmChannelNumber, true, 6).and_then(|e| e.digits), Some(1));
        assert_eq!(expect(Step::ConfirmChannelNumber, false, 6).and_then(|e| e.digits), None);
    }

    #[test]
    fn terms_decide_between_the_requested_intent_and_terms_intent() {
        let mut flow = FlowConfig::new("payroll", "employees", "employee_number");
        flow.terms_intent = Some("intent.onboarding.terms-and-conditions".into());
        flow.after_login_intent = Some("intent.home".into());
        let intent = |r: Option<Redirect>| r.map(|r| r.intent);
        assert_eq!(
            intent(redirect(&flow, Some("intent.billing".into()), Some(true))).as_deref(),
            Some("intent.billing")
        );
        assert_eq!(intent(redirect(&flow, None, Some(true))).as_deref(), Some("intent.home"));
        assert_eq!(
            intent(redirect(&flow, Some("intent.billing".into()), Some(false))).as_deref(),
            Some("intent.onboarding.terms-and-conditions")
        );
        assert_eq!(intent(redirect(&flow, Some("intent.billing".into()), None)).as_deref(), Some("intent.billing"));
        flow.after_login_intent = None;
        assert_eq!(redirect(&flow, None, None), None);
    }
}
