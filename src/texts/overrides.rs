//! The operator's resource files: every `<locale>.toml` in the texts directory.
use std::collections::HashSet;
use std::path::{Path, PathBuf};

use unic_langid::LanguageIdentifier;

use super::TextsError;
use super::template::{self, Entries};

pub(super) struct Override {
    /// The canonical locale tag (`es-mx.toml` → `es-MX`).
    pub locale: String,
    pub entries: Entries,
}

/// Reads and checks every `.toml` file in `dir`, in file-name order. Other files (a README,
/// an editor's backup) are not resources and are left alone.
pub(super) fn read(dir: &Path) -> Result<Vec<Override>, TextsError> {
    let unreadable = |path: &Path| {
        let file = path.display().to_string();
        move |source| TextsError::Unreadable { file, source }
    };
    let mut paths: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable(dir))? {
        let path = entry.map_err(unreadable(dir))?.path();
        if path.extension().is_some_and(|ext| ext == "toml") && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    let mut seen = HashSet::new();
    let mut overrides = Vec::with_capacity(paths.len());
    for path in paths {
        let file = path.display().to_string();
        let locale = locale_of(&path).ok_or_else(|| TextsError::FileName { file: file.clone() })?;
        // es-mx.toml and es-MX.toml are one locale: which should win is not ours to guess.
        if !seen.insert(locale.clone()) {
            return Err(TextsError::Duplicate { file, locale });
        }
        let text = std::fs::read_to_string(&path).map_err(unreadable(&path))?;
        overrides.push(Override { locale, entries: template::parse(&file, &text)? });
    }
    Ok(overrides)
}

fn locale_of(path: &Path) -> Option<String> {
    let stem = path.file_stem()?.to_str()?;
    stem.parse::<LanguageIdentifier>().ok().map(|locale| locale.to_string())
}
