//! Events in a time range, oldest first, read in pages so that no export holds more than
//! one page in memory however large the trail.
use entity::audit_event::{Column, Entity, Model};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::clock::Millis;
use crate::store::{Store, StoreResult};

const PAGE: u64 = 1000;

/// A time range: `since` inclusive, `until` exclusive.
#[derive(Debug, Clone, Copy, Default)]
pub struct Range {
    pub since: Option<Millis>,
    pub until: Option<Millis>,
}

impl Store {
    /// Calls `each` with every event in `range`, in id order, page by page; stops at
    /// the first error `each` returns. Returns how many events it handed over.
    pub async fn export_audit<E>(
        &self,
        range: Range,
        mut each: impl FnMut(&Model) -> Result<(), E>,
    ) -> StoreResult<Result<u64, E>> {
        let mut after = i64::MIN;
        let mut count = 0;
        loop {
            let mut query = Entity::find().filter(Column::Id.gt(after)).order_by_asc(Column::Id).limit(PAGE);
            if let Some(since) = range.since {
                query = query.filter(Column::At.gte(since));
            }
            if let Some(until) = range.until {
                query = query.filter(Column::At.lt(until));
            }
            let page = query.all(self.reader()).await?;
            for event in &page {
                if let Err(e) = each(event) {
                    return Ok(Err(e));
                }
                count += 1;
            }
            match page.last() {
                Some(last) if page.len() as u64 == PAGE => after = last.id,
                _ => return Ok(Ok(count)),
            }
        }
    }
}
