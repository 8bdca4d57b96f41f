//! One Twilio Voice request in the dialog's terms, and the dialog's answer in TwiML. Pure:
//! the handler in `http::voice` does the signature check and the calls into the dialog.
use super::twiml::{Gather, Speech, VoiceResponse};
use crate::config::VoiceConfig;
use crate::dialog::{Answer, Input, Outcome, Step};

/// Where Twilio posts a call's requests (the number's "A call comes in" webhook and every
/// Gather's `action`).
pub const WEBHOOK_PATH: &str = "/v1/voice/twilio";
/// Where the Redirect after a Gather that heard nothing goes: the webhook, marked.
const SILENCE_QUERY: &str = "silence=1";

/// The parameters doorman reads from a Twilio request (every one is signed, all are kept
/// for the signature check by the caller).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallParams {
    pub call_sid: Option<String>,
    /// Keys typed in the Gather, `#`/`*` included; absent on the call's first request.
    pub digits: Option<String>,
    pub call_status: Option<String>,
}

impl CallParams {
    /// A repeated name keeps its first value: Twilio never repeats these.
    pub fn from_pairs(pairs: &[(String, String)]) -> Self {
        let first = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        Self { call_sid: first("CallSid"), digits: first("Digits"), call_status: first("CallStatus") }
    }

    /// Twilio's final call statuses: nothing more will come from this call.
    pub fn call_has_ended(&self) -> bool {
        matches!(self.call_status.as_deref(), Some("completed" | "busy" | "failed" | "no-answer" | "canceled"))
    }
}

/// Whether the request is the Redirect that follows a Gather nobody typed into.
pub fn is_silence(query: Option<&str>) -> bool {
    query.is_some_and(|q| form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "silence" && v == "1"))
}

/// What the caller did: stayed silent, typed keys, or nothing yet (the call's first
/// request, which starts the dialog like an empty message).
pub fn input(silence: bool, digits: Option<&str>, max_silences: u32) -> Input {
    match (silence, digits) {
        (true, _) => Input::Silence { max: max_silences },
        (false, Some(digits)) => Input::Digits(digits.to_string()),
        (false, None) => Input::Text(String::new()),
    }
}

/// The dialog's answer as TwiML: a question inside a Gather, or the last words and then the
/// caller's way on (`next_url`) or a hang-up.
pub fn twiml(answer: &Answer, voice: &VoiceConfig, public_url: &str) -> VoiceResponse {
    let speech = speech(answer.replies.iter().map(|r| r.text.as_str()), voice, &answer.locale);
    match (answer.step, answer.outcome) {
        (Step::Done, Some(Outcome::Authenticated | Outcome::AlreadyAuthenticated)) => {
            VoiceResponse::SayAndRedirect { speech, url: voice.next_url.clone() }
        }
        (Step::Done, _) => VoiceResponse::SayAndHangUp { speech },
        _ => {
            let expect = answer.expect.as_ref();
            let webhook = format!("{public_url}{WEBHOOK_PATH}");
            let gather = Gather {
                num_digits: expect.and_then(|e| e.digits).and_then(|n| u32::try_from(n).ok()),
                finish_on_key: expect.and_then(|e| e.finish_on_key).unwrap_or("#").to_string(),
                timeout_secs: voice.gather_timeout_secs(),
                action: webhook.clone(),
                prompt: speech,
            };
            VoiceResponse::Ask { gather, on_silence: format!("{webhook}?{SILENCE_QUERY}") }
        }
    }
}

