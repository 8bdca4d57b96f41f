//! identify → code sent: the first half of the OTP state machine. `verifying.rs` and
//! `resending.rs` hold the rest; `decisions.rs` the rules they apply.
use serde_json::json;

use super::challenge::{Challenge, Holder, decoy_subject};
use super::decisions::{IdentifyDecision, decide_identify};
use super::decoys::Decoy;
use super::{
    Address, Auth, ChallengeStatus, Client, ConversationState, FlowError, FlowName, FlowResult, IDENTIFY_SCOPE,
    Identifier, Locale, OTP_SCOPE,
};
use crate::clock::{Millis, millis, seconds_until};
use crate::config::FlowConfig;
use crate::crypto::{numeric_code, random_token};
use crate::delivery::Method;
use crate::store::conversations::Opened;
use crate::store::guards::{Limit, Reservation};
use crate::store::records::Record;

pub struct IdentifyRequest {
    pub flow: FlowName,
    pub identifier: Identifier,
    pub locale: Option<Locale>,
    /// One of the flow's methods, chosen by the person; otherwise the flow's order.
    pub method: Option<Method>,
}

/// One identify in progress: who asks, in which conversation, for what.
struct Identifying<'a> {
    client: &'a Client,
    flow: &'a FlowConfig,
    conversation: &'a Opened,
    address: &'a Address,
    request: &'a IdentifyRequest,
}

/// An identify attempt counted against the conversation's identify limit.
struct Counted {
    failures: u32,
    locks_now: bool,
}

/// Whom a code would be sent for: a record, or the decoy of an unknown identifier.
enum Sendee<'a> {
    Record(&'a Record),
    Decoy(Decoy),
}

impl Sendee<'_> {
    fn holder(&self) -> Holder {
        match self {
            Sendee::Record(record) => Holder::Record(record.id),
            Sendee::Decoy(decoy) => Holder::Decoy(decoy.pseudonym.clone()),
        }
    }

    /// Who the audit trail names (operators only: a decoy is named as one).
    fn subject(&self) -> String {
        match self {
            Sendee::Record(record) => record.subject(),
            Sendee::Decoy(decoy) => decoy_subject(&decoy.pseudonym),
        }
    }
}

impl Auth {
    pub async fn identify(
        &self,
        client: &Client,
        address: &Address,
        request: IdentifyRequest,
    ) -> FlowResult<ConversationState> {
        self.audited(self.identify_step(client, address, request)).await
    }

    async fn identify_step(
        &self,
        client: &Client,
        address: &Address,
        request: IdentifyRequest,
    ) -> FlowResult<ConversationState> {
        let flow = self.flow_for(client, request.flow.as_str())?;
        if let Some(method) = request.method
            && !flow.delivery.iter().any(|t| t.method == method)
        {
            return Err(FlowError::InvalidRequest(format!(
                "flow `{}` does not send codes by {}",
                flow.name,
                method.as_str()
            )));
        }
        let now = self.now();
        let opened = self.store.open_conversation(address, now).await?;
        let conversation = &opened.id;
        // A conversation this identify created has no session yet.
        if !opened.created && self.live_session(conversation, address, now).await?.is_some() {
            return Err(FlowError::AlreadyAuthenticated);
        }
        let counted = self.count_identify(flow, conversation, address, now).await?;
        let record = self
            .store
            .find_record_by_identifier(&flow.directory, &flow.identify_by, request.identifier.as_str())
            .await?;
        let Some(record) = record else {
            if counted.locks_now && !flow.conceal_unknown {
                self.audit("lockout.identify", address, None, json!({"lockout_seconds": flow.lockout.as_secs()}))
                    .await?;
            }
            let login = Identifying { client, flow, conversation: &opened, address, request: &request };
            return self.unknown_identifier(&login, counted.failures).await;
        };
        self.store.clear_tries(IDENTIFY_SCOPE, conversation).await?;
        self.audit("identify.matched", address, Some(record.subject()), json!({"flow": flow.name})).await?;
        if !flow.require_otp {
            self.store.kill_challenges(conversation).await?;
            return self.authenticate(conversation, address, &record, flow).await;
        }
        let login = Identifying { client, flow, conversation: &opened, address, request: &request };
        self.send_first_code(&login, Sendee::Record(&record), now).await
    }

    async fn count_identify(
        &self,
        flow: &FlowConfig,
        conversation: &str,
        address: &Address,
        now: Millis,
    ) -> FlowResult<Counted> {
        let limit = Limit::fixed(flow.max_identify_attempts, millis(flow.lockout));
        match self.store.reserve_try(IDENTIFY_SCOPE, conversation, &limit, now).await? {
            Reservation::Granted { failures, locked_until, .. } => {
                Ok(Counted { failures, locks_now: locked_until.is_some() })
            }
            Reservation::Locked { until } => {
                self.audit("identify.locked", address, None, json!({"flow": flow.name})).await?;
                Err(FlowError::Locked { retry_after: seconds_until(now, until) })
            }
        }
    }

