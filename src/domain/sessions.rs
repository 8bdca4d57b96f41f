//! Sessions: started by a login, kept alive by activity, ended by idleness, age,
//! the bot (DELETE) or the record going inactive.
use serde_json::json;

use super::challenge::Challenge;
use super::tokens::Minting;
use super::{Address, Auth, ConversationState, FlowError, FlowResult, SessionView, SubjectView};
use crate::clock::{Millis, millis, rfc3339};
use crate::config::FlowConfig;
use crate::crypto::random_token;
use crate::delivery::Method;
use crate::store::records::Record;
use crate::store::sessions::{Lifetime, Session};

impl Auth {
    /// The conversation's session if it is alive at `now`; a session found past its
    /// end is ended here, so the conversation reads `unidentified` from then on.
    pub(super) async fn live_session(
        &self,
        conversation: &str,
        address: &Address,
        now: Millis,
    ) -> FlowResult<Option<Session>> {
        let Some(session) = self.store.open_session(conversation).await? else {
            return Ok(None);
        };
        self.alive_or_ended(session, address, now).await
    }

    /// `session` if it is alive at `now`; otherwise it is ended here (idle or too old).
    pub(super) async fn alive_or_ended(
        &self,
        session: Session,
        address: &Address,
        now: Millis,
    ) -> FlowResult<Option<Session>> {
        if session.is_alive(now) {
            return Ok(Some(session));
        }
        let reason = if now >= session.expires_at { "max_lifetime" } else { "idle_timeout" };
        self.end(&session, reason, address).await?;
        Ok(None)
    }

    pub(super) async fn end(&self, session: &Session, reason: &str, address: &Address) -> FlowResult<()> {
        super::ending::end_and_audit(&self.store, session, reason, Some(address), self.now()).await?;
        Ok(())
    }

    /// The session a login starts; stored by whoever completes the login.
    pub(super) fn new_session(
        &self,
        conversation: &str,
        address: &Address,
        record: &Record,
        flow: &FlowConfig,
        code_sent_by: Option<Method>,
    ) -> Session {
        let with_otp = code_sent_by.is_some();
        let now = self.now();
        Session {
            id: random_token(16),
            conversation_id: conversation.to_string(),
            client_id: address.client_id.clone(),
            channel: address.channel.clone(),
            record_id: record.id,
            flow: flow.name.clone(),
            acr: if with_otp { "loa2" } else { "loa1" }.into(),
            amr: amr(code_sent_by),
            auth_time: now,
            last_activity: now,
            idle_timeout_ms: millis(self.config.sessions.idle_timeout),
            expires_at: now + millis(self.config.sessions.max_lifetime),
            ended_at: None,
            end_reason: None,
        }
    }

    /// A flow without OTP: the matched identifier is enough (acr loa1).
    pub(super) async fn authenticate(
        &self,
        conversation: &str,
        address: &Address,
        record: &Record,
        flow: &FlowConfig,
    ) -> FlowResult<ConversationState> {
        let session = self.new_session(conversation, address, record, flow, None);
        self.store.start_session(&session).await?;
        self.finish_authentication(session, record, address).await
    }

    pub(super) async fn finish_authentication(
        &self,
        session: Session,
        record: &Record,
        address: &Address,
    ) -> FlowResult<ConversationState> {
        let detail = json!({"sid": session.id, "flow": session.flow, "acr": session.acr});
        self.audit("authenticated", address, Some(record.subject()), detail).await?;
        let tokens =
            self.issue_tokens(&session, record, address, session.last_activity, Minting::WithRefreshToken).await?;
        Ok(authenticated_view(&session, record, Some(tokens)))
    }

    pub async fn state(&self, address: &Address) -> FlowResult<ConversationState> {
        let now = self.now();
        let Some(conversation) = self.store.find_conversation(address).await? else {
            return Ok(ConversationState::Unidentified);
        };
        if let Some(session) = self.live_session(&conversation, address, now).await? {
            let record = self.store.find_record(session.record_id).await?.ok_or(FlowError::NotAuthenticated)?;
            return Ok(authenticated_view(&session, &record, None));
        }
        Ok(match self.store.live_challenge(&conversation).await? {
            Some(challenge) if challenge.is_pending(&self.policy(), now) => self.pending_view(&challenge, now),
            _ => ConversationState::Unidentified,
        })
    }

