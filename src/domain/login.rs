//! identify → code sent → verify: the OTP half of the conversation state machine.
use serde_json::json;

use super::{Auth, Client, ConversationState, FlowError, FlowResult, IDENTIFY_SCOPE, OTP_SCOPE, identifier};
use crate::clock::{Millis, millis, seconds_until};
use crate::config::FlowConfig;
use crate::crypto::{numeric_code, random_token};
use crate::delivery::{DeliveryTarget, Method, OtpMessage, mask};
use crate::store::challenges::{self, AttemptOutcome, Challenge, Resend};
use crate::store::conversations::Address;
use crate::store::guards::{Limit, Reservation};
use crate::store::records::Record;

pub struct IdentifyRequest {
    pub flow: String,
    pub identifier: String,
    pub locale: Option<String>,
}

/// Where a code goes: the method and the full address, taken from the record.
struct Destination {
    method: Method,
    address: String,
}

impl Auth {
    pub async fn identify(
        &self,
        client: &Client,
        address: &Address,
        request: IdentifyRequest,
    ) -> FlowResult<ConversationState> {
        let flow = self.flow_for(client, &request.flow)?;
        let identifier = identifier::normalize(&request.identifier)
            .ok_or_else(|| FlowError::InvalidRequest("identifier must have 1 to 128 printable characters".into()))?;
        let now = self.now();
        let conversation = self.store.open_conversation(address, now).await?;
        if self.live_session(&conversation, address, now).await?.is_some() {
            return Err(FlowError::AlreadyAuthenticated);
        }
        let limit = Limit { max_failures: flow.max_identify_attempts, lockout_ms: millis(flow.lockout) };
        let (failures, locks_now) = match self.store.reserve_try(IDENTIFY_SCOPE, &conversation, &limit, now).await? {
            Reservation::Granted { failures, locked } => (failures, locked),
            Reservation::Locked { until } => {
                self.audit("identify.locked", address, None, json!({"flow": flow.name})).await?;
                return Err(FlowError::Locked { retry_after: seconds_until(now, until) });
            }
        };
        let record = self.store.find_record_by_identifier(&flow.directory, &flow.identify_by, &identifier).await?;
        let Some(record) = record else {
            if locks_now && !flow.conceal_unknown {
                self.audit("lockout.identify", address, None, json!({"lockout_seconds": flow.lockout.as_secs()}))
                    .await?;
            }
            return self.unknown_identifier(flow, &conversation, address, failures, request.locale).await;
        };
        self.store.clear_tries(IDENTIFY_SCOPE, &conversation).await?;
        self.audit("identify.matched", address, Some(record.subject()), json!({"flow": flow.name})).await?;
        if !flow.require_otp {
            self.store.kill_challenges(&conversation).await?;
            return self.authenticate(&conversation, address, &record, flow).await;
        }
        if let Some(until) = self.store.active_lock(OTP_SCOPE, &record.id.to_string(), now).await? {
            self.audit("identify.record_locked", address, Some(record.subject()), json!({"flow": flow.name})).await?;
            return Err(FlowError::Locked { retry_after: seconds_until(now, until) });
        }
        // Identifying again while this record's code is still pending is a resend, under
        // the resend rules: otherwise a loop of identifies would send codes without limit.
        if let Some(live) = self.store.live_challenge(&conversation).await?
            && live.record_id == Some(record.id)
            && live.flow == flow.name
            && self.is_pending(&live, now)
        {
            return self.resend(client, address).await;
        }
        let destination = match pick_destination(flow, &record, None) {
            Some(d) => d,
            None => {
                self.audit("code.no_delivery_method", address, Some(record.subject()), json!({"flow": flow.name}))
                    .await?;
                return Err(FlowError::NoDeliveryMethod);
            }
        };
        let code = numeric_code(self.config.otp.length);
        let challenge = Challenge {
            id: random_token(16),
            conversation_id: conversation,
            record_id: Some(record.id),
            flow: flow.name.clone(),
            method: destination.method.as_str().into(),
            masked_destination: mask(destination.method, &destination.address),
            locale: request.locale.clone(),
            code_hash: self.codes.hash(code.clone()).await?,
            attempts: 0,
            sends: 1,
            status: challenges::ACTIVE.into(),
            expires_at: now + millis(self.config.otp.ttl),
            last_sent_at: now,
            created_at: now,
        };
        self.store.start_challenge(challenge.clone()).await?;
        if let Err(e) = self.deliver(&challenge, &record, &destination, code, address).await {
            self.store.kill_challenge(&challenge.id).await?;
            return Err(e);
        }
        Ok(self.pending_view(&challenge, now))
    }

