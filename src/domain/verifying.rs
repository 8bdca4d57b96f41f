//! verify: one counted attempt against the pending code, under the per-challenge and
//! per-record limits, and the login when it is right.
use std::time::Duration;

use serde_json::json;

use super::challenge::{Challenge, ChallengeStatus, Holder, decoy_subject};
use super::decisions::{VerifyVerdict, decide_verify, judge_attempt, why_refused};
use super::{Address, Auth, Client, Code, ConversationState, FlowError, FlowResult, OTP_SCOPE};
use crate::clock::Millis;
use crate::store::challenges::AttemptOutcome;
use crate::store::guards::{Reservation, UNTIL_UNLOCKED};
use crate::store::records::Record;

/// How long a refused verify waits for a racing last attempt to be judged, and how
/// often it looks. Judging takes a hash check (or one Twilio Verify call).
const SETTLE_WAIT: Duration = Duration::from_secs(3);
const SETTLE_POLL: Duration = Duration::from_millis(10);

/// The record a challenge would log in (none for a decoy, or if it was deleted), and
/// who the audit trail names.
struct Holding {
    record: Option<Record>,
    subject: Option<String>,
}

/// A failure that locked the record (or decoy): until when, after how many in a row.
struct NewLock {
    until: Millis,
    consecutive: u32,
}

impl Auth {
    pub async fn verify(&self, client: &Client, address: &Address, code: &str) -> FlowResult<ConversationState> {
        self.audited(self.verify_step(client, address, code)).await
    }

    async fn verify_step(&self, client: &Client, address: &Address, code: &str) -> FlowResult<ConversationState> {
        let code = Code::parse(code, self.config.otp.length)?;
        let now = self.now();
        let conversation = self.store.find_conversation(address).await?.ok_or(FlowError::NoPendingChallenge)?;
        // No session needs looking for while a code is live: a session starts only by
        // using up the conversation's code, or (a flow without codes) after killing it.
        // Without a live code, `no_live_challenge` tells an authenticated conversation.
        let Some(challenge) = self.store.live_challenge(&conversation).await? else {
            return Err(self.no_live_challenge(&conversation, address).await?);
        };
        self.flow_for(client, &challenge.flow)?;
        if let Err(refusal) = decide_verify(Some(&challenge), now) {
            let subject = self.holder_of(&challenge).await?.subject;
            self.audit("code.expired", address, subject, json!({"challenge_id": challenge.id})).await?;
            return Err(refusal);
        }
        let policy = self.policy();
        let attempts = match self.store.reserve_attempt(&challenge.id, policy.max_attempts, now).await? {
            AttemptOutcome::Reserved { attempts } => attempts,
            AttemptOutcome::Refused => return Err(self.why_refused(&challenge.id).await?),
        };
        let Holding { record, subject } = self.holder_of(&challenge).await?;
        let new_lock = self.count_record_try(&challenge, address, &subject).await?;
        let matches = self.code_matches(&challenge, code.into_string()).await?;
        let verdict = judge_attempt(matches, challenge.holder.record_id(), attempts, &policy);
        let attempts_remaining = match verdict {
            VerifyVerdict::Login { record_id } => {
                let record = record.filter(|r| r.id == record_id);
                return self.complete_login(&challenge, record, address).await;
            }
            VerifyVerdict::Wrong { attempts_remaining } => attempts_remaining,
            VerifyVerdict::Exhausted => {
                self.store.settle_failed(&challenge.id).await?;
                0
            }
        };
        let detail = json!({"challenge_id": challenge.id, "attempts_remaining": attempts_remaining});
        self.audit("code.failed", address, subject.clone(), detail).await?;
        if let Some(lock) = new_lock {
            self.audit_lockout(address, subject, &lock, now).await?;
        }
        Err(verdict.refusal().unwrap_or(FlowError::TooManyAttempts))
    }

    /// The record a challenge would log in, read once for the whole attempt, and who the
    /// audit trail names for it: the record's subject, or the decoy's pseudonym. (The
    /// audit trail is for operators; the API never shows either.)
    async fn holder_of(&self, challenge: &Challenge) -> FlowResult<Holding> {
        Ok(match &challenge.holder {
            Holder::Record(id) => {
                let record = self.store.find_record(*id).await?;
                Holding { subject: record.as_ref().map(Record::subject), record }
            }
            Holder::Decoy(pseudonym) => Holding { record: None, subject: Some(decoy_subject(pseudonym)) },
        })
    }

