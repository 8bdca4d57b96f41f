//! The rules of a challenge's life (DESIGN.md §2) as pure functions from what is known
//! (the challenge, the policy, the time, the input) to a decision. The async steps in
//! `login.rs` run a decision with the store's conditional statements, which stay the
//! source of truth across replicas: a decision says what should happen and why a
//! statement that changed nothing refused.
use super::FlowError;
use super::challenge::{Challenge, ChallengeStatus, Holder, OtpPolicy};
use crate::clock::{Millis, seconds_until};

/// What identifying a known record (or a decoy's identifier) does when the flow needs a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentifyDecision {
    /// The same record's code is still pending: this is a resend, under the resend
    /// rules, or a loop of identifies would send codes without limit.
    Resend,
    /// A new challenge replaces whatever the conversation had.
    NewChallenge,
}

pub fn decide_identify(
    live: Option<&Challenge>,
    holder: &Holder,
    flow: &str,
    policy: &OtpPolicy,
    now: Millis,
) -> IdentifyDecision {
    match live {
        Some(c) if c.holder == *holder && c.flow == flow && c.is_pending(policy, now) => IdentifyDecision::Resend,
        _ => IdentifyDecision::NewChallenge,
    }
}

/// Whether a verify may count an attempt against `challenge`.
pub fn decide_verify(challenge: Option<&Challenge>, now: Millis) -> Result<&Challenge, FlowError> {
    match challenge {
        None => Err(FlowError::NoPendingChallenge),
        Some(c) if c.is_expired(now) => Err(FlowError::ExpiredCode),
        Some(c) => Ok(c),
    }
}

/// The outcome of one counted attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyVerdict {
    /// The right code for a real record: log in.
    Login { record_id: i64 },
    /// A wrong code (or any code for a decoy) with attempts left.
    Wrong { attempts_remaining: u32 },
    /// The attempt that used the last one: the challenge is dead.
    Exhausted,
}

/// `attempts` includes the attempt being judged.
pub fn judge_attempt(matches: bool, record_id: Option<i64>, attempts: u32, policy: &OtpPolicy) -> VerifyVerdict {
    match (matches, record_id) {
        (true, Some(record_id)) => VerifyVerdict::Login { record_id },
        _ => match policy.max_attempts.saturating_sub(attempts) {
            0 => VerifyVerdict::Exhausted,
            attempts_remaining => VerifyVerdict::Wrong { attempts_remaining },
        },
    }
}

impl VerifyVerdict {
    /// The refusal a wrong code is answered with.
    pub fn refusal(self) -> Option<FlowError> {
        match self {
            VerifyVerdict::Login { .. } => None,
            VerifyVerdict::Wrong { attempts_remaining } => Some(FlowError::InvalidCode { attempts_remaining }),
            VerifyVerdict::Exhausted => Some(FlowError::TooManyAttempts),
        }
    }
}

/// Why the conditional attempt update found nothing to count (or a right code lost the
/// race to log in), from the challenge's status and expiry read after the fact. None
/// while the last allowed attempt is still being judged: it may yet log in.
pub fn why_refused(current: Option<(ChallengeStatus, Millis)>, now: Millis) -> Option<FlowError> {
    Some(match current {
        Some((ChallengeStatus::Exhausted, _)) => return None,
        Some((ChallengeStatus::Active, expires_at)) if expires_at <= now => FlowError::ExpiredCode,
        // Another verify of this conversation won with the right code a moment ago.
        Some((ChallengeStatus::Consumed, _)) => FlowError::AlreadyAuthenticated,
        Some((ChallengeStatus::Failed, _)) => FlowError::TooManyAttempts,
        _ => FlowError::NoPendingChallenge,
    })
}