    /// Without `conceal_unknown` the bot learns the identifier is unknown. With it, the
    /// reply is a decoy challenge that looks like a real one and that no code verifies.
    async fn unknown_identifier(
        &self,
        flow: &FlowConfig,
        conversation: &str,
        address: &Address,
        failures: u32,
        locale: Option<String>,
    ) -> FlowResult<ConversationState> {
        self.audit("identify.unknown", address, None, json!({"flow": flow.name, "concealed": flow.conceal_unknown}))
            .await?;
        if !flow.conceal_unknown {
            return Err(FlowError::UnknownIdentifier {
                attempts_remaining: flow.max_identify_attempts.saturating_sub(failures),
            });
        }
        self.store.clear_tries(IDENTIFY_SCOPE, conversation).await?;
        self.store.kill_challenges(conversation).await?;
        let now = self.now();
        let method =
            flow.delivery.first().and_then(|t| t.parse::<DeliveryTarget>().ok()).map_or(Method::Sms, |t| t.method);
        let decoy = Challenge {
            id: random_token(16),
            conversation_id: conversation.to_string(),
            record_id: None,
            flow: flow.name.clone(),
            method: method.as_str().into(),
            masked_destination: decoy_mask(method),
            locale,
            // The hash of a random 32-byte secret: no numeric code can ever match it,
            // and verifying against it costs the same as against a real code.
            code_hash: self.codes.hash(random_token(32)).await?,
            attempts: 0,
            sends: 1,
            status: challenges::ACTIVE.into(),
            expires_at: now + millis(self.config.otp.ttl),
            last_sent_at: now,
            created_at: now,
        };
        self.store.start_challenge(decoy.clone()).await?;
        Ok(self.pending_view(&decoy, now))
    }

