//! The conversation state machine, OTP challenges, sessions and tokens. Handlers call
//! [`Auth`]; it talks to the store and the delivery edge and knows nothing of HTTP.
mod address;
pub mod admin;
pub mod challenge;
pub mod clients;
pub mod decisions;
mod decoys;
pub mod ending;
pub mod error;
pub mod grants;
pub mod identifier;
pub mod import_pieces;
pub mod input;
mod introspection;
pub mod live;
mod login;
pub mod memory;
pub mod records;
mod resending;
mod sending;
mod sessions;
mod state;
mod tokens;
pub mod unlocking;
pub mod validate;
mod verifying;

use std::cell::RefCell;
use std::sync::Arc;

use serde_json::Value;

pub use address::{Address, is_printable};
pub use challenge::{Challenge, ChallengeStatus, OtpPolicy};
pub use clients::{Client, ClientAuth};
pub use error::FlowError;
pub use input::{Code, FlowName, Identifier, Locale};
pub use login::IdentifyRequest;
pub use state::{ChallengeView, ConversationState, SessionView, SubjectView, TokenSet};
pub use tokens::AccessClaims;

use crate::clock::{Clock, Millis, millis, seconds_until};
use crate::config::{FlowConfig, ValidConfig};
use crate::crypto::Hasher;
use crate::delivery::Deliveries;
use crate::keys::KeyRing;
use crate::store::Store;
use crate::store::audit::{AuditEvent, AuditLog};
use crate::store::guards::{Limit, UNTIL_UNLOCKED};

pub type FlowResult<T> = Result<T, FlowError>;

tokio::task_local! {
    /// The audit events of the step being answered (see [`Auth::audited`]).
    static STEP_EVENTS: RefCell<Vec<(AuditEvent, Millis)>>;
}

pub struct Auth {
    pub config: Arc<ValidConfig>,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub codes: Hasher,
    pub keys: Arc<KeyRing>,
    pub deliveries: Deliveries,
    pub audit_log: AuditLog,
    /// What concealed unknown identifiers are made to look like.
    pub decoys: decoys::Decoys,
    /// Live sessions a token refresh can be answered from without the database.
    pub live: live::LiveSessions,
}

/// Guard scopes: failures per record across conversations and clients, and identify
/// failures per conversation.
pub(crate) const OTP_SCOPE: &str = "otp";
const IDENTIFY_SCOPE: &str = "identify";

impl Auth {
    fn now(&self) -> Millis {
        self.clock.now()
    }

    /// The flow, if it exists and `client` may use it. Unknown and forbidden flows are
    /// told apart: flow names are configuration, not secrets.
    fn flow_for(&self, client: &Client, name: &str) -> FlowResult<&FlowConfig> {
        let flow = self.config.flow(name).ok_or(FlowError::UnknownFlow)?;
        if !client.flows.iter().any(|f| f == name) {
            return Err(FlowError::FlowNotAllowed);
        }
        Ok(flow)
    }

    /// Every text said to a person, the code message included.
    pub fn texts(&self) -> &crate::texts::Texts {
        &self.config.texts
    }

    fn policy(&self) -> OtpPolicy {
        OtpPolicy::from(&self.config.otp)
    }

    /// Failed codes per record: a lockout after `max_failures_per_record`, each one
    /// twice the last, and a lock until an unlock after `max_consecutive_failures`.
    fn record_limit(&self) -> Limit {
        let otp = &self.config.otp;
        Limit {
            max_failures: otp.max_failures_per_record,
            lockout_ms: millis(otp.record_lockout),
            max_lockout_ms: millis(otp.max_record_lockout),
            lifetime_failures: otp.max_consecutive_failures,
        }
    }

    /// The refusal of a lock in force until `until`.
    fn locked(&self, now: Millis, until: Millis) -> FlowError {
        match until {
            UNTIL_UNLOCKED => FlowError::LockedUntilUnlocked,
            _ => FlowError::Locked { retry_after: seconds_until(now, until) },
        }
    }

    /// Records one audit event; returns once it is committed (batched with whatever else
    /// is waiting), so an answered step is never missing from the trail.
    async fn audit(
        &self,
        kind: &'static str,
        address: &Address,
        subject: Option<String>,
        detail: Value,
    ) -> FlowResult<()> {
        let at = self.now();
        let mut event = Some(self.event(kind, address, subject, detail));
        if STEP_EVENTS.try_with(|held| held.borrow_mut().extend(event.take().map(|e| (e, at)))).is_ok() {
            return Ok(());
        }
        Ok(self.audit_log.record(event.take().unwrap_or_default(), at).await?)
    }

    /// Runs one step of a login (identify, verify, resend) with its audit events held
    /// back, and commits them in one batch when the step ends, answered or refused. The
    /// answer still waits for every event of its step, but for one commit, not one
    /// commit per event in turn.
    pub(super) async fn audited<T>(&self, step: impl Future<Output = FlowResult<T>>) -> FlowResult<T> {
        let (outcome, events) = STEP_EVENTS
            .scope(RefCell::new(Vec::new()), async {
                let outcome = step.await;
                (outcome, STEP_EVENTS.with(|held| held.take()))
            })
            .await;
        self.audit_log.record_each(events).await?;
        outcome
    }

    fn event(&self, kind: &'static str, address: &Address, subject: Option<String>, detail: Value) -> AuditEvent {
        AuditEvent {
            kind,
            client_id: Some(address.client_id.clone()),
            subject,
            conversation: Some(address.label()),
            detail,
        }
    }
}
