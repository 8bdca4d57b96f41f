//! identify → code sent → verify: the OTP half of the conversation state machine.
use serde_json::json;

use super::sending::CodeSource;
use super::{Auth, Client, ConversationState, FlowError, FlowResult, IDENTIFY_SCOPE, OTP_SCOPE, identifier};
use crate::clock::{Millis, millis, seconds_until};
use crate::config::FlowConfig;
use crate::crypto::{numeric_code, random_token};
use crate::delivery::{DeliveryTarget, Method};
use crate::store::challenges::{self, AttemptOutcome, Challenge, Resend};
use crate::store::conversations::Address;
use crate::store::guards::{Limit, Reservation};

pub struct IdentifyRequest {
    pub flow: String,
    pub identifier: String,
    pub locale: Option<String>,
    /// One of the flow's methods, chosen by the person; otherwise the flow's order.
    pub method: Option<Method>,
}

impl Auth {
    pub async fn identify(
        &self,
        client: &Client,
        address: &Address,
        request: IdentifyRequest,
    ) -> FlowResult<ConversationState> {
        let flow = self.flow_for(client, &request.flow)?;
        if let Some(method) = request.method
            && !flow.delivery.iter().filter_map(|t| t.parse::<DeliveryTarget>().ok()).any(|t| t.method == method)
        {
            return Err(FlowError::InvalidRequest(format!(
                "flow `{}` does not send codes by {}",
                flow.name,
                method.as_str()
            )));
        }
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
            return self.unknown_identifier(flow, &conversation, address, failures, &request).await;
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
        let candidates = match self.destinations(flow, &record, request.method) {
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
        let challenge = Challenge {
            id: random_token(16),
            conversation_id: conversation,
            record_id: Some(record.id),
            flow: flow.name.clone(),
            method: first.method.as_str().into(),
            masked_destination: first.masked(),
            locale: request.locale.clone(),
            code_hash: self.hash_of(&source).await?,
            attempts: 0,
            sends: 1,
            status: challenges::ACTIVE.into(),
            expires_at: now + millis(self.config.otp.ttl),
            last_sent_at: now,
            created_at: now,
        };
        let challenge = self.send_with_fallback(flow, challenge, &record, &candidates, &code, address).await?;
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
        request: &IdentifyRequest,
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
        // The method the person asked for, as a real challenge would show.
        let first =
            flow.delivery.first().and_then(|t| t.parse::<DeliveryTarget>().ok()).map_or(Method::Sms, |t| t.method);
        let method = request.method.unwrap_or(first);
        let decoy = Challenge {
            id: random_token(16),
            conversation_id: conversation.to_string(),
            record_id: None,
            flow: flow.name.clone(),
            method: method.as_str().into(),
            masked_destination: decoy_mask(method),
            locale: request.locale.clone(),
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
        let matches = self.code_matches(&challenge, code).await?;
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
                let to = self.destinations(flow, &record, Some(method))?.into_iter().next();
                let to = to.ok_or(FlowError::NoDeliveryMethod)?;
                Some((record, to))
            }
        };
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
            expires_at: now + millis(self.config.otp.ttl),
            max_sends: self.config.otp.max_sends,
            cooldown_ms: millis(self.config.otp.resend_cooldown),
        };
        if self.store.replace_code(&challenge.id, &hash, &resend).await?.is_none() {
            if let Some(to) = counted {
                self.release_send(to).await?;
            }
            return Err(if challenge.sends as u32 >= resend.max_sends {
                FlowError::TooManySends
            } else {
                FlowError::ResendTooSoon {
                    retry_after: seconds_until(now, challenge.last_sent_at + resend.cooldown_ms).max(1),
                }
            });
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

fn decoy_mask(method: Method) -> String {
    let digits = numeric_code(4);
    match method {
        Method::Email => format!("{}***@***", (b'a' + (digits.as_bytes()[0] - b'0')) as char),
        Method::Sms | Method::Whatsapp => format!("***{}", &digits[..2]),
    }
}
