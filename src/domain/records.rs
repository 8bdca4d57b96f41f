//! Person records as operators write them: the rules shared by `doorman import` and the
//! admin API (parsing, key and identifier checks), and the writes that go with them
//! (all or nothing per import, in short batches; a record made inactive or deleted
//! ends its sessions).
use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::identifier;
use crate::clock::Millis;
use crate::config::{Config, DirectoryConfig};
use crate::delivery::{DeliveryTarget, Method, address};
use crate::store::imports::{ImportFailure, StagedImport};
use crate::store::records::{Record, RecordUpsert, UpsertError};
use crate::store::sessions::SessionsOf;
use crate::store::{Store, StoreError};

const MAX_KEY_CHARS: usize = 128;

pub type Rows = Vec<(u64, RecordUpsert)>;

/// What a directory's records must satisfy: its identifiers, and a valid address in
/// every field a flow of the directory delivers codes to (`sms:phone` → `phone` is an
/// E.164 number, `email:corporate_email` → an e-mail address). A bad address would
/// otherwise surface only in a live conversation, as `no_delivery_method`.
pub struct RecordRules<'a> {
    pub dir: &'a DirectoryConfig,
    deliveries: Vec<&'a DeliveryTarget>,
}

impl<'a> RecordRules<'a> {
    pub fn new(config: &'a Config, dir: &'a DirectoryConfig) -> Self {
        let mut deliveries: Vec<&DeliveryTarget> = Vec::new();
        for target in config.flows.iter().filter(|f| f.directory == dir.name).flat_map(|f| &f.delivery) {
            if !deliveries.contains(&target) {
                deliveries.push(target);
            }
        }
        Self { dir, deliveries }
    }

    /// Every delivery field of `fields` that holds no usable address for its method.
    fn address_problems(&self, fields: &BTreeMap<String, String>) -> Vec<Problem> {
        let mut problems: Vec<Problem> = Vec::new();
        for target in &self.deliveries {
            let Some(value) = fields.get(&target.field) else { continue };
            if address::normalize(target.method, value).is_some()
                || problems.iter().any(|p| p.field.as_deref() == Some(target.field.as_str()))
            {
                continue;
            }
            let why = match target.method {
                Method::Sms | Method::Whatsapp => "is not a phone number in E.164 form like +34600000001",
                Method::Email => "is not an e-mail address",
            };
            let reason = format!("{value:?} {why} (flows deliver {} codes to it)", target.method.as_str());
            problems.push(Problem::of(&target.field, reason));
        }
        problems
    }
}

/// What is wrong with one row, and in which field if one is to blame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub reason: String,
}

impl Problem {
    fn of(field: &str, reason: impl Into<String>) -> Self {
        Self { field: Some(field.to_string()), reason: reason.into() }
    }

    pub(super) fn row(reason: impl Into<String>) -> Self {
        Self { field: None, reason: reason.into() }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

/// A problem on line `line` of an import.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BadRow {
    pub line: u64,
    #[serde(flatten)]
    pub problem: Problem,
}

impl std::fmt::Display for BadRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, {}", self.line, self.problem)
    }
}

/// An import read and checked to the end: the rows that may be written, and every
/// problem of the others (a line can have several).
#[derive(Debug, Default)]
pub struct Checked {
    pub rows: Rows,
    pub bad: Vec<BadRow>,
}

impl Checked {
    fn push(&mut self, line: u64, row: Result<RecordUpsert, Vec<Problem>>) {
        match row {
            Ok(record) => self.rows.push((line, record)),
            Err(problems) => self.bad.extend(problems.into_iter().map(|problem| BadRow { line, problem })),
        }
    }

    /// Two rows with the same key, or the same identifier on two records, are a mistake
    /// in the file: the second occurrence is the bad row.
    fn unique(mut self) -> Self {
        let mut keys = HashMap::new();
        let mut identifiers = HashMap::new();
        let mut unique = Vec::with_capacity(self.rows.len());
        for (line, record) in self.rows {
            let mut problems = Vec::new();
            if let Some(first) = keys.get(&record.key) {
                problems.push(Problem::of("key", format!("{} already appears on line {first}", record.key)));
            }
            for (field, value) in &record.identifiers {
                if let Some(first) = identifiers.get(&(field.clone(), value.clone())) {
                    problems.push(Problem::of(field, format!("{value} already appears on line {first}")));
                }
            }
            if problems.is_empty() {
                keys.insert(record.key.clone(), line);
                for identifier in &record.identifiers {
                    identifiers.insert(identifier.clone(), line);
                }
                unique.push((line, record));
            } else {
                self.bad.extend(problems.into_iter().map(|problem| BadRow { line, problem }));
            }
        }
        self.rows = unique;
        self.bad.sort_by_key(|b| b.line);
        self
    }

    /// All rows, or every problem when there is any (nothing is to be written).
    pub fn all_or_nothing(self) -> Result<Rows, Vec<BadRow>> {
        if self.bad.is_empty() { Ok(self.rows) } else { Err(self.bad) }
    }
}

/// `1 bad row`, `3 bad rows`: how many lines have a problem.
pub fn bad_rows(bad: &[BadRow]) -> String {
    let lines = bad.iter().map(|b| b.line).collect::<std::collections::BTreeSet<_>>().len();
    if lines == 1 { "1 bad row".into() } else { format!("{lines} bad rows") }
}

/// Every problem in one message, for an API error: `2 bad rows, nothing was imported:
/// line 3, phone: ...; line 5, key: ...` (past the first 20, only a count).
pub fn describe(bad: &[BadRow]) -> String {
    const LISTED: usize = 20;
    let listed: Vec<String> = bad.iter().take(LISTED).map(BadRow::to_string).collect();
    let mut text = format!("{}, nothing was imported: {}", bad_rows(bad), listed.join("; "));
    if bad.len() > LISTED {
        text.push_str(&format!("; and {} more problems", bad.len() - LISTED));
    }
    text
}

