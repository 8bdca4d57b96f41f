use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder};

use super::{Store, StoreResult, execute};
use crate::clock::Millis;

pub use entity::challenge::Model as Challenge;

pub const ACTIVE: &str = "active";
pub const CONSUMED: &str = "consumed";
pub const DEAD: &str = "dead";
/// Killed by its last allowed attempt, which may still turn out to be the right code.
pub const EXHAUSTED: &str = "exhausted";

/// Why a conditional challenge update found nothing to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The attempt is counted; `attempts` includes it.
    Reserved {
        attempts: u32,
    },
    Refused,
}

impl Store {
    /// Inserts `challenge` after ending any other live challenge of its conversation.
    pub async fn start_challenge(&self, challenge: Challenge) -> StoreResult<()> {
        self.kill_challenges(&challenge.conversation_id).await?;
        challenge.into_active_model().insert(self.db()).await?;
        Ok(())
    }

    pub async fn live_challenge(&self, conversation_id: &str) -> StoreResult<Option<Challenge>> {
        use entity::challenge::Column;
        Ok(entity::challenge::Entity::find()
            .filter(Column::ConversationId.eq(conversation_id))
            .filter(Column::Status.eq(ACTIVE))
            .order_by_desc(Column::CreatedAt)
            .one(self.reader())
            .await?)
    }

    pub async fn kill_challenges(&self, conversation_id: &str) -> StoreResult<u64> {
        let stmt = self.sql(
            "UPDATE challenges SET status = $1 WHERE conversation_id = $2 AND status = $3",
            [DEAD.into(), conversation_id.into(), ACTIVE.into()],
        );
        execute(self.db(), stmt).await
    }

    pub async fn kill_challenge(&self, id: &str) -> StoreResult<()> {
        let stmt = self.sql(
            "UPDATE challenges SET status = $1 WHERE id = $2 AND status = $3",
            [DEAD.into(), id.into(), ACTIVE.into()],
        );
        execute(self.db(), stmt).await.map(drop)
    }

    /// Points a live challenge at another delivery method (a fallback after a provider
    /// failure), with the hash of the code that method verifies.
    pub async fn retarget_challenge(&self, challenge: &Challenge) -> StoreResult<()> {
        let stmt = self.sql(
            "UPDATE challenges SET method = $1, masked_destination = $2, code_hash = $3 WHERE id = $4 AND status = $5",
            [
                challenge.method.clone().into(),
                challenge.masked_destination.clone().into(),
                challenge.code_hash.clone().into(),
                challenge.id.clone().into(),
                ACTIVE.into(),
            ],
        );
        execute(self.db(), stmt).await.map(drop)
    }

    /// Counts one verify attempt against a live, unexpired code, before the code is
    /// checked; the attempt that reaches `max` kills the challenge in the same statement.
    pub async fn reserve_attempt(&self, id: &str, max: u32, now: Millis) -> StoreResult<AttemptOutcome> {
        let stmt = self.sql(
            "UPDATE challenges SET attempts = attempts + 1,
               status = CASE WHEN attempts + 1 >= $1 THEN $2 ELSE status END
             WHERE id = $3 AND status = $4 AND attempts < $1 AND expires_at > $5
             RETURNING attempts",
            [(max as i32).into(), EXHAUSTED.into(), id.into(), ACTIVE.into(), now.into()],
        );
        Ok(match self.db().query_one_raw(stmt).await? {
            Some(row) => AttemptOutcome::Reserved { attempts: row.try_get::<i32>("", "attempts")? as u32 },
            None => AttemptOutcome::Refused,
        })
    }

    /// Marks the code used. Only one caller can win, even when the right code arrives
    /// several times at once; the last allowed attempt may have exhausted it already.
    pub async fn consume_challenge(&self, db: &impl ConnectionTrait, id: &str) -> StoreResult<bool> {
        let stmt = self.sql(
            "UPDATE challenges SET status = $1 WHERE id = $2 AND status IN ($3, $4) AND attempts > 0",
            [CONSUMED.into(), id.into(), ACTIVE.into(), EXHAUSTED.into()],
        );
        Ok(execute(db, stmt).await? == 1)
    }

    /// Replaces the code (the old one dies with it) if a send is left and the cooldown
    /// has passed. Returns the number of sends including this one.
    pub async fn replace_code(&self, id: &str, code_hash: &str, resend: &Resend) -> StoreResult<Option<u32>> {
        let stmt = self.sql(
            "UPDATE challenges SET code_hash = $1, expires_at = $2, last_sent_at = $3, attempts = 0, sends = sends + 1
             WHERE id = $4 AND status = $5 AND sends < $6 AND last_sent_at <= $7
             RETURNING sends",
            [
                code_hash.into(),
                resend.expires_at.into(),
                resend.now.into(),
                id.into(),
                ACTIVE.into(),
                (resend.max_sends as i32).into(),
                (resend.now - resend.cooldown_ms).into(),
            ],
        );
        Ok(match self.db().query_one_raw(stmt).await? {
            Some(row) => Some(row.try_get::<i32>("", "sends")? as u32),
            None => None,
        })
    }
}

impl Store {
    /// Gives back the send of a resend whose delivery failed, cooldown included.
    pub async fn refund_send(&self, id: &str) -> StoreResult<()> {
        let stmt = self
            .sql("UPDATE challenges SET sends = sends - 1, last_sent_at = 0 WHERE id = $1 AND sends > 1", [id.into()]);
        execute(self.db(), stmt).await.map(drop)
    }
}

pub struct Resend {
    pub now: Millis,
    pub expires_at: Millis,
    pub max_sends: u32,
    pub cooldown_ms: Millis,
}
