//! One resource file's entries: reading them from TOML (with the checks that make a bad
//! override a start-up error) and rendering one with its placeholders filled in.
use std::collections::HashMap;

use intl_pluralrules::{PluralCategory, PluralRules};

use super::TextsError;
use super::keys::{self, Key};
use super::words;

/// Key (with any `.variant`) → its text in one language.
pub(super) type Entries = HashMap<String, Template>;

#[derive(Clone, Debug)]
pub(super) enum Template {
    Text(String),
    /// Texts per CLDR category, picked by the number in the `count` placeholder.
    Plural {
        count: &'static str,
        forms: Vec<(&'static str, String)>,
        other: String,
    },
    /// A command key: the words as written, and as compared (see `words::normalize`).
    Words {
        text: String,
        words: Vec<String>,
    },
}

const CATEGORIES: &[&str] = &["zero", "one", "two", "few", "many", "other"];

/// Reads one resource file. Keys may be quoted (`"login.otp.success" = "..."`) or written
/// as TOML dotted keys or sections, which TOML nests as tables; both mean the same key.
pub(super) fn parse(file: &str, text: &str) -> Result<Entries, TextsError> {
    let table = text
        .parse::<toml::Table>()
        .map_err(|e| TextsError::Toml { file: file.to_string(), message: e.to_string().trim().replace('\n', " ") })?;
    let mut entries = Entries::new();
    collect(file, "", &table, &mut entries)?;
    Ok(entries)
}

fn collect(file: &str, prefix: &str, table: &toml::Table, entries: &mut Entries) -> Result<(), TextsError> {
    for (name, value) in table {
        let path = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
        match (keys::lookup(&path).filter(|_| !nests_keys(value)), value) {
            (Some(key), value) => {
                let template = Template::new(file, &path, key, value)?;
                entries.insert(path, template);
            }
            (None, toml::Value::Table(inner)) => collect(file, &path, inner, entries)?,
            (None, _) => return Err(TextsError::UnknownKey { file: file.to_string(), key: path }),
        }
    }
    Ok(())
}

/// A table under a known key is its plural forms unless it names something else
/// (`KEY.voice` written as a dotted key nests `voice` under KEY).
fn nests_keys(value: &toml::Value) -> bool {
    value.as_table().is_some_and(|table| table.keys().any(|name| !CATEGORIES.contains(&name.as_str())))
}

impl Template {
    fn new(file: &str, name: &str, key: &Key, value: &toml::Value) -> Result<Template, TextsError> {
        let problem = |problem: &str| TextsError::Shape {
            file: file.to_string(),
            key: name.to_string(),
            problem: problem.to_string(),
        };
        let checked = |text: &str| check_placeholders(file, name, key, text).map(|()| text.to_string());
        match value {
            toml::Value::String(text) if key.is_command() => {
                let words: Vec<String> =
                    text.split('|').map(words::normalize).filter(|word| !word.is_empty()).collect();
                if words.is_empty() {
                    return Err(problem("has no command words (write them `|`-separated)"));
                }
                Ok(Template::Words { text: checked(text)?, words })
            }
            toml::Value::String(text) => Ok(Template::Text(checked(text)?)),
            toml::Value::Table(table) => {
                let Some(count) = key.count().filter(|_| !key.is_command()) else {
                    return Err(problem("takes a string: it has no number to pick a plural form by"));
                };
                let mut forms = Vec::new();
                for (category, text) in table {
                    let category = CATEGORIES
                        .iter()
                        .find(|c| **c == category)
                        .ok_or_else(|| problem(&format!("has `{category}`, which is not a CLDR plural category")))?;
                    let text = text.as_str().ok_or_else(|| problem(&format!("`{category}` must be a string")))?;
                    forms.push((*category, checked(text)?));
                }
                let other = forms
                    .iter()
                    .position(|(category, _)| *category == "other")
                    .map(|at| forms.remove(at).1)
                    .ok_or_else(|| problem("needs an `other` form"))?;
                Ok(Template::Plural { count, forms, other })
            }
            _ if key.is_command() => Err(problem("must be a string of `|`-separated words")),
            _ => Err(problem("must be a string or a table of plural forms")),
        }
    }

    /// Every text this entry may render, for checks that must hold for all of them.
    #[cfg(test)]
    pub fn texts(&self) -> Vec<&str> {
        match self {
            Template::Text(text) | Template::Words { text, .. } => vec![text],
            Template::Plural { forms, other, .. } => {
                forms.iter().map(|(_, t)| t.as_str()).chain([other.as_str()]).collect()
            }
        }
    }

    pub fn render(&self, rules: Option<&PluralRules>, args: &[(&str, &str)]) -> String {
        let text = match self {
            Template::Text(text) | Template::Words { text, .. } => text,
            Template::Plural { count, forms, other } => {
                let number = args.iter().find(|(name, _)| name == count).map(|(_, value)| *value);
                let category = rules.zip(number).and_then(|(rules, number)| rules.select(number).ok());
                let category = category.map(category_name).unwrap_or("other");
                forms.iter().find(|(c, _)| *c == category).map_or(other, |(_, text)| text)
            }
        };
        substitute(text, args)
    }

    pub fn has_word(&self, normalized: &str) -> bool {
        matches!(self, Template::Words { words, .. } if words.iter().any(|word| word == normalized))
    }
}

fn category_name(category: PluralCategory) -> &'static str {
    match category {
        PluralCategory::ZERO => "zero",
        PluralCategory::ONE => "one",
        PluralCategory::TWO => "two",
        PluralCategory::FEW => "few",
        PluralCategory::MANY => "many",
        PluralCategory::OTHER => "other",
    }
}

fn check_placeholders(file: &str, name: &str, key: &Key, text: &str) -> Result<(), TextsError> {
    let mut unoffered = None;
    for_each_piece(text, |piece| {
        if let Piece::Placeholder(used) = piece
            && unoffered.is_none()
            && !key.offers.contains(&used)
        {
            unoffered = Some(used.to_string());
        }
    });
    match unoffered {
        None => Ok(()),
        Some(placeholder) => Err(TextsError::Placeholder {
            file: file.to_string(),
            key: name.to_string(),
            placeholder,
            offers: match key.offers {
                [] => "none".to_string(),
                offers => offers.iter().map(|o| format!("{{{o}}}")).collect::<Vec<_>>().join(", "),
            },
        }),
    }
}

/// Fills placeholders in one pass, so a value that itself contains `{code}` stays as sent.
/// A placeholder without a value is left visible rather than silently dropped.
fn substitute(text: &str, args: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len());
    for_each_piece(text, |piece| match piece {
        Piece::Literal(literal) => out.push_str(literal),
        Piece::Placeholder(name) => match args.iter().find(|(arg, _)| *arg == name) {
            Some((_, value)) => out.push_str(value),
            None => {
                out.push('{');
                out.push_str(name);
                out.push('}');
            }
        },
    });
    out
}

enum Piece<'t> {
    Literal(&'t str),
    Placeholder(&'t str),
}

/// Splits `text` at its `{name}` placeholders; any other brace is literal text.
fn for_each_piece<'t>(text: &'t str, mut piece: impl FnMut(Piece<'t>)) {
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let name_len = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
        if name_len > 0 && after[name_len..].starts_with('}') {
            piece(Piece::Literal(&rest[..open]));
            piece(Piece::Placeholder(&after[..name_len]));
            rest = &after[name_len + 1..];
        } else {
            piece(Piece::Literal(&rest[..=open]));
            rest = after;
        }
    }
    piece(Piece::Literal(rest));
}