pub fn read_csv(text: &str, rules: &RecordRules) -> Checked {
    let mut checked = Checked::default();
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(headers) => headers.clone(),
        Err(e) => {
            checked.push(1, Err(vec![Problem::row(csv_reason(&e))]));
            return checked;
        }
    };
    for result in reader.records() {
        let record = match result {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                checked.push(line, Err(vec![Problem::row(csv_reason(&e))]));
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    break;
                }
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        checked.push(line, csv_row(&headers, &record, rules));
    }
    checked.unique()
}

fn csv_row(
    headers: &csv::StringRecord,
    record: &csv::StringRecord,
    rules: &RecordRules,
) -> Result<RecordUpsert, Vec<Problem>> {
    let mut key = None;
    let mut roles = Vec::new();
    let mut active = true;
    let mut fields = BTreeMap::new();
    let mut problems = Vec::new();
    for (name, value) in headers.iter().zip(record.iter()) {
        match name {
            "key" => key = Some(value.to_string()).filter(|k| !k.is_empty()),
            "roles" => roles = value.split(';').map(str::trim).filter(|r| !r.is_empty()).map(String::from).collect(),
            "active" => match parse_bool(value) {
                Ok(value) => active = value,
                Err(why) => problems.push(Problem::of("active", why)),
            },
            _ if value.is_empty() => {}
            _ => {
                fields.insert(name.to_string(), value.to_string());
            }
        }
    }
    and_problems(problems, build(rules, key, fields, roles, active))
}

/// `built`, unless problems found before it or by it.
fn and_problems(
    mut problems: Vec<Problem>,
    built: Result<RecordUpsert, Vec<Problem>>,
) -> Result<RecordUpsert, Vec<Problem>> {
    match built {
        Ok(record) if problems.is_empty() => Ok(record),
        Ok(_) => Err(problems),
        Err(more) => {
            problems.extend(more);
            Err(problems)
        }
    }
}

/// The csv crate's message without its `record N (line: N, byte: N)` prefix: the
/// report names the line itself, once.
fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("has {len} fields where the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "is not valid UTF-8".into(),
        _ => {
            let text = e.to_string();
            match text.split_once("): ") {
                Some((_, reason)) => reason.to_string(),
                None => text,
            }
        }
    }
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

pub fn read_jsonl(text: &str, rules: &RecordRules) -> Checked {
    let mut checked = Checked::default();
    for (index, raw) in text.lines().enumerate() {
        let line = index as u64 + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let row = serde_json::from_str::<JsonRecord>(raw)
            .map_err(|e| vec![Problem::row(json_reason(&e))])
            .and_then(|parsed| from_json(rules, parsed));
        checked.push(line, row);
    }
    checked.unique()
}

/// serde_json's message without its `at line 1 column N` (every JSONL row is line 1):
/// the column is kept, the report names the line.
fn json_reason(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rsplit_once(" at line ") {
        Some((reason, _)) => format!("{reason} (column {})", e.column()),
        None => text,
    }
}

/// The key defaults to the directory's first identifier field; identifier values are
/// normalized the same way identify normalizes what a person types. Every problem of
/// the row is reported, not only the first.
pub fn build(
    rules: &RecordRules,
    key: Option<String>,
    fields: BTreeMap<String, String>,
    roles: Vec<String>,
    active: bool,
) -> Result<RecordUpsert, Vec<Problem>> {
    let dir = rules.dir;
    let first = &dir.identifiers[0];
    let mut problems = Vec::new();
    let key = key.or_else(|| fields.get(first).cloned());
    match &key {
        None => problems.push(Problem::row(format!("no `key` column and no `{first}` to use as the key"))),
        Some(key) if key.chars().count() > MAX_KEY_CHARS || key.chars().any(char::is_control) || key.contains('/') => {
            problems.push(Problem::of("key", "must have at most 128 printable characters and no `/`"));
        }
        Some(_) => {}
    }
    let mut identifiers = Vec::new();
    for field in &dir.identifiers {
        if let Some(value) = fields.get(field) {
            match identifier::normalize(value) {
                Some(normalized) => identifiers.push((field.clone(), normalized)),
                None => problems.push(Problem::of(field, format!("{value:?} is not a usable identifier"))),
            }
        }
    }
    problems.extend(rules.address_problems(&fields));
    match key {
        Some(key) if problems.is_empty() => {
            Ok(RecordUpsert { directory: dir.name.clone(), key, fields, roles, active, identifiers })
        }
        _ => Err(problems),
    }
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "" | "true" => Ok(true),
        "false" => Ok(false),
        other => Err(format!("must be true or false, not {other:?}")),
    }
}

/// One JSON record (a JSONL line, an admin PUT body) checked into an upsert.
pub fn from_json(rules: &RecordRules, parsed: JsonRecord) -> Result<RecordUpsert, Vec<Problem>> {
    let mut fields = BTreeMap::new();
    let mut problems = Vec::new();
    for (name, value) in parsed.fields {
        let text = match value {
            Value::Null => continue,
            Value::String(s) if s.is_empty() => continue,
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => {
                problems.push(Problem::of(&name, "must be a string, number or boolean"));
                continue;
            }
        };
        fields.insert(name, text);
    }
    and_problems(problems, build(rules, parsed.key, fields, parsed.roles, parsed.active))
}

/// The problems of one record in one message (an admin PUT).
pub fn describe_problems(problems: &[Problem]) -> String {
    problems.iter().map(Problem::to_string).collect::<Vec<_>>().join("; ")
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
