//! The text that carries the code, per language. Both languages must have every key:
//! a test checks it.
const EN: &[(&str, &str)] = &[
    ("otp.message", "Your verification code is {code}. It expires in {minutes} minutes. Do not share it with anyone."),
    ("otp.subject", "Your verification code"),
];

const ES: &[(&str, &str)] = &[
    ("otp.message", "Tu código de verificación es {code}. Caduca en {minutes} minutos. No lo compartas con nadie."),
    ("otp.subject", "Tu código de verificación"),
];

const LANGUAGES: &[(&str, &[(&str, &str)])] = &[("en", EN), ("es", ES)];

/// `es-ES`, `es_MX` and `ES` all mean `es`.
pub fn language_of(locale: &str) -> String {
    locale.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase()
}

pub struct Messages {
    default: &'static str,
}

impl Messages {
    pub fn new(default_locale: &str) -> Self {
        let wanted = language_of(default_locale);
        let default = LANGUAGES.iter().find(|(l, _)| *l == wanted).map_or("en", |(l, _)| l);
        Self { default }
    }

    /// The first of `candidates` that is a known language, else the default.
    pub fn pick<'a>(&self, candidates: impl IntoIterator<Item = Option<&'a str>>) -> &'static str {
        candidates
            .into_iter()
            .flatten()
            .find_map(|c| LANGUAGES.iter().find(|(l, _)| *l == language_of(c)).map(|(l, _)| *l))
            .unwrap_or(self.default)
    }

    pub fn render(&self, language: &str, key: &str, vars: &[(&str, &str)]) -> String {
        let table = LANGUAGES.iter().find(|(l, _)| *l == language).map_or(EN, |(_, t)| t);
        let template = table.iter().chain(EN).find(|(k, _)| *k == key).map_or(key, |(_, t)| t);
        vars.iter().fold(template.to_string(), |text, (name, value)| text.replace(&format!("{{{name}}}"), value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn keys(table: &[(&'static str, &'static str)]) -> BTreeSet<&'static str> {
        table.iter().map(|(k, _)| *k).collect()
    }

    #[test]
    fn every_language_has_the_same_keys() {
        for (language, table) in LANGUAGES {
            assert_eq!(keys(table), keys(EN), "{language}");
        }
    }

    #[test]
    fn locale_choice_falls_back_in_order() {
        let messages = Messages::new("en");
        assert_eq!(messages.pick([Some("es-ES"), Some("en")]), "es");
        assert_eq!(messages.pick([None, Some("fr"), Some("ES_mx")]), "es");
        assert_eq!(messages.pick([Some("de")]), "en");
        let text = messages.render("es", "otp.message", &[("code", "123456"), ("minutes", "5")]);
        assert!(text.contains("123456") && text.contains("5 minutos"), "{text}");
    }
}
