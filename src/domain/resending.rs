//! resend: a new code for the pending challenge (the old one dies with it), under the
//! send limits of §2 and the delivery limits. A decoy's resend takes the same steps.
use super::challenge::Holder;
use super::decisions::decide_resend;
use super::sending::{CodeSource, Destination};
use super::{Address, Auth, Client, ConversationState, FlowError, FlowResult, OTP_SCOPE};
use crate::clock::{Millis, seconds_until};
use crate::config::FlowConfig;
use crate::crypto::{numeric_code, random_token};
use crate::domain::challenge::Challenge;
use crate::store::challenges::Resend;
use crate::store::records::Record;

/// Where a new code goes.
enum Target {
    Record {
        record: Record,
        to: Destination,
        source: CodeSource,
    },
    /// The decoy's pseudonym: nothing is sent, but the send is counted and timed.
    Decoy(String),
}

impl Auth {
    pub async fn resend(&self, client: &Client, address: &Address) -> FlowResult<ConversationState> {
        self.audited(self.resend_step(client, address)).await
    }

    async fn resend_step(&self, client: &Client, address: &Address) -> FlowResult<ConversationState> {
        let now = self.now();
        let conversation = self.store.find_conversation(address).await?.ok_or(FlowError::NoPendingChallenge)?;
        if self.live_session(&conversation, address, now).await?.is_some() {
            return Err(FlowError::AlreadyAuthenticated);
        }
        let challenge = self.store.live_challenge(&conversation).await?.ok_or(FlowError::NoPendingChallenge)?;
        let flow = self.flow_for(client, &challenge.flow)?;
        let code = numeric_code(self.config.otp.length);
        let target = self.resend_target(flow, &challenge, &code, now).await?;
        let policy = self.policy();
        decide_resend(&challenge, &policy, now)?;
        let hash = match &target {
            Target::Record { source, .. } => self.hash_of(source).await?,
            // A decoy gets a fresh unguessable hash, so it costs what a real resend costs.
            Target::Decoy(_) => self.codes.hash(random_token(32)).await?,
        };
        let counted = self.reserve_resend(&target, &challenge, address).await?;
        let resend = Resend {
            now,
            expires_at: now + policy.ttl_ms,
            max_sends: policy.max_sends,
            cooldown_ms: policy.cooldown_ms,
        };
        if self.store.replace_code(&challenge.id, &hash, &resend).await?.is_none() {
            if let (true, Target::Record { to, .. }) = (counted, &target) {
                self.release_send(to).await?;
            }
            // Allowed a moment ago, refused by the statement: a racing resend won.
            return Err(decide_resend(&challenge, &policy, now)
                .err()
                .unwrap_or(FlowError::ResendTooSoon { retry_after: seconds_until(0, policy.cooldown_ms).max(1) }));
        }
        let current = self.store.live_challenge(&conversation).await?.ok_or(FlowError::NoPendingChallenge)?;
        let sent = match &target {
            Target::Record { record, to, source } => self.deliver(&current, record, to, source, address).await,
            Target::Decoy(pseudonym) => self.deliver_decoy(&current, pseudonym, address).await,
        };
        if let Err(e) = sent {
            // A send that did not happen is not counted, and may be retried at once.
            self.store.refund_send(&current.id).await?;
            return Err(e);
        }
        Ok(self.pending_view(&current, now))
    }

    /// Counts the resend against the delivery limits (a QA test code is not counted);
    /// whether it was counted.
    async fn reserve_resend(&self, target: &Target, challenge: &Challenge, address: &Address) -> FlowResult<bool> {
        match target {
            Target::Record { source: CodeSource::Test(_), .. } => Ok(false),
            Target::Record { to, .. } => self.reserve_send(to, address).await.map(|()| true),
            Target::Decoy(pseudonym) => {
                let shown = (challenge.method, challenge.masked_destination.as_str());
                self.reserve_decoy_send(shown, pseudonym, address).await.map(|()| true)
            }
        }
    }

    /// Where the new code goes: the challenge's method on the record as it is now. A
    /// record gone inactive takes its challenge with it; a locked record or decoy
    /// gets no new code.
    async fn resend_target(
        &self,
        flow: &FlowConfig,
        challenge: &Challenge,
        code: &str,
        now: Millis,
    ) -> FlowResult<Target> {
        if let Some(until) = self.store.active_lock(OTP_SCOPE, &challenge.holder.guard_subject(), now).await? {
            return Err(self.locked(now, until));
        }
        let id = match &challenge.holder {
            Holder::Decoy(pseudonym) => return Ok(Target::Decoy(pseudonym.clone())),
            Holder::Record(id) => *id,
        };
        let Some(record) = self.store.find_record(id).await?.filter(|r| r.active) else {
            self.store.kill_challenge(&challenge.id).await?;
            return Err(FlowError::NoPendingChallenge);
        };
        let to = self.destinations(flow, &record, Some(challenge.method))?.into_iter().next();
        let to = to.ok_or(FlowError::NoDeliveryMethod)?;
        let source = self.code_source(flow, &to, code);
        Ok(Target::Record { record, to, source })
    }
}
