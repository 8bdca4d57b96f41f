use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter};

use super::audit::Touch;
use super::{Store, StoreResult, execute};
use crate::clock::Millis;

/// Sessions per touch statement: two parameters each, far below SQLite's limit.
pub(crate) const TOUCHES_PER_UPDATE: usize = 500;

/// The latest touch of each session in `touches`, in the order of their ids.
pub(crate) fn latest_touches(mut touches: Vec<Touch>) -> Vec<Touch> {
    touches.sort_by(|a, b| a.session_id.cmp(&b.session_id).then(b.at.cmp(&a.at)));
    touches.dedup_by(|later, first| later.session_id == first.session_id);
    touches
}

/// The statement that records the activity of `rows` sessions, given as (id, at) pairs
/// of parameters named by `param` in order: `$n` in a statement of its own, `?` among
/// several statements in one query. `only_if` is a further condition, or empty.
pub(crate) fn touch_sql(rows: usize, mut param: impl FnMut() -> String, only_if: &str) -> String {
    let values: Vec<String> = (0..rows).map(|_| format!("({}, {})", param(), param())).collect();
    format!(
        "WITH t (id, at) AS (VALUES {}) UPDATE sessions SET last_activity = t.at FROM t
         WHERE sessions.id = t.id AND sessions.ended_at IS NULL AND sessions.last_activity < t.at{only_if}",
        values.join(", ")
    )
}

pub use entity::session::Model as Session;

pub trait Lifetime {
    fn ends_at(&self) -> Millis;
    fn is_alive(&self, now: Millis) -> bool;
}

impl Lifetime for Session {
    /// When the session ends if nothing else happens: idle deadline or absolute end.
    fn ends_at(&self) -> Millis {
        (self.last_activity + self.idle_timeout_ms).min(self.expires_at)
    }

    fn is_alive(&self, now: Millis) -> bool {
        self.ended_at.is_none() && now < self.ends_at()
    }
}

impl Store {
    /// Inserts `session`, ending any other open session of its conversation: a
    /// conversation has one session at a time even when two logins race.
    pub async fn insert_session(&self, db: &impl ConnectionTrait, session: Session) -> StoreResult<()> {
        let supersede = self.sql(
            "UPDATE sessions SET ended_at = $1, end_reason = $2 WHERE conversation_id = $3 AND ended_at IS NULL
             RETURNING id",
            [session.auth_time.into(), "superseded".into(), session.conversation_id.clone().into()],
        );
        // Marked as ended before the commit: at worst a token of the older session is
        // refused a moment early, never accepted late.
        for row in db.query_all_raw(supersede).await? {
            self.ended.insert(row.try_get("", "id")?, session.auth_time);
        }
        session.into_active_model().insert(db).await?;
        Ok(())
    }

    /// Starts `session` on its own (a login without a code to consume).
    pub async fn start_session(&self, session: &Session) -> StoreResult<()> {
        self.insert_session(self.db(), session.clone()).await
    }

    /// The conversation's session that has not been ended explicitly (it may have
    /// timed out: callers check [`Session::is_alive`]).
    pub async fn open_session(&self, conversation_id: &str) -> StoreResult<Option<Session>> {
        use entity::session::Column;
        Ok(entity::session::Entity::find()
            .filter(Column::ConversationId.eq(conversation_id))
            .filter(Column::EndedAt.is_null())
            .one(self.reader())
            .await?)
    }

    /// Records activity if the session is still alive at `now`; false if it is over.
    pub async fn touch_session(&self, id: &str, now: Millis) -> StoreResult<bool> {
        let stmt = self.sql(
            "UPDATE sessions SET last_activity = $1
             WHERE id = $2 AND ended_at IS NULL AND expires_at > $1 AND last_activity + idle_timeout_ms > $1",
            [now.into(), id.into()],
        );
        Ok(execute(self.db(), stmt).await? == 1)
    }

    /// Records each session's latest activity of `touches`, in as few statements as the
    /// parameter limits allow. Activity never moves back, and an ended session stays as
    /// it ended.
    pub(crate) async fn touch_sessions_in(&self, db: &impl ConnectionTrait, touches: Vec<Touch>) -> StoreResult<()> {
        for chunk in latest_touches(touches).chunks(TOUCHES_PER_UPDATE) {
            let mut n = 0;
            let param = || {
                n += 1;
                format!("${n}")
            };
            let sql = touch_sql(chunk.len(), param, "");
            let values = chunk.iter().flat_map(|t| [t.session_id.clone().into(), t.at.into()]);
            execute(db, self.sql(&sql, values)).await?;
        }
        Ok(())
    }

    /// Ends the session; false if it had already ended.
    pub async fn end_session(&self, id: &str, reason: &str, now: Millis) -> StoreResult<bool> {
        let stmt = self.sql(
            "UPDATE sessions SET ended_at = $1, end_reason = $2 WHERE id = $3 AND ended_at IS NULL",
            [now.into(), reason.into(), id.into()],
        );
        let ended = execute(self.db(), stmt).await? == 1;
        if ended {
            self.ended.insert(id.to_string(), now);
        }
        Ok(ended)
    }

    pub async fn insert_refresh_token(&self, session_id: &str, token_hash: String, now: Millis) -> StoreResult<()> {
        entity::refresh_token::Model { token_hash, session_id: session_id.to_string(), used: false, created_at: now }
            .into_active_model()
            .insert(self.db())
            .await?;
        Ok(())
    }
}

/// Whose sessions an operator means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionsOf {
    Record(i64),
    Client(String),
}

impl Store {
    pub async fn find_session(&self, id: &str) -> StoreResult<Option<Session>> {
        Ok(entity::session::Entity::find_by_id(id.to_string()).one(self.reader()).await?)
    }

    /// The newest sessions of `whose`, open ones only unless `include_ended`.
    pub async fn list_sessions(
        &self,
        whose: &SessionsOf,
        include_ended: bool,
        limit: u64,
    ) -> StoreResult<Vec<Session>> {
        use entity::session::Column;
        use sea_orm::{QueryOrder, QuerySelect};
        let mut query = entity::session::Entity::find();
        query = match whose {
            SessionsOf::Record(id) => query.filter(Column::RecordId.eq(*id)),
            SessionsOf::Client(id) => query.filter(Column::ClientId.eq(id.as_str())),
        };
        if !include_ended {
            query = query.filter(Column::EndedAt.is_null());
        }
        Ok(query.order_by_desc(Column::AuthTime).limit(limit).all(self.reader()).await?)
    }
}
