//! How a person's message is compared with command words: "¡Cancelar!", "CANCELAR" and
//! "cancelar" are the same word, whichever keyboard or autocorrect wrote it.
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Lower case, accents stripped (NFD, then combining marks dropped), punctuation and
/// spaces around the text trimmed, and runs of inner spaces made one.
pub(super) fn normalize(text: &str) -> String {
    let folded: String = text.nfd().filter(|c| !is_combining_mark(*c)).flat_map(char::to_lowercase).collect();
    folded.trim_matches(|c: char| !c.is_alphanumeric()).split_whitespace().collect::<Vec<_>>().join(" ")
}
