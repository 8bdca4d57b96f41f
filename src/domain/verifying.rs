//! verify: one counted attempt against the pending code, under the per-challenge and
//! per-record limits, and the login when it is right.
use serde_json::json;

use super::challenge::Challenge;
use super::decisions::{VerifyVerdict, decide_verify, judge_attempt, why_refused};
use super::{Address, Auth, Client, Code, ConversationState, FlowError, FlowResult, OTP_SCOPE};
use crate::clock::seconds_until;
use crate::store::challenges::AttemptOutcome;
use crate::store::guards::Reservation;

impl Auth {
    pub async fn verify(&self, client: &Client, address: &Address, code: &str) -> FlowResult<ConversationState> {
        let code = Code::parse(code, self.config.otp.length)?;
        let now = self.now();
        let conversation = self.store.find_conversation(address).await?.ok_or(FlowError::NoPendingChallenge)?;
        if self.live_session(&conversation, address, now).await?.is_some() {
            return Err(FlowError::AlreadyAuthenticated);
        }
        let challenge = self.store.live_challenge(&conversation).await?.ok_or(FlowError::NoPendingChallenge)?;
        self.flow_for(client, &challenge.flow)?;
        if let Err(refusal) = decide_verify(Some(&challenge), now) {
            self.audit("code.expired", address, None, json!({"challenge_id": challenge.id})).await?;
            return Err(refusal);
        }
        let policy = self.policy();
        let attempts = match self.store.reserve_attempt(&challenge.id, policy.max_attempts, now).await? {
            AttemptOutcome::Reserved { attempts } => attempts,
            AttemptOutcome::Refused => return Err(why_refused(self.store.challenge_status(&challenge.id).await?, now)),
        };
        let record_locks_now = self.count_record_try(&challenge, address).await?;
        let matches = self.code_matches(&challenge, code.into_string()).await?;
        let verdict = judge_attempt(matches, challenge.record_id, attempts, &policy);
        let attempts_remaining = match verdict {
            VerifyVerdict::Login { record_id } => return self.complete_login(&challenge, record_id, address).await,
            VerifyVerdict::Wrong { attempts_remaining } => attempts_remaining,
            VerifyVerdict::Exhausted => 0,
        };
        let detail = json!({"challenge_id": challenge.id, "attempts_remaining": attempts_remaining});
        self.audit("code.failed", address, None, detail).await?;
        if record_locks_now {
            let detail = json!({"lockout_seconds": self.config.otp.record_lockout.as_secs()});
            self.audit("lockout.record", address, None, detail).await?;
        }
        Err(verdict.refusal().unwrap_or(FlowError::TooManyAttempts))
    }

    /// Counts the attempt against the record (across codes, conversations and clients);
    /// true if this attempt locks it. A decoy has no record to count against.
    async fn count_record_try(&self, challenge: &Challenge, address: &Address) -> FlowResult<bool> {
        let Some(record_id) = challenge.record_id else {
            return Ok(false);
        };
        let now = self.now();
        match self.store.reserve_try(OTP_SCOPE, &record_id.to_string(), &self.record_limit(), now).await? {
            Reservation::Granted { locked, .. } => Ok(locked),
            Reservation::Locked { until } => {
                self.audit("code.locked", address, None, json!({"challenge_id": challenge.id})).await?;
                Err(FlowError::Locked { retry_after: seconds_until(now, until) })
            }
        }
    }

    async fn complete_login(
        &self,
        challenge: &Challenge,
        record_id: i64,
        address: &Address,
    ) -> FlowResult<ConversationState> {
        let record =
            self.store.find_record(record_id).await?.filter(|r| r.active).ok_or(FlowError::NoPendingChallenge)?;
        let flow = self.config.flow(&challenge.flow).ok_or(FlowError::UnknownFlow)?;
        let session = self.new_session(&challenge.conversation_id, address, &record, flow, Some(challenge.method));
        if !self.store.complete_login(&challenge.id, &session).await? {
            return Err(FlowError::NoPendingChallenge);
        }
        self.store.clear_tries(OTP_SCOPE, &record.id.to_string()).await?;
        self.finish_authentication(session, &record, address).await
    }
}
