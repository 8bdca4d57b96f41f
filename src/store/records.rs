use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, EntityTrait, Value};

use super::{Store, StoreError, StoreResult, execute, json_list, to_json};
use crate::clock::Millis;

/// A person record as the domain sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: i64,
    pub directory: String,
    pub key: String,
    pub fields: BTreeMap<String, String>,
    pub roles: Vec<String>,
    pub active: bool,
}

impl Record {
    /// `directory/key`, the token subject.
    pub fn subject(&self) -> String {
        format!("{}/{}", self.directory, self.key)
    }

    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }
}

impl TryFrom<entity::record::Model> for Record {
    type Error = StoreError;

    fn try_from(m: entity::record::Model) -> StoreResult<Self> {
        Ok(Self {
            id: m.id,
            fields: serde_json::from_str(&m.fields).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            roles: json_list(&m.roles)?,
            directory: m.directory,
            key: m.key,
            active: m.active,
        })
    }
}

/// A record to write: identifiers are the already normalized values of the
/// directory's identifier fields.
#[derive(Debug, Clone)]
pub struct RecordUpsert {
    pub directory: String,
    pub key: String,
    pub fields: BTreeMap<String, String>,
    pub roles: Vec<String>,
    pub active: bool,
    pub identifiers: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum UpsertError {
    #[error("identifier {field} = {value} already belongs to another record")]
    IdentifierTaken { field: String, value: String },
    #[error("key {key} already appears on line {first_line}")]
    RepeatedKey { key: String, first_line: u64 },
    #[error("{field} = {value} already appears on line {first_line}")]
    RepeatedIdentifier { field: String, value: String, first_line: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Active records of `directory` whose phone field (one of `fields`) holds `phone`
    /// (canonical E.164), at most two: callers only need to know whether it is one.
    /// Phones are not indexed, so the match is a text search narrowed in Rust; it runs
    /// once per dialog, for flows with `offer_channel_number`.
    pub async fn records_with_phone(&self, directory: &str, fields: &[&str], phone: &str) -> StoreResult<Vec<Record>> {
        let needle = format!("%\"{}\"%", phone.replace(['%', '_', '\\'], ""));
        let stmt = self.sql(
            "SELECT * FROM records WHERE directory = $1 AND active = $2 AND fields LIKE $3 LIMIT 50",
            [directory.into(), true.into(), needle.into()],
        );
        let rows = entity::record::Entity::find().from_raw_sql(stmt).all(self.reader()).await?;
        let mut found = Vec::new();
        for row in rows {
            let record = Record::try_from(row)?;
            let has_it = fields.iter().any(|f| {
                record
                    .field(f)
                    .and_then(|v| crate::delivery::normalize_address(crate::delivery::Method::Sms, v))
                    .as_deref()
                    == Some(phone)
            });
            if has_it && found.len() < 2 {
                found.push(record);
            }
        }
        Ok(found)
    }

    /// The active record whose identifier `field` equals `value`: one primary-key lookup.
    pub async fn find_record_by_identifier(
        &self,
        directory: &str,
        field: &str,
        value: &str,
    ) -> StoreResult<Option<Record>> {
        let stmt = self.sql(
            "SELECT r.* FROM record_identifiers i JOIN records r ON r.id = i.record_id
             WHERE i.directory = $1 AND i.field = $2 AND i.value = $3 AND r.active = $4",
            [directory.into(), field.into(), value.into(), true.into()],
        );
        let model = entity::record::Entity::find().from_raw_sql(stmt).one(self.reader()).await?;
        model.map(Record::try_from).transpose()
    }

    pub async fn find_record(&self, id: i64) -> StoreResult<Option<Record>> {
        entity::record::Entity::find_by_id(id).one(self.reader()).await?.map(Record::try_from).transpose()
    }

    /// Inserts or replaces one record and its identifier rows on `db` (a transaction
    /// during imports, so that a failing row leaves nothing behind).
    pub async fn upsert_record(
        &self,
        db: &impl ConnectionTrait,
        record: &RecordUpsert,
        now: Millis,
    ) -> Result<i64, UpsertError> {
        self.upsert(db, record, now, false).await
    }

    /// [`Store::upsert_record`], but an identifier another record holds moves to this one:
    /// for a checked import, where that other record is part of the same import.
    pub(super) async fn upsert_taking_over(
        &self,
        db: &impl ConnectionTrait,
        record: &RecordUpsert,
        now: Millis,
    ) -> Result<i64, UpsertError> {
        self.upsert(db, record, now, true).await
    }

    async fn upsert(
        &self,
        db: &impl ConnectionTrait,
        record: &RecordUpsert,
        now: Millis,
        take_over: bool,
    ) -> Result<i64, UpsertError> {
        self.record_written();
        let stmt = self.sql(
            "INSERT INTO records (directory, key, fields, roles, active, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (directory, key) DO UPDATE SET fields = excluded.fields, roles = excluded.roles,
               active = excluded.active, updated_at = excluded.updated_at
             RETURNING id",
            [
                record.directory.clone().into(),
                record.key.clone().into(),
                to_json(&record.fields).into(),
                to_json(&record.roles).into(),
                record.active.into(),
                now.into(),
            ],
        );
        let row = db
            .query_one_raw(stmt)
            .await
            .map_err(StoreError::from)?
            .ok_or_else(|| StoreError::Corrupt("upsert returned no row".into()))?;
        let id: i64 = row.try_get("", "id").map_err(StoreError::from)?;
        execute(db, self.sql("DELETE FROM record_identifiers WHERE record_id = $1", [id.into()])).await?;
        for (field, value) in &record.identifiers {
            // DO NOTHING + row count tells a taken identifier apart without aborting a
            // PostgreSQL transaction on a unique violation.
            let values: [Value; 4] =
                [record.directory.clone().into(), field.clone().into(), value.clone().into(), id.into()];
            let insert = self.sql(
                "INSERT INTO record_identifiers (directory, field, value, record_id) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (directory, field, value) DO NOTHING",
                values.clone(),
            );
            let mut inserted = execute(db, insert.clone()).await?;
            if inserted == 0 && take_over {
                let [directory, field, value, _] = values;
                let held = "DELETE FROM record_identifiers WHERE directory = $1 AND field = $2 AND value = $3";
                execute(db, self.sql(held, [directory, field, value])).await?;
                inserted = execute(db, insert).await?;
            }
            if inserted == 0 {
                return Err(UpsertError::IdentifierTaken { field: field.clone(), value: value.clone() });
            }
        }
        Ok(id)
    }
}

impl Store {
    pub async fn find_record_by_key(&self, directory: &str, key: &str) -> StoreResult<Option<Record>> {
        use entity::record::Column;
        use sea_orm::{ColumnTrait, QueryFilter};
        let model = entity::record::Entity::find()
            .filter(Column::Directory.eq(directory))
            .filter(Column::Key.eq(key))
            .one(self.reader())
            .await?;
        model.map(Record::try_from).transpose()
    }

    /// Deletes the record and its identifier rows, both or neither.
    pub async fn delete_record(&self, id: i64) -> StoreResult<()> {
        use sea_orm::TransactionTrait;
        self.record_written();
        let txn = self.db().begin().await?;
        execute(&txn, self.sql("DELETE FROM record_identifiers WHERE record_id = $1", [id.into()])).await?;
        execute(&txn, self.sql("DELETE FROM records WHERE id = $1", [id.into()])).await?;
        Ok(txn.commit().await?)
    }
}
