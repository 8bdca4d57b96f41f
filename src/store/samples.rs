//! A stable sample of a directory's records: what a decoy is made to resemble.
use sea_orm::EntityTrait;

use super::records::Record;
use super::{Store, StoreResult};

impl Store {
    /// The first `limit` active records of `directory` by id. The oldest records change
    /// least, so decoys shaped after them stay as stable as a record does.
    pub async fn first_records(&self, directory: &str, limit: u64) -> StoreResult<Vec<Record>> {
        let stmt = self.sql(
            "SELECT * FROM records WHERE directory = $1 AND active = $2 ORDER BY id LIMIT $3",
            [directory.into(), true.into(), (limit as i64).into()],
        );
        let rows = entity::record::Entity::find().from_raw_sql(stmt).all(self.reader()).await?;
        rows.into_iter().map(Record::try_from).collect()
    }
}
