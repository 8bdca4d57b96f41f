//! One OTP challenge as the domain sees it: typed status and method, and the pure reads
//! of its state (pending, expired, what the bot is shown). The store converts rows to
//! and from this type; nothing outside `store/` sees a row.
use super::ChallengeView;
use crate::clock::{Millis, millis, seconds_until};
use crate::config::Otp;
use crate::delivery::Method;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeStatus {
    /// The code may still be tried (unless it has expired) or replaced by a resend.
    Active,
    /// The right code was used: the login happened.
    Consumed,
    /// Cancelled, superseded, or failed to deliver.
    Dead,
    /// Killed by its last allowed attempt, which may still turn out to be the right code:
    /// it settles as `Consumed` or `Failed` within moments.
    Exhausted,
    /// Its last allowed attempt was a wrong code.
    Failed,
}

impl ChallengeStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            ChallengeStatus::Active => "active",
            ChallengeStatus::Consumed => "consumed",
            ChallengeStatus::Dead => "dead",
            ChallengeStatus::Exhausted => "exhausted",
            ChallengeStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Active, Self::Consumed, Self::Dead, Self::Exhausted, Self::Failed]
            .into_iter()
            .find(|status| status.as_str() == s)
    }
}

/// Whom a challenge would log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    Record(i64),
    /// Nobody: the decoy of a concealed unknown identifier, named by its pseudonym.
    Decoy(String),
}

impl Holder {
    pub fn record_id(&self) -> Option<i64> {
        match self {
            Holder::Record(id) => Some(*id),
            Holder::Decoy(_) => None,
        }
    }

    /// The subject of its failure counter: a decoy's failures count as a record's do.
    pub fn guard_subject(&self) -> String {
        match self {
            Holder::Record(id) => id.to_string(),
            Holder::Decoy(pseudonym) => decoy_subject(pseudonym),
        }
    }
}

/// How a decoy is named where a record would be named (counters, the audit trail):
/// never the identifier itself.
pub fn decoy_subject(pseudonym: &str) -> String {
    format!("decoy:{pseudonym}")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub id: String,
    pub conversation_id: String,
    pub holder: Holder,
    pub flow: String,
    pub method: Method,
    pub masked_destination: String,
    pub locale: Option<String>,
    /// argon2id PHC string of the current code.
    pub code_hash: String,
    pub attempts: u32,
    pub sends: u32,
    pub status: ChallengeStatus,
    pub expires_at: Millis,
    pub last_sent_at: Millis,
    pub created_at: Millis,
}

/// The `[otp]` numbers the challenge rules use, in the units they are compared in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtpPolicy {
    pub max_attempts: u32,
    pub max_sends: u32,
    pub ttl_ms: Millis,
    pub cooldown_ms: Millis,
}

impl From<&Otp> for OtpPolicy {
    fn from(otp: &Otp) -> Self {
        Self {
            max_attempts: otp.max_attempts,
            max_sends: otp.max_sends,
            ttl_ms: millis(otp.ttl),
            cooldown_ms: millis(otp.resend_cooldown),
        }
    }
}

impl Challenge {
    pub fn is_expired(&self, now: Millis) -> bool {
        self.expires_at <= now
    }

    /// A live challenge is pending while its code works or a new one may still be sent.
    pub fn is_pending(&self, policy: &OtpPolicy, now: Millis) -> bool {
        !self.is_expired(now) || self.sends < policy.max_sends
    }

    pub fn view(&self, policy: &OtpPolicy, now: Millis) -> ChallengeView {
        ChallengeView {
            id: self.id.clone(),
            method: self.method,
            destination: self.masked_destination.clone(),
            expires_in: seconds_until(now, self.expires_at),
            attempts_remaining: policy.max_attempts.saturating_sub(self.attempts),
            sends_remaining: policy.max_sends.saturating_sub(self.sends),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub fn policy() -> OtpPolicy {
        OtpPolicy { max_attempts: 3, max_sends: 3, ttl_ms: 300_000, cooldown_ms: 30_000 }
    }

    /// A live challenge sent at t = 1000 ms with the default policy.
    pub fn challenge() -> Challenge {
        Challenge {
            id: "c1".into(),
            conversation_id: "conv".into(),
            holder: Holder::Record(7),
            flow: "payroll".into(),
            method: Method::Whatsapp,
            masked_destination: "***78".into(),
            locale: None,
            code_hash: "$argon2id$...".into(),
            attempts: 0,
            sends: 1,
            status: ChallengeStatus::Active,
            expires_at: 301_000,
            last_sent_at: 1_000,
            created_at: 1_000,
        }
    }

    #[test]
    fn statuses_round_trip_and_unknown_is_refused() {
        for status in [
            ChallengeStatus::Active,
            ChallengeStatus::Consumed,
            ChallengeStatus::Dead,
            ChallengeStatus::Exhausted,
            ChallengeStatus::Failed,
        ] {
            assert_eq!(ChallengeStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(ChallengeStatus::parse("ACTIVE"), None);
    }

    #[test]
    fn pending_while_the_code_works_or_a_send_is_left() {
        let c = challenge();
        assert!(c.is_pending(&policy(), 2_000));
        assert!(c.is_pending(&policy(), 400_000), "expired, but two sends are left");
        let spent = Challenge { sends: 3, ..c };
        assert!(spent.is_pending(&policy(), 300_999));
        assert!(!spent.is_pending(&policy(), 301_000), "expired with no send left");
    }

    #[test]
    fn view_counts_what_is_left() {
        let c = Challenge { attempts: 1, sends: 2, ..challenge() };
        let view = c.view(&policy(), 61_000);
        assert_eq!((view.expires_in, view.attempts_remaining, view.sends_remaining), (240, 2, 1));
        assert_eq!(view.destination, "***78");
    }
}
