//! Checkpoints: signed statements "the chain through sequence N has hash H". Pruning
//! leaves one where the deleted events ended, so the rest of the chain still verifies;
//! an anchor vouches for the current head, so cutting events off the end shows.
//! Signing is the caller's: the store only plans, and applies what was signed.
use entity::audit_checkpoint::{ActiveModel, Column, Entity, Model};
use sea_orm::{
    ActiveValue::NotSet, ConnectionTrait, EntityTrait, IntoActiveModel, QueryOrder, Statement, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use super::chain::{lock_head, read_head};
use crate::clock::Millis;
use crate::store::{Store, StoreResult};

pub const PRUNE: &str = "prune";
pub const ANCHOR: &str = "anchor";

/// What a checkpoint states: the payload its signature covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointStatement {
    pub kind: String,
    pub seq: i64,
    pub hash: String,
    /// Events the prune deletes (those after the previous prune checkpoint).
    pub pruned: i64,
    pub at: Millis,
}

impl CheckpointStatement {
    pub fn of(model: &Model) -> Self {
        Self { kind: model.kind.clone(), seq: model.seq, hash: model.hash.clone(), pruned: model.pruned, at: model.at }
    }
}

/// A prune to be signed: events through `statement.seq`, and unchained ones before
/// `before`, are to go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrunePlan {
    pub statement: CheckpointStatement,
    pub before: Millis,
    /// The sequence the previous prune ended at; the plan is void once it moves.
    base: i64,
}

fn model(statement: &CheckpointStatement, signature: String) -> ActiveModel {
    let mut active = Model {
        id: 0,
        kind: statement.kind.clone(),
        seq: statement.seq,
        hash: statement.hash.clone(),
        pruned: statement.pruned,
        at: statement.at,
        signature,
    }
    .into_active_model();
    active.id = NotSet;
    active
}

async fn scalar(db: &impl ConnectionTrait, sql: &str, values: Vec<sea_orm::Value>) -> StoreResult<Option<i64>> {
    let stmt = Statement::from_sql_and_values(db.get_database_backend(), sql, values);
    Ok(match db.query_one_raw(stmt).await? {
        Some(row) => row.try_get::<Option<i64>>("", "v")?,
        None => None,
    })
}

async fn hash_at(db: &impl ConnectionTrait, seq: i64) -> StoreResult<Option<String>> {
    let stmt = Statement::from_sql_and_values(
        db.get_database_backend(),
        "SELECT hash FROM audit_events WHERE seq = $1",
        [seq.into()],
    );
    Ok(match db.query_one_raw(stmt).await? {
        Some(row) => row.try_get::<Option<String>>("", "hash")?,
        None => None,
    })
}

const LAST_PRUNE: &str = "SELECT MAX(seq) AS v FROM audit_checkpoints WHERE kind = 'prune'";

impl Store {
    /// Every checkpoint, oldest first.
    pub async fn audit_checkpoints(&self) -> StoreResult<Vec<Model>> {
        Ok(Entity::find().order_by_asc(Column::Id).all(self.reader()).await?)
    }

    /// What pruning the events before `before` would delete, or None if nothing. Only
    /// a prefix of the chain can go: it stops at the first event at or after `before`.
    pub async fn plan_audit_prune(&self, before: Millis, now: Millis) -> StoreResult<Option<PrunePlan>> {
        let db = self.reader();
        let base = scalar(db, LAST_PRUNE, vec![]).await?.unwrap_or(0);
        let head = read_head(db).await?;
        let first_kept = scalar(
            db,
            "SELECT MIN(seq) AS v FROM audit_events WHERE seq > $1 AND at >= $2",
            vec![base.into(), before.into()],
        )
        .await?;
        let last = first_kept.map_or(head.seq, |seq| seq - 1);
        if last <= base {
            return Ok(None);
        }
        let Some(hash) = hash_at(db, last).await? else {
            return Ok(None);
        };
        let statement = CheckpointStatement { kind: PRUNE.into(), seq: last, hash, pruned: last - base, at: now };
        Ok(Some(PrunePlan { statement, before, base }))
    }

    /// Deletes what `plan` names and stores its signed checkpoint, in one transaction
    /// under the chain's lock. False, with nothing done, if the trail changed meanwhile.
    pub async fn apply_audit_prune(&self, plan: &PrunePlan, signature: String) -> StoreResult<bool> {
        let txn = self.db().begin().await?;
        lock_head(&txn, 0).await?;
        let base = scalar(&txn, LAST_PRUNE, vec![]).await?.unwrap_or(0);
        if base != plan.base || hash_at(&txn, plan.statement.seq).await?.as_ref() != Some(&plan.statement.hash) {
            return Ok(false);
        }
        Entity::insert(model(&plan.statement, signature)).exec_without_returning(&txn).await?;
        let delete = |sql: &str, values: Vec<sea_orm::Value>| {
            Statement::from_sql_and_values(txn.get_database_backend(), sql, values)
        };
        txn.execute_raw(delete("DELETE FROM audit_events WHERE seq <= $1", vec![plan.statement.seq.into()])).await?;
        txn.execute_raw(delete("DELETE FROM audit_events WHERE seq IS NULL AND at < $1", vec![plan.before.into()]))
            .await?;
        txn.commit().await?;
        Ok(true)
    }

    /// The statement an anchor at the current head makes.
    pub async fn plan_audit_anchor(&self, now: Millis) -> StoreResult<CheckpointStatement> {
        let head = read_head(self.reader()).await?;
        Ok(CheckpointStatement { kind: ANCHOR.into(), seq: head.seq, hash: hex::encode(head.hash), pruned: 0, at: now })
    }

    pub async fn store_audit_anchor(&self, statement: &CheckpointStatement, signature: String) -> StoreResult<()> {
        Entity::insert(model(statement, signature)).exec_without_returning(self.db()).await?;
        Ok(())
    }
}
