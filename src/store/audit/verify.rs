//! Walks the chain from its start (genesis, or the last prune checkpoint) to the head,
//! page by page, and names the first event that does not fit.
use std::collections::BTreeMap;

use entity::audit_event::{Column, Entity, Model};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement};

use super::chain::{GENESIS, Hash, link, parse_hash, read_head};
use crate::store::{Store, StoreResult};

const PAGE: u64 = 1000;

/// The first thing in the trail that does not fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    #[error("event {id} (sequence {seq}) does not match its hash: it was changed, or moved from its place")]
    Changed { id: i64, seq: i64 },
    #[error("event {id} has sequence {seq} where {expected} was due: {} event(s) before it were deleted", seq - expected)]
    Missing { id: i64, seq: i64, expected: i64 },
    #[error("event {id} (sequence {seq}) has a smaller id than the event before it: the rows were reordered")]
    OutOfOrder { id: i64, seq: i64 },
    #[error("the chain stops at sequence {last} {} but its head is at {head}: the last event(s) were deleted", after(*last_id))]
    Truncated { last_id: Option<i64>, last: i64, head: i64 },
    #[error("the chain ends at sequence {seq} {} but its head holds another hash: the head or the end of the chain was rewritten", after(*id))]
    Head { id: Option<i64>, seq: i64 },
    #[error("checkpoint {checkpoint} vouches for sequence {seq}, which the chain {}", if *reached { "holds with another hash" } else { "no longer reaches" })]
    Checkpoint { checkpoint: i64, seq: i64, reached: bool },
    #[error("event {id} has no place in the chain but is newer than its first event: it was inserted")]
    Unchained { id: i64 },
}

fn after(id: Option<i64>) -> String {
    id.map(|id| format!("(event {id})")).unwrap_or_else(|| "(its start)".into())
}

/// A chain that fits, from `first` to `last` (sequence numbers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub checked: u64,
    pub first: i64,
    pub last: i64,
    /// Events written before the chain existed, which nothing vouches for.
    pub unchained: u64,
    pub checkpoints: usize,
}

/// Where the walk stands.
struct Walk {
    expected: i64,
    previous: Hash,
    previous_id: Option<i64>,
    checked: u64,
}

impl Walk {
    fn step(&mut self, event: &Model) -> Result<Hash, Fault> {
        let seq = event.seq.unwrap_or_default();
        if seq != self.expected {
            return Err(Fault::Missing { id: event.id, seq, expected: self.expected });
        }
        if self.previous_id.is_some_and(|previous| event.id <= previous) {
            return Err(Fault::OutOfOrder { id: event.id, seq });
        }
        let hash = link(&self.previous, event);
        if event.hash.as_deref().and_then(parse_hash) != Some(hash) {
            return Err(Fault::Changed { id: event.id, seq });
        }
        self.previous = hash;
        self.previous_id = Some(event.id);
        self.expected += 1;
        self.checked += 1;
        Ok(hash)
    }
}

impl Store {
    /// Checks the whole trail. The head is read first: events committed during the walk
    /// lie beyond it and are left for the next run.
    pub async fn verify_audit(&self) -> StoreResult<Result<Report, Fault>> {
        let db = self.reader();
        let head = read_head(db).await?;
        let checkpoints = self.audit_checkpoints().await?;
        let (base_seq, base_hash) = checkpoints
            .iter()
            .filter(|c| c.kind == super::checkpoints::PRUNE)
            .max_by_key(|c| c.seq)
            .map_or((0, GENESIS), |c| (c.seq, parse_hash(&c.hash).unwrap_or_default()));
        let mut vouched: BTreeMap<i64, Vec<&entity::audit_checkpoint::Model>> = BTreeMap::new();
        for checkpoint in checkpoints.iter().filter(|c| c.seq >= base_seq) {
            vouched.entry(checkpoint.seq).or_default().push(checkpoint);
        }
        let fits = |seq: i64, hash: &Hash| match vouched.get(&seq) {
            Some(list) => match list.iter().find(|c| parse_hash(&c.hash).as_ref() != Some(hash)) {
                Some(c) => Err(Fault::Checkpoint { checkpoint: c.id, seq, reached: true }),
                None => Ok(()),
            },
            None => Ok(()),
        };
        let mut walk = Walk { expected: base_seq + 1, previous: base_hash, previous_id: None, checked: 0 };
        if let Err(fault) = fits(base_seq, &base_hash) {
            return Ok(Err(fault));
        }
        loop {
            let page = Entity::find()
                .filter(Column::Seq.gte(walk.expected))
                .filter(Column::Seq.lte(head.seq))
                .order_by_asc(Column::Seq)
                .limit(PAGE)
                .all(db)
                .await?;
            for event in &page {
                let checked = walk.step(event).and_then(|hash| fits(walk.expected - 1, &hash));
                if let Err(fault) = checked {
                    return Ok(Err(fault));
                }
            }
            if (page.len() as u64) < PAGE {
                break;
            }
        }
        let last = walk.expected - 1;
        if last < head.seq {
            return Ok(Err(Fault::Truncated { last_id: walk.previous_id, last, head: head.seq }));
        }
        if walk.previous != head.hash {
            return Ok(Err(Fault::Head { id: walk.previous_id, seq: last }));
        }
        if let Some((&seq, list)) = vouched.range(last + 1..).next() {
            return Ok(Err(Fault::Checkpoint { checkpoint: list[0].id, seq, reached: false }));
        }
        let (unchained, inserted) = self.unchained_events().await?;
        if let Some(id) = inserted {
            return Ok(Err(Fault::Unchained { id }));
        }
        let report =
            Report { checked: walk.checked, first: base_seq + 1, last, unchained, checkpoints: checkpoints.len() };
        Ok(Ok(report))
    }

    /// How many events have no place in the chain, and the first of them that is newer
    /// than the chain's first event (which no honest writer produces).
    async fn unchained_events(&self) -> StoreResult<(u64, Option<i64>)> {
        let db = self.reader();
        let one = |sql: &str| Statement::from_string(db.get_database_backend(), sql.to_string());
        let count = match db.query_one_raw(one("SELECT COUNT(*) AS n FROM audit_events WHERE seq IS NULL")).await? {
            Some(row) => row.try_get::<i64>("", "n")?,
            None => 0,
        };
        if count == 0 {
            return Ok((0, None));
        }
        let inserted = one("SELECT MIN(id) AS id FROM audit_events WHERE seq IS NULL
             AND id > (SELECT MIN(id) FROM audit_events WHERE seq IS NOT NULL)");
        let inserted = match db.query_one_raw(inserted).await? {
            Some(row) => row.try_get::<Option<i64>>("", "id")?,
            None => None,
        };
        Ok((count as u64, inserted))
    }
}
