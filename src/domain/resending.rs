//! resend: a new code for the pending challenge (the old one dies with it), under the
//! send limits of §2 and the delivery limits.
use super::decisions::decide_resend;
use super::sending::{CodeSource, Destination};
use super::{Address, Auth, Client, ConversationState, FlowError, FlowResult, OTP_SCOPE};
use crate::clock::{Millis, seconds_until};
use crate::config::FlowConfig;
use crate::crypto::{numeric_code, random_token};
use crate::domain::challenge::Challenge;
use crate::store::challenges::Resend;
use crate::store::records::Record;

impl Auth {
    pub async fn resend(&self, client: &Client, address: &Address) -> FlowResult<ConversationState> {
        let now = self.now();
        let conversation = self.store.find_conversation(address).await?.ok_or(FlowError::NoPendingChallenge)?;
        if self.live_session(&conversation, address, now).await?.is_some() {
            return Err(FlowError::AlreadyAuthenticated);
        }
        let challenge = self.store.live_challenge(&conversation).await?.ok_or(FlowError::NoPendingChallenge)?;
        let flow = self.flow_for(client, &challenge.flow)?;
        let target = self.resend_target(flow, &challenge, now).await?;
        let policy = self.policy();
        decide_resend(&challenge, &policy, now)?;
        let code = numeric_code(self.config.otp.length);
        let source = target.as_ref().map(|(_, to)| self.code_source(flow, to, &code));
        // A decoy gets a fresh unguessable hash, so it behaves like a real resend.
        let hash = match &source {
            Some(source) => self.hash_of(source).await?,
            None => self.codes.hash(random_token(32)).await?,
        };
        let counted = match (&target, &source) {
            (Some((_, to)), Some(source)) if !matches!(source, CodeSource::Test(_)) => Some(to),
            _ => None,
        };
        if let Some(to) = counted {
            self.reserve_send(to, address).await?;
        }
        let resend = Resend {
            now,
            expires_at: now + policy.ttl_ms,
            max_sends: policy.max_sends,
            cooldown_ms: policy.cooldown_ms,
        };
        if self.store.replace_code(&challenge.id, &hash, &resend).await?.is_none() {
            if let Some(to) = counted {
                self.release_send(to).await?;
            }
            // Allowed a moment ago, refused by the statement: a racing resend won.
            return Err(decide_resend(&challenge, &policy, now)
                .err()
                .unwrap_or(FlowError::ResendTooSoon { retry_after: seconds_until(0, policy.cooldown_ms).max(1) }));
        }
        let current = self.store.live_challenge(&conversation).await?.ok_or(FlowError::NoPendingChallenge)?;
        if let (Some((record, to)), Some(source)) = (target, source)
            && let Err(e) = self.deliver(&current, &record, &to, &source, address).await
        {
            // A send that did not happen is not counted, and may be retried at once.
            self.store.refund_send(&current.id).await?;
            return Err(e);
        }
        Ok(self.pending_view(&current, now))
    }

    /// Where the new code goes: the challenge's method on the record as it is now. None
    /// for a decoy. A record gone inactive takes its challenge with it.
    async fn resend_target(
        &self,
        flow: &FlowConfig,
        challenge: &Challenge,
        now: Millis,
    ) -> FlowResult<Option<(Record, Destination)>> {
        let Some(id) = challenge.record_id else {
            return Ok(None);
        };
        let Some(record) = self.store.find_record(id).await?.filter(|r| r.active) else {
            self.store.kill_challenge(&challenge.id).await?;
            return Err(FlowError::NoPendingChallenge);
        };
        if let Some(until) = self.store.active_lock(OTP_SCOPE, &id.to_string(), now).await? {
            return Err(FlowError::Locked { retry_after: seconds_until(now, until) });
        }
        let to = self.destinations(flow, &record, Some(challenge.method))?.into_iter().next();
        Ok(Some((record, to.ok_or(FlowError::NoDeliveryMethod)?)))
    }
}
