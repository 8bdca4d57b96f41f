//! Person records as operators write them: the rules shared by `doorman import` and the
//! admin API (parsing, key and identifier checks), and the writes that go with them
//! (all or nothing per import, in short batches; a record made inactive or deleted
//! ends its sessions).
use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::Value;

use super::identifier;
use crate::clock::Millis;
use crate::config::DirectoryConfig;
use crate::store::imports::{ImportFailure, StagedImport};
use crate::store::records::{Record, RecordUpsert, UpsertError};
use crate::store::sessions::SessionsOf;
use crate::store::{Store, StoreError};

const MAX_KEY_CHARS: usize = 128;

pub type Rows = Vec<(u64, RecordUpsert)>;
pub type RowError = (u64, String);

pub fn read_csv(text: &str, dir: &DirectoryConfig) -> Result<Rows, RowError> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| (1, e.to_string()))?.clone();
    let mut rows = Vec::new();
    for result in reader.records() {
        let record = result.map_err(|e| (e.position().map_or(0, |p| p.line()), e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
        let mut key = None;
        let mut roles = Vec::new();
        let mut active = true;
        let mut fields = BTreeMap::new();
        for (name, value) in headers.iter().zip(record.iter()) {
            match name {
                "key" => key = Some(value.to_string()).filter(|k| !k.is_empty()),
                "roles" => {
                    roles = value.split(';').map(str::trim).filter(|r| !r.is_empty()).map(String::from).collect()
                }
                "active" => active = parse_bool(value).map_err(|e| (line, e))?,
                _ if value.is_empty() => {}
                _ => {
                    fields.insert(name.to_string(), value.to_string());
                }
            }
        }
        rows.push((line, build(dir, key, fields, roles, active).map_err(|e| (line, e))?));
    }
    Ok(rows)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonRecord {
    pub key: Option<String>,
    #[serde(default)]
    pub fields: BTreeMap<String, Value>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

pub fn read_jsonl(text: &str, dir: &DirectoryConfig) -> Result<Rows, RowError> {
    let mut rows = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index as u64 + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let parsed: JsonRecord = serde_json::from_str(raw).map_err(|e| (line, e.to_string()))?;
        rows.push((line, from_json(dir, parsed).map_err(|e| (line, e))?));
    }
    Ok(rows)
}

/// The key defaults to the directory's first identifier field; identifier values are
/// normalized the same way identify normalizes what a person types.
pub fn build(
    dir: &DirectoryConfig,
    key: Option<String>,
    fields: BTreeMap<String, String>,
    roles: Vec<String>,
    active: bool,
) -> Result<RecordUpsert, String> {
    let first = &dir.identifiers[0];
    let key = key
        .or_else(|| fields.get(first).cloned())
        .ok_or_else(|| format!("no `key` column and no `{first}` to use as the key"))?;
    if key.chars().count() > MAX_KEY_CHARS || key.chars().any(char::is_control) || key.contains('/') {
        return Err("key must have at most 128 printable characters and no `/`".into());
    }
    let mut identifiers = Vec::new();
    for field in &dir.identifiers {
        if let Some(value) = fields.get(field) {
            let normalized =
                identifier::normalize(value).ok_or_else(|| format!("identifier `{field}` is not usable: {value:?}"))?;
            identifiers.push((field.clone(), normalized));
        }
    }
    Ok(RecordUpsert { directory: dir.name.clone(), key, fields, roles, active, identifiers })
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "" | "true" => Ok(true),
        "false" => Ok(false),
        other => Err(format!("active must be true or false, not {other:?}")),
    }
}

/// Two rows with the same key, or the same identifier on two records, are a mistake in
/// the file: report the second occurrence.
pub fn check_unique_keys(rows: &Rows) -> Result<(), RowError> {
    let mut keys = HashMap::new();
    let mut identifiers = HashMap::new();
    for (line, record) in rows {
        if let Some(first) = keys.insert(record.key.as_str(), *line) {
            return Err((*line, format!("key {} already appears on line {first}", record.key)));
        }
        for (field, value) in &record.identifiers {
            if let Some(first) = identifiers.insert((field.as_str(), value.as_str()), *line) {
                return Err((*line, format!("{field} = {value} already appears on line {first}")));
            }
        }
    }
    Ok(())
}

/// One JSON record (a JSONL line, an admin PUT body) checked into an upsert.
pub fn from_json(dir: &DirectoryConfig, parsed: JsonRecord) -> Result<RecordUpsert, String> {
    let mut fields = BTreeMap::new();
    for (name, value) in parsed.fields {
        let text = match value {
            Value::Null => continue,
            Value::String(s) if s.is_empty() => continue,
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return Err(format!("field `{name}` must be a string, number or boolean")),
        };
        fields.insert(name, text);
    }
    build(dir, parsed.key, fields, parsed.roles, parsed.active)
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A row breaks a rule; nothing was written.
    #[error("line {0}: {1}")]
    Row(u64, String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An import under way. Rows go to the store in short batches; none is visible until
/// [`Import::finish`] has checked them all (all or nothing), and then the sessions of
/// every record they made inactive end.
pub struct Import<'s> {
    store: &'s Store,
    staged: StagedImport<'s>,
}

impl<'s> Import<'s> {
    pub fn begin(store: &'s Store, directory: &str) -> Self {
        Self { store, staged: store.begin_import(directory) }
    }

    pub async fn add(&mut self, rows: impl IntoIterator<Item = (u64, RecordUpsert)>) -> Result<(), ImportError> {
        Ok(self.staged.push(rows).await?)
    }

    /// `on_row` is called after each row is applied (a progress bar).
    pub async fn finish(self, now: Millis, on_row: impl FnMut() + Send) -> Result<(), ImportError> {
        recover(self.store, now).await?;
        let inactive = self.staged.finish(now, on_row).await.map_err(row_error)?;
        end_sessions_of_inactive(self.store, inactive, now).await
    }

    /// Drops what was staged (a bad row found while reading, a body cut off).
    pub async fn abandon(self) {
        self.staged.abandon().await
    }
}

/// Writes `rows` all or nothing, then ends the sessions of every record the rows made
/// inactive. `on_row` is called after each row (a progress bar).
pub async fn import(store: &Store, rows: &Rows, now: Millis, on_row: impl FnMut() + Send) -> Result<(), ImportError> {
    let Some((_, first)) = rows.first() else {
        return Ok(());
    };
    let mut import = Import::begin(store, &first.directory);
    if let Err(e) = import.add(rows.iter().cloned()).await {
        import.abandon().await;
        return Err(e);
    }
    import.finish(now, on_row).await
}

/// Finishes the imports a dead process had accepted and drops those it was still
/// staging (see `store::imports`).
pub async fn recover(store: &Store, now: Millis) -> Result<(), ImportError> {
    let inactive = store.recover_imports(now).await.map_err(row_error)?;
    end_sessions_of_inactive(store, inactive, now).await
}

fn row_error((line, e): ImportFailure) -> ImportError {
    match e {
        UpsertError::Store(e) => ImportError::Store(e),
        rule => ImportError::Row(line, rule.to_string()),
    }
}

async fn end_sessions_of_inactive(store: &Store, inactive: Vec<i64>, now: Millis) -> Result<(), ImportError> {
    for id in inactive {
        super::ending::end_sessions_of(store, &SessionsOf::Record(id), "record_inactive", now).await?;
    }
    Ok(())
}

/// Deletes a record after ending its sessions and killing its codes; false if there was none.
pub async fn delete(store: &Store, directory: &str, key: &str, now: Millis) -> Result<bool, StoreError> {
    let Some(record) = store.find_record_by_key(directory, key).await? else {
        return Ok(false);
    };
    super::ending::end_sessions_of(store, &SessionsOf::Record(record.id), "record_deleted", now).await?;
    store.delete_record(record.id).await?;
    Ok(true)
}

/// The record `directory/key`, active or not.
pub async fn find(store: &Store, directory: &str, key: &str) -> Result<Option<Record>, StoreError> {
    store.find_record_by_key(directory, key).await
}
