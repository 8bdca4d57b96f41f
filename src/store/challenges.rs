use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder};

use super::{Store, StoreError, StoreResult, execute};
use crate::clock::Millis;
use crate::domain::challenge::{Challenge, ChallengeStatus, Holder};
use crate::store::sessions::Session;

const ACTIVE: &str = ChallengeStatus::Active.as_str();
const CONSUMED: &str = ChallengeStatus::Consumed.as_str();
const DEAD: &str = ChallengeStatus::Dead.as_str();
const EXHAUSTED: &str = ChallengeStatus::Exhausted.as_str();
const FAILED: &str = ChallengeStatus::Failed.as_str();

impl TryFrom<entity::challenge::Model> for Challenge {
    type Error = StoreError;

    fn try_from(m: entity::challenge::Model) -> StoreResult<Self> {
        let corrupt = |what: &str, value: &str| StoreError::Corrupt(format!("challenge {}: {what} `{value}`", m.id));
        Ok(Self {
            method: m.method.parse().map_err(|_| corrupt("method", &m.method))?,
            status: ChallengeStatus::parse(&m.status).ok_or_else(|| corrupt("status", &m.status))?,
            attempts: u32::try_from(m.attempts).map_err(|_| corrupt("attempts", &m.attempts.to_string()))?,
            sends: u32::try_from(m.sends).map_err(|_| corrupt("sends", &m.sends.to_string()))?,
            // A decoy from before decoys had pseudonyms counts under one shared name.
            holder: match (m.record_id, m.decoy) {
                (Some(id), _) => Holder::Record(id),
                (None, decoy) => Holder::Decoy(decoy.unwrap_or_else(|| "unnamed".into())),
            },
            id: m.id,
            conversation_id: m.conversation_id,
            flow: m.flow,
            masked_destination: m.masked_destination,
            locale: m.locale,
            code_hash: m.code_hash,
            expires_at: m.expires_at,
            last_sent_at: m.last_sent_at,
            created_at: m.created_at,
        })
    }
}

impl From<&Challenge> for entity::challenge::Model {
    fn from(c: &Challenge) -> Self {
        Self {
            id: c.id.clone(),
            conversation_id: c.conversation_id.clone(),
            record_id: c.holder.record_id(),
            decoy: match &c.holder {
                Holder::Decoy(pseudonym) => Some(pseudonym.clone()),
                Holder::Record(_) => None,
            },
            flow: c.flow.clone(),
            method: c.method.as_str().into(),
            masked_destination: c.masked_destination.clone(),
            locale: c.locale.clone(),
            code_hash: c.code_hash.clone(),
            attempts: c.attempts as i32,
            sends: c.sends as i32,
            status: c.status.as_str().into(),
            expires_at: c.expires_at,
            last_sent_at: c.last_sent_at,
            created_at: c.created_at,
        }
    }
}

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
    pub async fn start_challenge(&self, challenge: &Challenge) -> StoreResult<()> {
        self.kill_challenges(&challenge.conversation_id).await?;
        entity::challenge::Model::from(challenge).into_active_model().insert(self.db()).await?;
        Ok(())
    }

    pub async fn live_challenge(&self, conversation_id: &str) -> StoreResult<Option<Challenge>> {
        use entity::challenge::Column;
        let row = entity::challenge::Entity::find()
            .filter(Column::ConversationId.eq(conversation_id))
            .filter(Column::Status.eq(ACTIVE))
            .order_by_desc(Column::CreatedAt)
            .one(self.reader())
            .await?;
        row.map(Challenge::try_from).transpose()
    }

    /// The id and status of the conversation's newest challenge, whatever its status.
    pub async fn latest_challenge(&self, conversation_id: &str) -> StoreResult<Option<(String, ChallengeStatus)>> {
        use entity::challenge::Column;
        let row = entity::challenge::Entity::find()
            .filter(Column::ConversationId.eq(conversation_id))
            .order_by_desc(Column::CreatedAt)
            .one(self.db())
            .await?;
        row.map(|m| Challenge::try_from(m).map(|c| (c.id, c.status))).transpose()
    }

    /// A challenge's status and expiry as they are now (to explain a refused update).
    pub async fn challenge_status(&self, id: &str) -> StoreResult<Option<(ChallengeStatus, Millis)>> {
        let row = entity::challenge::Entity::find_by_id(id.to_string()).one(self.reader()).await?;
        row.map(|m| Challenge::try_from(m).map(|c| (c.status, c.expires_at))).transpose()
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
                challenge.method.as_str().into(),
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

    /// An exhausted challenge whose last attempt was judged wrong: no login can come of it.
    pub async fn settle_failed(&self, id: &str) -> StoreResult<()> {
        let stmt = self.sql(
            "UPDATE challenges SET status = $1 WHERE id = $2 AND status IN ($3, $4)",
            [FAILED.into(), id.into(), EXHAUSTED.into(), ACTIVE.into()],
        );
        execute(self.db(), stmt).await.map(drop)
    }

    /// The login of a right code, in one transaction: the code is used up, the session
    /// starts and the record's failed tries are forgotten (`tries`: their scope and
    /// subject), or none of it happens. False if another caller won the code.
    pub async fn complete_login(
        &self,
        challenge_id: &str,
        session: &Session,
        tries: (&str, &str),
    ) -> StoreResult<bool> {
        let txn = sea_orm::TransactionTrait::begin(self.db()).await?;
        if !self.consume_challenge(&txn, challenge_id).await? {
            return Ok(false);
        }
        self.insert_session(&txn, session.clone()).await?;
        self.clear_tries_in(&txn, tries.0, tries.1).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Marks the code used. Only one caller can win, even when the right code arrives
    /// several times at once; the last allowed attempt may have exhausted it already.
    async fn consume_challenge(&self, db: &impl ConnectionTrait, id: &str) -> StoreResult<bool> {
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
