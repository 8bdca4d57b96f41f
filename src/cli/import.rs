//! `doorman import`: every row is read and checked first; then all are written in one
//! transaction, so a bad row (reported with its line number) leaves nothing applied.
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};
use sea_orm::TransactionTrait;
use serde::Deserialize;
use serde_json::Value;

use super::{Failure, connect};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, DirectoryConfig};
use crate::domain::identifier;
use crate::store::records::{RecordUpsert, UpsertError};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Csv,
    Jsonl,
}

const MAX_KEY_CHARS: usize = 128;

pub async fn run(config: &Config, directory: &str, file: &Path, format: Option<Format>) -> Result<(), Failure> {
    let dir = config
        .directory(directory)
        .ok_or_else(|| Failure::Usage(format!("DIRECTORY: no directory named `{directory}` is configured")))?;
    let format = format.unwrap_or(if file.extension().is_some_and(|e| e == "jsonl" || e == "ndjson") {
        Format::Jsonl
    } else {
        Format::Csv
    });
    let text = std::fs::read_to_string(file).map_err(|e| Failure::Usage(format!("{}: {e}", file.display())))?;
    let rows = match format {
        Format::Csv => read_csv(&text, dir),
        Format::Jsonl => read_jsonl(&text, dir),
    }
    .map_err(|(line, reason)| {
        Failure::Usage(format!("{}, line {line}: {reason}; nothing was imported", file.display()))
    })?;
    check_unique_keys(&rows).map_err(|(line, reason)| {
        Failure::Usage(format!("{}, line {line}: {reason}; nothing was imported", file.display()))
    })?;

    let store = connect(config).await?;
    let progress = ProgressBar::new(rows.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} records ({per_sec}, {eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let now = SystemClock.now();
    let runtime = |e: sea_orm::DbErr| Failure::Runtime(e.to_string());
    let txn = store.db().begin().await.map_err(runtime)?;
    for (line, record) in &rows {
        if let Err(e) = store.upsert_record(&txn, record, now).await {
            progress.abandon();
            let at = format!("{}, line {line}", file.display());
            return Err(match e {
                UpsertError::IdentifierTaken { .. } => Failure::Usage(format!("{at}: {e}; nothing was imported")),
                UpsertError::Store(e) => {
                    Failure::Runtime(format!("{at}: cannot store the record: {e}; nothing was imported"))
                }
            });
        }
        progress.inc(1);
    }
    txn.commit().await.map_err(runtime)?;
    progress.finish_and_clear();
    println!("imported {} records into {} in {:.2?}", rows.len(), dir.name, started.elapsed());
    Ok(())
}

type Rows = Vec<(u64, RecordUpsert)>;
type RowError = (u64, String);

fn read_csv(text: &str, dir: &DirectoryConfig) -> Result<Rows, RowError> {
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
struct JsonRecord {
    key: Option<String>,
    #[serde(default)]
    fields: BTreeMap<String, Value>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default = "yes")]
    active: bool,
}

fn yes() -> bool {
    true
}

fn read_jsonl(text: &str, dir: &DirectoryConfig) -> Result<Rows, RowError> {
    let mut rows = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index as u64 + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let parsed: JsonRecord = serde_json::from_str(raw).map_err(|e| (line, e.to_string()))?;
        let mut fields = BTreeMap::new();
        for (name, value) in parsed.fields {
            let text = match value {
                Value::Null => continue,
                Value::String(s) if s.is_empty() => continue,
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => {
                    return Err((line, format!("field `{name}` must be a string, number or boolean")));
                }
            };
            fields.insert(name, text);
        }
        rows.push((line, build(dir, parsed.key, fields, parsed.roles, parsed.active).map_err(|e| (line, e))?));
    }
    Ok(rows)
}

/// The key defaults to the directory's first identifier field; identifier values are
/// normalized the same way identify normalizes what a person types.
fn build(
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
fn check_unique_keys(rows: &Rows) -> Result<(), RowError> {
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
