//! Every text doorman says to a person, per locale: the dialog's replies (DESIGN.md §9), the
//! keypad's spoken variants (§10) and the message that carries the code. Built in for `en`
//! and `es` (`en.toml`, `es.toml` beside this file); an operator overrides any key per
//! locale with files of the same shape, checked at start-up.
mod keys;
mod overrides;
mod template;
#[cfg(test)]
mod tests;
mod words;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, LazyLock};

use intl_pluralrules::{PluralRuleType, PluralRules};
use unic_langid::LanguageIdentifier;

use template::Entries;

const BUILTIN_FILES: &[(&str, &str, &str)] = &[
    ("en", "built-in texts/en.toml", include_str!("en.toml")),
    ("es", "built-in texts/es.toml", include_str!("es.toml")),
];

/// The language every other one falls back to, key by key.
const FALLBACK: &str = "en";

#[derive(Debug, thiserror::Error)]
pub enum TextsError {
    #[error("{file}: cannot read it: {source}")]
    Unreadable {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: not valid TOML: {message}")]
    Toml { file: String, message: String },
    #[error("{file}: the file name is not a locale (such as en.toml, es.toml or pt-BR.toml)")]
    FileName { file: String },
    #[error("{file}: a second file for locale `{locale}`")]
    Duplicate { file: String, locale: String },
    #[error("{file}: unknown key `{key}`")]
    UnknownKey { file: String, key: String },
    #[error("{file}: `{key}` uses {{{placeholder}}}, which it does not offer (offers: {offers})")]
    Placeholder { file: String, key: String, placeholder: String, offers: String },
    #[error("{file}: `{key}` {problem}")]
    Shape { file: String, key: String, problem: String },
}

/// The texts of every locale: built-ins with the operator's overrides on top. Cheap to clone.
#[derive(Clone)]
pub struct Texts {
    languages: Arc<HashMap<String, Language>>,
}

/// Shows the locales, not every text: enough to tell in a log which overrides were loaded.
impl std::fmt::Debug for Texts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut locales: Vec<&String> = self.languages.keys().collect();
        locales.sort();
        f.debug_struct("Texts").field("locales", &locales).finish()
    }
}

struct Language {
    /// None for a locale CLDR has no rules for: its plural keys use their `other` form.
    rules: Option<PluralRules>,
    entries: Entries,
}

// The built-in files are part of the binary and the tests parse them, so a failure here is
// a broken build, not something a configuration or a request can cause.
static BUILTIN: LazyLock<HashMap<String, Entries>> = LazyLock::new(|| {
    BUILTIN_FILES
        .iter()
        .map(|(locale, file, text)| template::parse(file, text).map(|entries| (locale.to_string(), entries)))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("the built-in texts are broken: {e}"))
});

impl Texts {
    pub fn builtin() -> Texts {
        Texts::from_entries(BUILTIN.clone())
    }

    /// Built-ins, then every `<locale>.toml` in `dir` (en.toml, es.toml, pt.toml, es-MX.toml...).
    /// A file replaces the keys it has; the others keep their built-in text, or English.
    pub fn load(dir: Option<&Path>) -> Result<Texts, TextsError> {
        let mut languages = BUILTIN.clone();
        for found in dir.map(overrides::read).transpose()?.into_iter().flatten() {
            languages.entry(found.locale).or_default().extend(found.entries);
        }
        Ok(Texts::from_entries(languages))
    }

    fn from_entries(entries: HashMap<String, Entries>) -> Texts {
        let languages = entries
            .into_iter()
            .map(|(locale, entries)| {
                let rules = plural_rules(&locale);
                (locale, Language { rules, entries })
            })
            .collect();
        Texts { languages: Arc::new(languages) }
    }

    /// The language to use: the first candidate that has texts (es-ES → es; exact tag first),
    /// else `default`'s, else "en".
    pub fn language<'a>(&self, candidates: impl IntoIterator<Item = Option<&'a str>>, default: &str) -> String {
        let supported = |locale: &str| tags_of(locale).into_iter().find(|tag| self.languages.contains_key(tag));
        candidates
            .into_iter()
            .flatten()
            .find_map(supported)
            .or_else(|| supported(default))
            .unwrap_or_else(|| FALLBACK.to_string())
    }

    /// Renders `key` in `language` (falling back to English for a missing key), with `args`
    /// substituted; `variant` = Some("voice") prefers `KEY.voice` then KEY.
    ///
    /// Each language of the fallback chain is asked for the variant, then the base key, before
    /// the next: a pt.toml without `.voice` keys makes a call hear its Portuguese texts rather
    /// than English keypad ones.
    pub fn render(&self, language: &str, key: &str, variant: Option<&str>, args: &[(&str, &str)]) -> String {
        let variant_key = variant.map(|variant| format!("{key}.{variant}"));
        self.chain(language)
            .find_map(|lang| {
                let template =
                    variant_key.as_deref().and_then(|k| lang.entries.get(k)).or_else(|| lang.entries.get(key));
                template.map(|template| template.render(lang.rules.as_ref(), args))
            })
            // Only a key missing from `keys()` gets here: showing it beats saying nothing.
            .unwrap_or_else(|| key.to_string())
    }

    /// Whether `text` is one of `key`'s command words in `language` or in English, matched
    /// case-, accent- and surrounding-punctuation-insensitively ("¡Cancelar!" == "cancelar").
    /// The whole message must be the command: "cancel my order" is not "cancel".
    pub fn is_command(&self, language: &str, key: &str, text: &str) -> bool {
        let text = words::normalize(text);
        if text.is_empty() {
            return false;
        }
        let own = self.chain(language).find_map(|lang| lang.entries.get(key));
        let english = self.languages.get(FALLBACK).and_then(|lang| lang.entries.get(key));
        [own, english].into_iter().flatten().any(|template| template.has_word(&text))
    }

    /// Every known key, for docs/tests.
    pub fn keys() -> impl Iterator<Item = &'static str> {
        keys::KEYS.iter().map(|key| key.name)
    }

    /// The placeholders `key` (or a `KEY.voice` variant) offers; None for an unknown key.
    pub fn offers(key: &str) -> Option<&'static [&'static str]> {
        keys::lookup(key).map(|key| key.offers)
    }

    /// `language` itself, its base language, then English: where a key is looked up.
    fn chain<'s>(&'s self, language: &str) -> impl Iterator<Item = &'s Language> {
        tags_of(language).into_iter().chain([FALLBACK.to_string()]).filter_map(|tag| self.languages.get(&tag))
    }
}

/// The canonical tag of `locale` and, if different, of its language alone: `es_mx` → es-MX, es.
fn tags_of(locale: &str) -> Vec<String> {
    let Ok(locale) = locale.parse::<LanguageIdentifier>() else { return Vec::new() };
    let exact = locale.to_string();
    let base = locale.language.to_string();
    if exact == base { vec![exact] } else { vec![exact, base] }
}

/// CLDR has rules for `pt-PT` but not for `es-MX`, which follows `es`.
fn plural_rules(locale: &str) -> Option<PluralRules> {
    let locale = locale.parse::<LanguageIdentifier>().ok()?;
    let base = LanguageIdentifier::from_parts(locale.language, None, None, &[]);
    PluralRules::create(locale, PluralRuleType::CARDINAL)
        .or_else(|_| PluralRules::create(base, PluralRuleType::CARDINAL))
        .ok()
}