    /// Counts the attempt against the record (across codes, conversations and clients),
    /// or against a decoy's identifier as if it were one; the lock it set, if it did.
    async fn count_record_try(
        &self,
        challenge: &Challenge,
        address: &Address,
        subject: &Option<String>,
    ) -> FlowResult<Option<NewLock>> {
        let now = self.now();
        let guarded = challenge.holder.guard_subject();
        match self.store.reserve_try(OTP_SCOPE, &guarded, &self.record_limit(), now).await? {
            Reservation::Granted { consecutive, locked_until, .. } => {
                Ok(locked_until.map(|until| NewLock { until, consecutive }))
            }
            Reservation::Locked { until } => {
                self.audit("code.locked", address, subject.clone(), json!({"challenge_id": challenge.id})).await?;
                Err(self.locked(now, until))
            }
        }
    }

    async fn audit_lockout(
        &self,
        address: &Address,
        subject: Option<String>,
        lock: &NewLock,
        now: Millis,
    ) -> FlowResult<()> {
        let until_unlocked = lock.until == UNTIL_UNLOCKED;
        let lockout_seconds = (!until_unlocked).then(|| (lock.until - now) / 1000);
        let detail = json!({
            "lockout_seconds": lockout_seconds,
            "consecutive_failures": lock.consecutive,
            "until_unlocked": until_unlocked,
        });
        if until_unlocked {
            tracing::warn!(
                consecutive = lock.consecutive,
                "a record's code login is locked until an operator unlocks it"
            );
        }
        self.audit("lockout.record", address, subject, detail).await
    }

    /// Why a verify found nothing to count, or lost the right code to a racing verify,
    /// told by what the challenge becomes. A last allowed attempt still being judged may
    /// yet log the conversation in, so the answer waits (briefly) for it to settle:
    /// a loser carrying the right code hears `already_authenticated`, not "identify again".
    async fn why_refused(&self, challenge_id: &str) -> FlowResult<FlowError> {
        let deadline = tokio::time::Instant::now() + SETTLE_WAIT;
        loop {
            let now = self.now();
            if let Some(refusal) = why_refused(self.store.challenge_status(challenge_id).await?, now) {
                return Ok(refusal);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(FlowError::TooManyAttempts);
            }
            tokio::time::sleep(SETTLE_POLL).await;
        }
    }

    /// Nothing to verify: the conversation is authenticated already, or a racing verify
    /// with the right code has just used the challenge up (or is judging its last
    /// attempt), and then the truth is that it is authenticated now.
    async fn no_live_challenge(&self, conversation: &str, address: &Address) -> FlowResult<FlowError> {
        if self.live_session(conversation, address, self.now()).await?.is_some() {
            return Ok(FlowError::AlreadyAuthenticated);
        }
        let Some((id, status)) = self.store.latest_challenge(conversation).await? else {
            return Ok(FlowError::NoPendingChallenge);
        };
        if !matches!(status, ChallengeStatus::Exhausted | ChallengeStatus::Consumed) {
            return Ok(FlowError::NoPendingChallenge);
        }
        self.why_refused(&id).await?;
        Ok(match self.live_session(conversation, address, self.now()).await? {
            Some(_) => FlowError::AlreadyAuthenticated,
            None => FlowError::NoPendingChallenge,
        })
    }

    /// The right code: `record` (read before the code was checked) logs in, if it is
    /// still there and active.
    async fn complete_login(
        &self,
        challenge: &Challenge,
        record: Option<Record>,
        address: &Address,
    ) -> FlowResult<ConversationState> {
        let Some(record) = record.filter(|r| r.active) else {
            self.store.settle_failed(&challenge.id).await?;
            return Err(FlowError::NoPendingChallenge);
        };
        let flow = self.config.flow(&challenge.flow).ok_or(FlowError::UnknownFlow)?;
        let session = self.new_session(&challenge.conversation_id, address, &record, flow, Some(challenge.method));
        if !self.store.complete_login(&challenge.id, &session, (OTP_SCOPE, &record.id.to_string())).await? {
            return Err(self.why_refused(&challenge.id).await?);
        }
        self.finish_authentication(session, &record, address).await
    }
}