    /// The first code of a login, for a record or (under the same rules, in the same
    /// steps) for a decoy.
    async fn send_first_code(
        &self,
        login: &Identifying<'_>,
        sendee: Sendee<'_>,
        now: Millis,
    ) -> FlowResult<ConversationState> {
        let (flow, address) = (login.flow, login.address);
        let holder = sendee.holder();
        if let Some(until) = self.store.active_lock(OTP_SCOPE, &holder.guard_subject(), now).await? {
            self.audit("identify.record_locked", address, Some(sendee.subject()), json!({"flow": flow.name})).await?;
            return Err(self.locked(now, until));
        }
        // A conversation this identify created has no challenge yet.
        let live = match login.conversation.created {
            true => None,
            false => self.store.live_challenge(&login.conversation.id).await?,
        };
        if decide_identify(live.as_ref(), &holder, &flow.name, &self.policy(), now) == IdentifyDecision::Resend {
            return self.resend(login.client, address).await;
        }
        let shown = match &sendee {
            Sendee::Record(record) => self.destinations(flow, record, login.request.method),
            Sendee::Decoy(decoy) => self.decoy_destination(flow, decoy, login.request.method).await.map(|to| vec![to]),
        };
        let candidates = match shown {
            Ok(found) => found,
            Err(e) => {
                self.audit("code.no_delivery_method", address, Some(sendee.subject()), json!({"flow": flow.name}))
                    .await?;
                return Err(e);
            }
        };
        let first = candidates.first().ok_or(FlowError::NoDeliveryMethod)?;
        let challenge = match sendee {
            Sendee::Record(record) => {
                let code = numeric_code(self.config.otp.length);
                let source = self.code_source(flow, first, &code);
                let hash = self.hash_of(&source).await?;
                let challenge = self.new_challenge(login, holder, (first.method, first.masked()), hash);
                self.send_with_fallback(flow, challenge, record, &candidates, &code, address).await?
            }
            Sendee::Decoy(decoy) => {
                // The hash of a random 32-byte secret: no numeric code can ever match it,
                // and making it costs what a real code's hash costs.
                let hash = self.codes.hash(random_token(32)).await?;
                let challenge = self.new_challenge(login, holder, (first.method, first.masked()), hash);
                self.send_decoy(challenge, &decoy, address).await?
            }
        };
        // Seen from the moment it was sent: a 5-minute code says 300 seconds, not 301.
        Ok(self.pending_view(&challenge, challenge.last_sent_at))
    }

    /// [`Self::send_with_fallback`] for a decoy: counted, stored, "sent", and gone again
    /// if that send fails.
    async fn send_decoy(&self, challenge: Challenge, decoy: &Decoy, address: &Address) -> FlowResult<Challenge> {
        let shown = (challenge.method, challenge.masked_destination.as_str());
        self.reserve_decoy_send(shown, &decoy.pseudonym, address).await?;
        self.store.start_challenge(&challenge).await?;
        if let Err(e) = self.deliver_decoy(&challenge, &decoy.pseudonym, address).await {
            self.store.kill_challenge(&challenge.id).await?;
            return Err(e);
        }
        Ok(challenge)
    }

    /// Without `conceal_unknown` the bot learns the identifier is unknown. With it, the
    /// reply is a decoy challenge that behaves like a real one and that no code verifies.
    async fn unknown_identifier(&self, login: &Identifying<'_>, failures: u32) -> FlowResult<ConversationState> {
        let (flow, conversation, address) = (login.flow, &login.conversation.id, login.address);
        if !flow.conceal_unknown {
            self.audit("identify.unknown", address, None, json!({"flow": flow.name, "concealed": false})).await?;
            return Err(FlowError::UnknownIdentifier {
                attempts_remaining: flow.max_identify_attempts.saturating_sub(failures),
            });
        }
        let decoy = self.decoy(flow, login.request.identifier.as_str()).await?;
        let detail = json!({"flow": flow.name, "concealed": true});
        self.audit("identify.unknown", address, Some(decoy_subject(&decoy.pseudonym)), detail).await?;
        self.store.clear_tries(IDENTIFY_SCOPE, conversation).await?;
        self.send_first_code(login, Sendee::Decoy(decoy), self.now()).await
    }

    /// A live challenge with one send, sent `to` (method, masked destination) now.
    fn new_challenge(
        &self,
        login: &Identifying<'_>,
        holder: Holder,
        (method, masked_destination): (Method, String),
        code_hash: String,
    ) -> Challenge {
        let now = self.now();
        Challenge {
            id: random_token(16),
            conversation_id: login.conversation.id.clone(),
            holder,
            flow: login.flow.name.clone(),
            method,
            masked_destination,
            locale: login.request.locale.as_ref().map(|l| l.as_str().to_string()),
            code_hash,
            attempts: 0,
            sends: 1,
            status: ChallengeStatus::Active,
            expires_at: now + self.policy().ttl_ms,
            last_sent_at: now,
            created_at: now,
        }
    }
}
