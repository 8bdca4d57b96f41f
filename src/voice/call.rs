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
    texts.into_iter().map(|text| Speech { text: text.to_string(), language: language.clone(), voice: voice.clone() }).collect()
}