/// Texts spoken in `locale`'s configured language and voice.
pub fn speech<'a>(texts: impl IntoIterator<Item = &'a str>, voice: &VoiceConfig, locale: &str) -> Vec<Speech> {
    let (language, voice) = voice.speech_for(locale);
    texts
        .into_iter()
        .map(|text| Speech { text: text.to_string(), language: language.clone(), voice: voice.clone() })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialog::{Expect, Reply};
    use crate::domain::ConversationState;

    fn voice() -> VoiceConfig {
        toml::from_str("client = \"ivr-bot\"\nnext_url = \"https://ivr.example.com/after\"\ngather_timeout = \"7s\"\n")
            .unwrap()
    }

    fn answer(step: Step, outcome: Option<Outcome>, expect: Option<Expect>, locale: &str) -> Answer {
        Answer {
            state: ConversationState::Unidentified,
            step,
            replies: vec![
                Reply { key: "a".into(), text: "First.".into() },
                Reply { key: "b".into(), text: "Second.".into() },
            ],
            expect,
            outcome,
            redirect: None,
            locale: locale.into(),
        }
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn params_are_read_by_their_twilio_names() {
        let params = CallParams::from_pairs(&pairs(&[
            ("From", "+1555"),
            ("CallSid", "CA1"),
            ("Digits", "4721#"),
            ("CallSid", "CA2"),
            ("callstatus", "completed"),
        ]));
        assert_eq!(params.call_sid.as_deref(), Some("CA1"));
        assert_eq!(params.digits.as_deref(), Some("4721#"));
        assert_eq!(params.call_status, None, "names are case-sensitive, as Twilio sends them");
    }

    #[test]
    fn only_final_statuses_end_a_call() {
        let with = |s: &str| CallParams { call_status: Some(s.into()), ..CallParams::default() }.call_has_ended();
        for ended in ["completed", "busy", "failed", "no-answer", "canceled"] {
            assert!(with(ended), "{ended}");
        }
        for going in ["queued", "ringing", "in-progress", "initiated", "Completed"] {
            assert!(!with(going), "{going}");
        }
        assert!(!CallParams::default().call_has_ended());
    }

    #[test]
    fn silence_first_then_keys_then_a_start() {
        assert!(is_silence(Some("silence=1")) && is_silence(Some("a=b&silence=1")));
        assert!(!is_silence(None) && !is_silence(Some("silence=0")) && !is_silence(Some("nosilence=1")));
        assert!(matches!(input(true, Some("12"), 3), Input::Silence { max: 3 }));
        assert!(matches!(input(false, Some("12#"), 3), Input::Digits(d) if d == "12#"));
        assert!(matches!(input(false, Some(""), 3), Input::Digits(d) if d.is_empty()));
        assert!(matches!(input(false, None, 3), Input::Text(t) if t.is_empty()));
    }

    #[test]
    fn a_question_is_a_gather_with_the_replies_inside_and_a_silence_redirect() {
        let expect = Expect { input: "dtmf", digits: Some(6), finish_on_key: Some("#") };
        let response = twiml(&answer(Step::AskCode, None, Some(expect), "es"), &voice(), "https://d.example");
        let VoiceResponse::Ask { gather, on_silence } = response else { panic!("{response:?}") };
        assert_eq!(gather.num_digits, Some(6));
        assert_eq!(gather.finish_on_key, "#");
        assert_eq!(gather.timeout_secs, 7);
        assert_eq!(gather.action, "https://d.example/v1/voice/twilio");
        assert_eq!(on_silence, "https://d.example/v1/voice/twilio?silence=1");
        let spoken: Vec<_> = gather.prompt.iter().map(|s| (s.text.as_str(), s.language.as_str())).collect();
        assert_eq!(spoken, [("First.", "es-ES"), ("Second.", "es-ES")]);
        assert_eq!(gather.prompt[0].voice.as_deref(), Some("Polly.Lucia"));
    }

    #[test]
    fn an_identifier_question_has_no_digit_count() {
        let expect = Expect { input: "dtmf", digits: None, finish_on_key: Some("#") };
        let response = twiml(&answer(Step::AskIdentifier, None, Some(expect), "en"), &voice(), "https://d.example");
        let VoiceResponse::Ask { gather, .. } = response else { panic!("{response:?}") };
        assert_eq!(gather.num_digits, None);
        assert_eq!(gather.prompt[0].voice.as_deref(), Some("Polly.Joanna"));
    }

    #[test]
    fn signed_in_goes_on_to_next_url_and_anything_else_hangs_up() {
        for outcome in [Outcome::Authenticated, Outcome::AlreadyAuthenticated] {
            let response = twiml(&answer(Step::Done, Some(outcome), None, "en"), &voice(), "https://d.example");
            let VoiceResponse::SayAndRedirect { speech, url } = response else { panic!("{response:?}") };
            assert_eq!((speech.len(), url.as_str()), (2, "https://ivr.example.com/after"));
        }
        for outcome in [Some(Outcome::Cancelled), Some(Outcome::Failed), None] {
            let response = twiml(&answer(Step::Done, outcome, None, "en"), &voice(), "https://d.example");
            assert!(matches!(&response, VoiceResponse::SayAndHangUp { speech } if speech.len() == 2), "{response:?}");
        }
    }
}
