//! identify → code sent: the first half of the OTP state machine. `verifying.rs` and
//! `resending.rs` hold the rest; `decisions.rs` the rules they apply.
use serde_json::json;

use super::challenge::Challenge;
use super::decisions::{IdentifyDecision, decide_identify};
use super::{
    Address, Auth, ChallengeStatus, Client, ConversationState, FlowError, FlowName, FlowResult, IDENTIFY_SCOPE,
    Identifier, Locale, OTP_SCOPE,
};
use crate::clock::{Millis, millis, seconds_until};
use crate::config::FlowConfig;
use crate::crypto::{numeric_code, random_token};
use crate::delivery::Method;
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
    conversation: &'a str,
    address: &'a Address,
    request: &'a IdentifyRequest,
}

/// An identify attempt counted against the conversation's identify limit.
struct Counted {
    failures: u32,
    locks_now: bool,
}

impl Auth {
    pub async fn identify(
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
        let conversation = self.store.open_conversation(address, now).await?;
        if self.live_session(&conversation, address, now).await?.is_some() {
            return Err(FlowError::AlreadyAuthenticated);
        }
        let counted = self.count_identify(flow, &conversation, address, now).await?;
        let record = self
            .store
            .find_record_by_identifier(&flow.directory, &flow.identify_by, request.identifier.as_str())
            .await?;
        let Some(record) = record else {
            if counted.locks_now && !flow.conceal_unknown {
                self.audit("lockout.identify", address, None, json!({"lockout_seconds": flow.lockout.as_secs()}))
                    .await?;
            }
            let login = Identifying { client, flow, conversation: &conversation, address, request: &request };
            return self.unknown_identifier(&login, counted.failures).await;
        };
        self.store.clear_tries(IDENTIFY_SCOPE, &conversation).await?;
        self.audit("identify.matched", address, Some(record.subject()), json!({"flow": flow.name})).await?;
        if !flow.require_otp {
            self.store.kill_challenges(&conversation).await?;
            return self.authenticate(&conversation, address, &record, flow).await;
        }
        let login = Identifying { client, flow, conversation: &conversation, address, request: &request };
        self.send_first_code(&login, &record, now).await
    }

    async fn count_identify(
        &self,
        flow: &FlowConfig,
        conversation: &str,
        address: &Address,
        now: Millis,
    ) -> FlowResult<Counted> {
        let limit = Limit { max_failures: flow.max_identify_attempts, lockout_ms: millis(flow.lockout) };
        match self.store.reserve_try(IDENTIFY_SCOPE, conversation, &limit, now).await? {
            Reservation::Granted { failures, locked } => Ok(Counted { failures, locks_now: locked }),
            Reservation::Locked { until } => {
                self.audit("identify.locked", address, None, json!({"flow": flow.name})).await?;
                Err(FlowError::Locked { retry_after: seconds_until(now, until) })
            }
        }
    }

    async fn send_first_code(
        &self,
        login: &Identifying<'_>,
        record: &Record,
        now: Millis,
    ) -> FlowResult<ConversationState> {
        let (flow, address) = (login.flow, login.address);
        if let Some(until) = self.store.active_lock(OTP_SCOPE, &record.id.to_string(), now).await? {
            self.audit("identify.record_locked", address, Some(record.subject()), json!({"flow": flow.name})).await?;
            return Err(FlowError::Locked { retry_after: seconds_until(now, until) });
        }
        let live = self.store.live_challenge(login.conversation).await?;
        if decide_identify(live.as_ref(), record.id, &flow.name, &self.policy(), now) == IdentifyDecision::Resend {
            return self.resend(login.client, address).await;
        }
        let candidates = match self.destinations(flow, record, login.request.method) {
            Ok(found) => found,
            Err(e) => {
                self.audit("code.no_delivery_method", address, Some(record.subject()), json!({"flow": flow.name}))
                    .await?;
                return Err(e);
            }
        };
        let code = numeric_code(self.config.otp.length);
        let first = candidates.first().ok_or(FlowError::NoDeliveryMethod)?;
        let source = self.code_source(flow, first, &code);
        let challenge =
            self.new_challenge(login, Some(record.id), (first.method, first.masked()), self.hash_of(&source).await?);
        let challenge = self.send_with_fallback(flow, challenge, record, &candidates, &code, address).await?;
        Ok(self.pending_view(&challenge, now))
    }

    /// Without `conceal_unknown` the bot learns the identifier is unknown. With it, the
    /// reply is a decoy challenge that looks like a real one and that no code verifies.
    async fn unknown_identifier(&self, login: &Identifying<'_>, failures: u32) -> FlowResult<ConversationState> {
        let (flow, conversation, address) = (login.flow, login.conversation, login.address);
        self.audit("identify.unknown", address, None, json!({"flow": flow.name, "concealed": flow.conceal_unknown}))
            .await?;
        if !flow.conceal_unknown {
            return Err(FlowError::UnknownIdentifier {
                attempts_remaining: flow.max_identify_attempts.saturating_sub(failures),
            });
        }
        self.store.clear_tries(IDENTIFY_SCOPE, conversation).await?;
        self.store.kill_challenges(conversation).await?;
        // The method the person asked for, as a real challenge would show.
        let method = login.request.method.or(flow.delivery.first().map(|t| t.method)).unwrap_or(Method::Sms);
        // The hash of a random 32-byte secret: no numeric code can ever match it, and
        // verifying against it costs the same as against a real code.
        let hash = self.codes.hash(random_token(32)).await?;
        let decoy = self.new_challenge(login, None, (method, decoy_mask(method)), hash);
        self.store.start_challenge(&decoy).await?;
        Ok(self.pending_view(&decoy, self.now()))
    }

    /// A live challenge with one send, sent `to` (method, masked destination) now.
    fn new_challenge(
        &self,
        login: &Identifying<'_>,
        record_id: Option<i64>,
        (method, masked_destination): (Method, String),
        code_hash: String,
    ) -> Challenge {
        let now = self.now();
        Challenge {
            id: random_token(16),
            conversation_id: login.conversation.to_string(),
            record_id,
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

fn decoy_mask(method: Method) -> String {
    let digits = numeric_code(4);
    match method {
        Method::Email => format!("{}***@***", (b'a' + (digits.as_bytes()[0] - b'0')) as char),
        Method::Sms | Method::Whatsapp => format!("***{}", &digits[..2]),
    }
}
