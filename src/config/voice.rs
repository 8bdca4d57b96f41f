//! `[voice]`: the phonebot keypad over Twilio Voice (DESIGN.md §10).
use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::config::Secret;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoiceConfig {
    /// The calls' conversations belong to this client.
    pub client: String,
    /// Defaults to the client's first flow.
    #[serde(default)]
    pub flow: Option<String>,
    /// Where Twilio goes after a successful login.
    pub next_url: String,
    /// Defaults to `[delivery.twilio] auth_token`.
    #[serde(default)]
    pub auth_token: Option<Secret>,
    #[serde(default = "english")]
    pub locale: String,
    /// How long Twilio waits for the first key.
    #[serde(default = "six_seconds", with = "humantime_serde")]
    pub gather_timeout: Duration,
    /// Prompts repeated after silence before hanging up.
    #[serde(default = "two")]
    pub max_silences: u32,
    /// Per language: what `<Say>` speaks. The built-in `en` and `es` stay unless replaced.
    #[serde(default = "default_voices", deserialize_with = "voices_over_defaults")]
    pub voices: BTreeMap<String, VoiceOf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoiceOf {
    /// BCP-47, as `<Say language="..">` takes it.
    pub language: String,
    /// A Twilio voice name such as `Polly.Joanna`; Twilio's default when absent.
    #[serde(default)]
    pub voice: Option<String>,
}

impl VoiceOf {
    fn new(language: &str, voice: &str) -> Self {
        Self { language: language.into(), voice: Some(voice.into()) }
    }
}

fn default_voices() -> BTreeMap<String, VoiceOf> {
    BTreeMap::from([
        ("en".to_string(), VoiceOf::new("en-US", "Polly.Joanna")),
        ("es".to_string(), VoiceOf::new("es-ES", "Polly.Lucia")),
    ])
}

fn voices_over_defaults<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, VoiceOf>, D::Error> {
    let mut voices = default_voices();
    voices.extend(BTreeMap::<String, VoiceOf>::deserialize(deserializer)?);
    Ok(voices)
}

fn english() -> String {
    "en".into()
}
fn six_seconds() -> Duration {
    Duration::from_secs(6)
}
fn two() -> u32 {
    2
}

impl VoiceConfig {
    /// BCP-47 language and voice for `<Say>` in `language`: its own entry, else its primary
    /// subtag's (`es-MX` → `es`), else English's.
    pub fn speech_for(&self, language: &str) -> (String, Option<String>) {
        let primary = language.split(['-', '_']).next().unwrap_or(language);
        let found = self.voices.get(language).or_else(|| self.voices.get(primary)).or_else(|| self.voices.get("en"));
        // `en` can only be missing if `voices` was built by hand, not deserialized.
        let chosen = found.cloned().unwrap_or_else(|| VoiceOf::new("en-US", "Polly.Joanna"));
        (chosen.language, chosen.voice)
    }

    /// Twilio's `timeout` is whole seconds; `check` guarantees the value fits.
    pub fn gather_timeout_secs(&self) -> u32 {
        u32::try_from(self.gather_timeout.as_secs()).unwrap_or(u32::MAX)
    }

    /// Bounds serde cannot express, reported as (dotted key, message).
    pub fn check(&self) -> Result<(), (String, String)> {
        let fail = |key: &str, message: &str| Err((format!("voice.{key}"), message.to_string()));
        if self.client.trim().is_empty() {
            return fail("client", "name the client the calls' conversations belong to");
        }
        if self.flow.as_deref().is_some_and(|f| f.trim().is_empty()) {
            return fail("flow", "must not be empty; leave it out to use the client's first flow");
        }
        let is_web_url = reqwest::Url::parse(&self.next_url)
            .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some());
        if !is_web_url {
            return fail("next_url", "must be an absolute http(s) URL");
        }
        if self.max_silences > 10 {
            return fail("max_silences", "must be at most 10");
        }
        let timeout = self.gather_timeout;
        if timeout < Duration::from_secs(1) || timeout > Duration::from_secs(60) || timeout.subsec_nanos() != 0 {
            return fail("gather_timeout", "must be a whole number of seconds from 1s to 60s");
        }
        if let Some((name, _)) = self.voices.iter().find(|(_, v)| v.language.trim().is_empty()) {
            return Err((format!("voice.voices.{name}.language"), "must not be empty".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct File {
        voice: VoiceConfig,
    }

    fn parse(body: &str) -> Result<VoiceConfig, String> {
        toml::from_str::<File>(&format!("[voice]\n{body}")).map(|f| f.voice).map_err(|e| e.to_string())
    }

    const MINIMAL: &str = "client = \"ivr-bot\"\nnext_url = \"https://ivr.example.com/after-login\"\n";

    #[test]
    fn defaults_fill_everything_but_client_and_next_url() {
        let v = parse(MINIMAL).unwrap();
        assert_eq!((v.client.as_str(), v.next_url.as_str()), ("ivr-bot", "https://ivr.example.com/after-login"));
        assert!(v.flow.is_none() && v.auth_token.is_none());
        assert_eq!((v.locale.as_str(), v.gather_timeout, v.max_silences), ("en", Duration::from_secs(6), 2));
        assert_eq!(v.voices, default_voices());
        assert_eq!(v.check(), Ok(()));
    }

    #[test]
    fn the_documented_section_parses() {
        let v = parse(
            r#"client = "ivr-bot"
flow = "payroll"
next_url = "https://ivr.example.com/after-login"
auth_token = "tok-123"
locale = "es"
gather_timeout = "10s"
max_silences = 3
[voice.voices]
fr = { language = "fr-FR", voice = "Polly.Celine" }
es = { language = "es-MX" }
"#,
        )
        .unwrap();
        assert_eq!(v.flow.as_deref(), Some("payroll"));
        assert_eq!(v.auth_token.as_ref().map(Secret::expose), Some("tok-123"));
        assert_eq!((v.locale.as_str(), v.gather_timeout_secs(), v.max_silences), ("es", 10, 3));
        // Given entries replace or add; untouched defaults stay.
        assert_eq!(v.speech_for("fr"), ("fr-FR".into(), Some("Polly.Celine".into())));
        assert_eq!(v.speech_for("es"), ("es-MX".into(), None));
        assert_eq!(v.speech_for("en"), ("en-US".into(), Some("Polly.Joanna".into())));
        assert_eq!(v.check(), Ok(()));
    }

    #[test]
    fn speech_for_falls_back_to_the_primary_subtag_then_english() {
        let v = parse(MINIMAL).unwrap();
        assert_eq!(v.speech_for("es-AR"), ("es-ES".into(), Some("Polly.Lucia".into())));
        assert_eq!(v.speech_for("de"), ("en-US".into(), Some("Polly.Joanna".into())));
        assert_eq!(v.speech_for(""), ("en-US".into(), Some("Polly.Joanna".into())));
    }

    #[test]
    fn required_and_unknown_keys_are_refused() {
        assert!(parse("next_url = \"https://x.example\"\n").unwrap_err().contains("client"));
        assert!(parse("client = \"ivr-bot\"\n").unwrap_err().contains("next_url"));
        let typo = parse(&format!("{MINIMAL}max_silence = 2\n")).unwrap_err();
        assert!(typo.contains("max_silence"), "{typo}");
        let voice_typo = parse(&format!("{MINIMAL}[voice.voices]\nen = {{ lang = \"en-GB\" }}\n")).unwrap_err();
        assert!(voice_typo.contains("lang"), "{voice_typo}");
        let missing_env = parse(&format!("{MINIMAL}auth_token = \"env:DOORMAN_TEST_SURELY_UNSET\"\n")).unwrap_err();
        assert!(missing_env.contains("DOORMAN_TEST_SURELY_UNSET"), "{missing_env}");
    }

    #[test]
    fn check_names_the_bad_key() {
        let key = |extra: &str| {
            let next_url = if extra.contains("next_url") { "" } else { "next_url = \"https://x.example/a\"\n" };
            let text = format!("client = \"ivr-bot\"\n{next_url}{extra}");
            parse(&text).unwrap().check().map_err(|(key, _)| key)
        };
        assert_eq!(key("next_url = \"ftp://x.example/a\"\n"), Err("voice.next_url".into()));
        assert_eq!(key("next_url = \"/after-login\"\n"), Err("voice.next_url".into()));
        assert_eq!(key("max_silences = 11\n"), Err("voice.max_silences".into()));
        assert_eq!(key("max_silences = 10\n"), Ok(()));
        assert_eq!(key("gather_timeout = \"0s\"\n"), Err("voice.gather_timeout".into()));
        assert_eq!(key("gather_timeout = \"61s\"\n"), Err("voice.gather_timeout".into()));
        assert_eq!(key("gather_timeout = \"1500ms\"\n"), Err("voice.gather_timeout".into()));
        assert_eq!(key("gather_timeout = \"60s\"\n"), Ok(()));
        assert_eq!(key("gather_timeout = \"1s\"\n"), Ok(()));
        assert_eq!(key("flow = \"\"\n"), Err("voice.flow".into()));
        assert_eq!(key("[voice.voices]\nde = { language = \"\" }\n"), Err("voice.voices.de.language".into()));
        assert_eq!(
            parse("client = \" \"\nnext_url = \"https://x.example\"\n").unwrap().check().map_err(|e| e.0),
            Err("voice.client".into())
        );
    }
}