/// Whether a new code may be sent now: sends left, and the cooldown passed.
pub fn decide_resend(challenge: &Challenge, policy: &OtpPolicy, now: Millis) -> Result<(), FlowError> {
    if challenge.sends >= policy.max_sends {
        return Err(FlowError::TooManySends);
    }
    let ready_at = challenge.last_sent_at + policy.cooldown_ms;
    if now < ready_at {
        return Err(FlowError::ResendTooSoon { retry_after: seconds_until(now, ready_at).max(1) });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::challenge::tests::{challenge, policy};
    use super::*;

    #[test]
    fn identifying_the_same_record_again_while_pending_is_a_resend() {
        let live = challenge();
        let decide = |c: Option<&Challenge>, record, flow, now| {
            decide_identify(c, &Holder::Record(record), flow, &policy(), now)
        };
        assert_eq!(decide(Some(&live), 7, "payroll", 2_000), IdentifyDecision::Resend);
        assert_eq!(decide(Some(&live), 8, "payroll", 2_000), IdentifyDecision::NewChallenge, "another record");
        assert_eq!(decide(Some(&live), 7, "schedule", 2_000), IdentifyDecision::NewChallenge, "another flow");
        assert_eq!(decide(None, 7, "payroll", 2_000), IdentifyDecision::NewChallenge);
        let spent = Challenge { sends: 3, ..live.clone() };
        assert_eq!(decide(Some(&spent), 7, "payroll", 400_000), IdentifyDecision::NewChallenge, "nothing pending");
        let decoy = Challenge { holder: Holder::Decoy("ab12".into()), ..live };
        assert_eq!(decide(Some(&decoy), 7, "payroll", 2_000), IdentifyDecision::NewChallenge);
        let same_decoy = decide_identify(Some(&decoy), &Holder::Decoy("ab12".into()), "payroll", &policy(), 2_000);
        assert_eq!(same_decoy, IdentifyDecision::Resend, "a decoy's identifier again is a resend too");
    }

    #[test]
    fn verify_needs_a_live_unexpired_challenge() {
        let c = challenge();
        assert!(matches!(decide_verify(None, 0), Err(FlowError::NoPendingChallenge)));
        assert!(decide_verify(Some(&c), 300_999).is_ok());
        assert!(matches!(decide_verify(Some(&c), 301_000), Err(FlowError::ExpiredCode)), "expiry is exclusive");
    }

    #[test]
    fn attempts_count_down_and_the_last_wrong_one_exhausts() {
        let p = policy();
        assert_eq!(judge_attempt(false, Some(7), 1, &p), VerifyVerdict::Wrong { attempts_remaining: 2 });
        assert_eq!(judge_attempt(false, Some(7), 2, &p), VerifyVerdict::Wrong { attempts_remaining: 1 });
        assert_eq!(judge_attempt(false, Some(7), 3, &p), VerifyVerdict::Exhausted);
        assert_eq!(judge_attempt(true, Some(7), 3, &p), VerifyVerdict::Login { record_id: 7 }, "last try, right code");
        assert_eq!(judge_attempt(true, None, 1, &p), VerifyVerdict::Wrong { attempts_remaining: 2 }, "a decoy");
        assert!(matches!(VerifyVerdict::Exhausted.refusal(), Some(FlowError::TooManyAttempts)));
        assert!(matches!(
            VerifyVerdict::Wrong { attempts_remaining: 1 }.refusal(),
            Some(FlowError::InvalidCode { attempts_remaining: 1 })
        ));
        assert!(VerifyVerdict::Login { record_id: 7 }.refusal().is_none());
    }

    #[test]
    fn a_refused_attempt_is_explained_by_what_the_row_says_now() {
        let why = |status, expires_at| why_refused(Some((status, expires_at)), 10);
        assert!(matches!(why(ChallengeStatus::Active, 10), Some(FlowError::ExpiredCode)));
        assert!(why(ChallengeStatus::Exhausted, 99).is_none(), "the last attempt may still log in");
        assert!(matches!(why(ChallengeStatus::Failed, 99), Some(FlowError::TooManyAttempts)));
        assert!(matches!(why(ChallengeStatus::Consumed, 99), Some(FlowError::AlreadyAuthenticated)));
        assert!(matches!(why(ChallengeStatus::Active, 99), Some(FlowError::NoPendingChallenge)));
        assert!(matches!(why_refused(None, 10), Some(FlowError::NoPendingChallenge)));
    }

    #[test]
    fn resends_wait_for_the_cooldown_and_stop_at_the_limit() {
        let c = challenge();
        let p = policy();
        assert!(matches!(decide_resend(&c, &p, 1_000), Err(FlowError::ResendTooSoon { retry_after: 30 })));
        assert!(matches!(decide_resend(&c, &p, 30_500), Err(FlowError::ResendTooSoon { retry_after: 1 })));
        assert!(decide_resend(&c, &p, 31_000).is_ok());
        assert!(decide_resend(&c, &p, 900_000).is_ok(), "an expired code can still be replaced");
        let spent = Challenge { sends: 3, ..c };
        assert!(matches!(decide_resend(&spent, &p, 900_000), Err(FlowError::TooManySends)));
    }
}