    pub async fn verify(&self, client: &Client, address: &Address, code: &str) -> FlowResult<ConversationState> {
        let code = self.well_formed_code(code)?;
        let now = self.now();
        let conversation = self.store.find_conversation(address).await?.ok_or(FlowError::NoPendingChallenge)?;
        if self.live_session(&conversation, address, now).await?.is_some() {
            return Err(FlowError::AlreadyAuthenticated);
        }
        let challenge = self.store.live_challenge(&conversation).await?.ok_or(FlowError::NoPendingChallenge)?;
        self.flow_for(client, &challenge.flow)?;
        let subject = challenge.record_id.map(|id| id.to_string());
        if challenge.expires_at <= now {
            self.audit("code.expired", address, None, json!({"challenge_id": challenge.id})).await?;
            return Err(FlowError::ExpiredCode);
        }
        let max = self.config.otp.max_attempts;
        let attempts = match self.store.reserve_attempt(&challenge.id, max, now).await? {
            AttemptOutcome::Reserved { attempts } => attempts,
            AttemptOutcome::Refused => return Err(self.why_refused(&challenge.id, now).await?),
        };
        let mut record_locked = false;
        if let Some(record_id) = &subject {
            match self.store.reserve_try(OTP_SCOPE, record_id, &self.record_limit(), now).await? {
                Reservation::Granted { locked, .. } => record_locked = locked,
                Reservation::Locked { until } => {
                    self.audit("code.locked", address, None, json!({"challenge_id": challenge.id})).await?;
                    return Err(FlowError::Locked { retry_after: seconds_until(now, until) });
                }
            }
        }
        let matches = self.codes.verify(code, challenge.code_hash.clone()).await?;
        match (matches, challenge.record_id) {
            (true, Some(record_id)) => self.complete_login(&challenge, record_id, address).await,
            _ => {
                let attempts_remaining = max.saturating_sub(attempts);
                self.audit(
                    "code.failed",
                    address,
                    None,
                    json!({"challenge_id": challenge.id, "attempts_remaining": attempts_remaining}),
                )
                .await?;
                if record_locked {
                    self.audit(
                        "lockout.record",
                        address,
                        None,
                        json!({"lockout_seconds": self.config.otp.record_lockout.as_secs()}),
                    )
                    .await?;
                }
                if attempts_remaining == 0 {
                    return Err(FlowError::TooManyAttempts);
                }
                Err(FlowError::InvalidCode { attempts_remaining })
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
        let txn = sea_orm::TransactionTrait::begin(self.store.db()).await.map_err(crate::store::StoreError::from)?;
        if !self.store.consume_challenge(&txn, &challenge.id).await? {
            return Err(FlowError::NoPendingChallenge);
        }
        let state = self.start_session(&txn, &challenge.conversation_id, address, &record, flow, true).await?;
        txn.commit().await.map_err(crate::store::StoreError::from)?;
        self.store.clear_tries(OTP_SCOPE, &record.id.to_string()).await?;
        self.finish_authentication(state, &record, address).await
    }

    /// The reason a verify attempt could not be counted, read after the fact.
    async fn why_refused(&self, challenge_id: &str, now: Millis) -> FlowResult<FlowError> {
        use sea_orm::EntityTrait;
        let current = entity::challenge::Entity::find_by_id(challenge_id.to_string())
            .one(self.store.reader())
            .await
            .map_err(crate::store::StoreError::from)?;
        Ok(match current {
            Some(c) if c.status == challenges::ACTIVE && c.expires_at <= now => FlowError::ExpiredCode,
            Some(c) if c.status == challenges::EXHAUSTED => FlowError::TooManyAttempts,
            _ => FlowError::NoPendingChallenge,
        })
    }

    pub async fn resend(&self, client: &Client, address: &Address) -> FlowResult<ConversationState> {
        let now = self.now();
        let conversation = self.store.find_conversation(address).await?.ok_or(FlowError::NoPendingChallenge)?;
        if self.live_session(&conversation, address, now).await?.is_some() {
            return Err(FlowError::AlreadyAuthenticated);
        }
        let challenge = self.store.live_challenge(&conversation).await?.ok_or(FlowError::NoPendingChallenge)?;
        let flow = self.flow_for(client, &challenge.flow)?;
        let target = match challenge.record_id {
            None => None,
            Some(id) => {
                let record = self.store.find_record(id).await?.filter(|r| r.active);
                let Some(record) = record else {
                    self.store.kill_challenge(&challenge.id).await?;
                    return Err(FlowError::NoPendingChallenge);
                };
                if let Some(until) = self.store.active_lock(OTP_SCOPE, &id.to_string(), now).await? {
                    return Err(FlowError::Locked { retry_after: seconds_until(now, until) });
                }
                let method: Method = challenge.method.parse().map_err(FlowError::Internal)?;
                let destination = pick_destination(flow, &record, Some(method)).ok_or(FlowError::NoDeliveryMethod)?;
                Some((record, destination))
            }
        };
        let code = numeric_code(self.config.otp.length);
        // A decoy gets a fresh unguessable hash, so it behaves like a real resend.
        let hash = self.codes.hash(if target.is_some() { code.clone() } else { random_token(32) }).await?;
        let resend = Resend {
            now,
            expires_at: now + millis(self.config.otp.ttl),
            max_sends: self.config.otp.max_sends,
            cooldown_ms: millis(self.config.otp.resend_cooldown),
        };
        if self.store.replace_code(&challenge.id, &hash, &resend).await?.is_none() {
            return Err(if challenge.sends as u32 >= resend.max_sends {
                FlowError::TooManySends
            } else {
                FlowError::ResendTooSoon {
                    retry_after: seconds_until(now, challenge.last_sent_at + resend.cooldown_ms).max(1),
                }
            });
        }
        let current = self.store.live_challenge(&conversation).await?.ok_or(FlowError::NoPendingChallenge)?;
        if let Some((record, destination)) = target
            && let Err(e) = self.deliver(&current, &record, &destination, code, address).await
        {
            // A send that did not happen is not counted, and may be retried at once.
            self.store.refund_send(&current.id).await?;
            return Err(e);
        }
        Ok(self.pending_view(&current, now))
    }

    async fn deliver(
        &self,
        challenge: &Challenge,
        record: &Record,
        to: &Destination,
        code: String,
        address: &Address,
    ) -> FlowResult<()> {
        let language = self.messages.pick([challenge.locale.as_deref(), record.field("locale"), None]);
        let minutes = self.config.otp.ttl.as_secs().div_ceil(60).to_string();
        let message = OtpMessage {
            challenge_id: challenge.id.clone(),
            method: to.method,
            destination: to.address.clone(),
            message: self.messages.render(language, "otp.message", &[("code", &code), ("minutes", &minutes)]),
            code,
            locale: language.to_string(),
            expires_at: challenge.expires_at,
            channel: address.channel.clone(),
            conversation_id: address.external_id.clone(),
        };
        let detail = json!({"challenge_id": challenge.id, "method": to.method, "destination": challenge.masked_destination, "send": challenge.sends});
        match self.deliveries.send(&message).await {
            Ok(()) => self.audit("code.sent", address, Some(record.subject()), detail).await,
            Err(e) => {
                tracing::warn!(challenge = %challenge.id, method = to.method.as_str(), error = %e, "code delivery failed");
                let detail = json!({"challenge_id": challenge.id, "method": to.method, "reason": e.to_string()});
                self.audit("code.send_failed", address, Some(record.subject()), detail).await?;
                Err(FlowError::DeliveryFailed)
            }
        }
    }

    fn well_formed_code(&self, code: &str) -> FlowResult<String> {
        // Keypads and people add spaces or dashes; nothing else is forgiven.
        let digits: String = code.chars().filter(|c| !matches!(c, ' ' | '-')).take(64).collect();
        let length = self.config.otp.length as usize;
        if digits.len() != length || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FlowError::InvalidRequest(format!("code must be {length} digits")));
        }
        Ok(digits)
    }
}

/// The first of the flow's methods (or of those using `only`) whose record field is present.
fn pick_destination(flow: &FlowConfig, record: &Record, only: Option<Method>) -> Option<Destination> {
    flow.delivery
        .iter()
        .filter_map(|t| t.parse::<DeliveryTarget>().ok())
        .filter(|t| only.is_none_or(|m| m == t.method))
        .find_map(|t| {
            record.field(&t.field).map(|address| Destination { method: t.method, address: address.to_string() })
        })
}

fn decoy_mask(method: Method) -> String {
    let digits = numeric_code(4);
    match method {
        Method::Email => format!("{}***@***", (b'a' + (digits.as_bytes()[0] - b'0')) as char),
        Method::Sms | Method::Whatsapp => format!("***{}", &digits[..2]),
    }
}
