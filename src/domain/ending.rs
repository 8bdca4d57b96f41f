//! Ending sessions from anywhere (a conversation, a revocation, an operator), always
//! with its `session.ended` audit event.
use serde_json::json;

use crate::clock::Millis;
use crate::domain::Address;
use crate::store::audit::AuditEvent;
use crate::store::sessions::{Session, SessionsOf};
use crate::store::{Store, StoreResult};

/// Ends `session` if it is still open and records why; false if it had already ended.
pub async fn end_and_audit(
    store: &Store,
    session: &Session,
    reason: &str,
    address: Option<&Address>,
    now: Millis,
) -> StoreResult<bool> {
    if !store.end_session(&session.id, reason, now).await? {
        return Ok(false);
    }
    let event = AuditEvent {
        kind: "session.ended",
        client_id: Some(session.client_id.clone()),
        subject: None,
        conversation: address.map(Address::label),
        detail: json!({"sid": session.id, "reason": reason}),
    };
    store.append_audit(event, now).await?;
    Ok(true)
}

/// Ends one session known by its id; false if there was no open session with it.
pub async fn end_session_by_id(store: &Store, id: &str, reason: &str, now: Millis) -> StoreResult<bool> {
    match store.find_session(id).await? {
        Some(session) if session.ended_at.is_none() => {
            let address = store.conversation_address(&session.conversation_id).await?;
            end_and_audit(store, &session, reason, address.as_ref(), now).await
        }
        _ => Ok(false),
    }
}

/// Ends every open session of a record or a client; returns how many ended.
pub async fn end_sessions_of(store: &Store, whose: &SessionsOf, reason: &str, now: Millis) -> StoreResult<usize> {
    let mut ended = 0;
    for session in store.list_sessions(whose, false, u64::MAX >> 1).await? {
        let address = store.conversation_address(&session.conversation_id).await?;
        if end_and_audit(store, &session, reason, address.as_ref(), now).await? {
            ended += 1;
        }
    }
    Ok(ended)
}