    /// A fresh access token for the conversation's live session; counts as activity.
    /// Usually answered from memory (see [`super::live`]): one signature, and the
    /// activity written with the audit event, in a batch shared with other refreshes.
    pub async fn token(&self, address: &Address) -> FlowResult<ConversationState> {
        let now = self.now();
        if let Some(live) = self.live.touch(address, &self.store, now) {
            let tokens = self.issue_tokens(&live.session, &live.record, address, now, Minting::Touching).await?;
            return Ok(authenticated_view(&live.session, &live.record, Some(tokens)));
        }
        let record_writes = self.store.record_writes();
        let conversation = self.store.find_conversation(address).await?.ok_or(FlowError::NotAuthenticated)?;
        let session = self.live_session(&conversation, address, now).await?.ok_or(FlowError::NotAuthenticated)?;
        let (session, record, tokens) = self.refreshed(session, address, now, Minting::AccessOnly).await?;
        let state = authenticated_view(&session, &record, Some(tokens));
        self.live.keep(address, session, record, now, record_writes);
        Ok(state)
    }

    /// Fresh tokens for a live session at `now`; counts as activity. A record gone
    /// inactive ends the session instead. `rotate` also issues a new refresh token (the
    /// OAuth refresh grant); the conversation API's `token` does not need one.
    pub(super) async fn refresh_session(
        &self,
        session: Session,
        address: &Address,
        now: Millis,
        rotate: bool,
    ) -> FlowResult<ConversationState> {
        let minting = if rotate { Minting::WithRefreshToken } else { Minting::AccessOnly };
        let (session, record, tokens) = self.refreshed(session, address, now, minting).await?;
        Ok(authenticated_view(&session, &record, Some(tokens)))
    }

    /// [`Self::refresh_session`] through the database: the activity is written only if
    /// the session is still alive there, and the record is read again.
    async fn refreshed(
        &self,
        session: Session,
        address: &Address,
        now: Millis,
        minting: Minting,
    ) -> FlowResult<(Session, Record, super::TokenSet)> {
        if !self.store.touch_session(&session.id, now).await? {
            return Err(FlowError::NotAuthenticated);
        }
        let record = match self.store.find_record(session.record_id).await?.filter(|r| r.active) {
            Some(record) => record,
            None => {
                self.end(&session, "record_inactive", address).await?;
                return Err(FlowError::NotAuthenticated);
            }
        };
        let session = Session { last_activity: now, ..session };
        let tokens = self.issue_tokens(&session, &record, address, now, minting).await?;
        Ok((session, record, tokens))
    }

    /// Cancels a pending code and ends the session, whichever there is.
    pub async fn cancel(&self, address: &Address) -> FlowResult<()> {
        let Some(conversation) = self.store.find_conversation(address).await? else {
            return Ok(());
        };
        if self.store.kill_challenges(&conversation).await? > 0 {
            self.audit("challenge.cancelled", address, None, json!({})).await?;
        }
        if let Some(session) = self.store.open_session(&conversation).await? {
            self.end(&session, "ended_by_client", address).await?;
        }
        Ok(())
    }

    pub(super) fn pending_view(&self, challenge: &Challenge, now: Millis) -> ConversationState {
        ConversationState::Pending { flow: challenge.flow.clone(), challenge: challenge.view(&self.policy(), now) }
    }
}

fn authenticated_view(session: &Session, record: &Record, tokens: Option<super::TokenSet>) -> ConversationState {
    ConversationState::Authenticated {
        flow: session.flow.clone(),
        subject: SubjectView { id: record.subject(), roles: record.roles.clone() },
        session: SessionView {
            id: session.id.clone(),
            idle_timeout: (session.idle_timeout_ms / 1000) as u64,
            expires_at: rfc3339(session.expires_at),
        },
        tokens,
    }
}

/// The session's `amr` (RFC 8176 §2), space-separated as stored: `otp` for a one-time
/// code plus the channel's registered value: `sms` for a code by SMS or WhatsApp (a
/// code spoken by a phone call would be `tel`; no delivery method calls). RFC 8176
/// registers nothing for e-mail, so a code by e-mail is `otp` alone. A login by
/// identifier only is doorman's own `id`.
fn amr(code_sent_by: Option<Method>) -> String {
    match code_sent_by {
        None => "id".into(),
        Some(Method::Sms | Method::Whatsapp) => "otp sms".into(),
        Some(Method::Email) => "otp".into(),
    }
}
