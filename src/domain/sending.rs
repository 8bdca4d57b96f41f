//! Getting a code out: which destination, which code (ours, a QA test code, or Twilio
//! Verify's), the abuse limits, and falling back to the next method when a provider
//! fails.
use serde_json::json;
use sha2::{Digest, Sha256};

use super::Address;
use super::challenge::{Challenge, decoy_subject};
use super::{Auth, FlowError, FlowResult};
use crate::clock::seconds_until;
use crate::config::FlowConfig;
use crate::crypto::random_token;
use crate::delivery::{Method, OtpMessage, country_code, mask, normalize_address};
use crate::store::records::Record;
use crate::store::send_counters::SendBudget;

/// Where a code goes: the method and the canonical address, taken from the record.
#[derive(Debug, Clone)]
pub(super) struct Destination {
    pub method: Method,
    pub address: String,
}

impl Destination {
    pub fn masked(&self) -> String {
        mask(self.method, &self.address)
    }
}

/// Who makes and checks the code for one destination.
pub(super) enum CodeSource {
    /// doorman's own code from the CSPRNG.
    Generated(String),
    /// A QA destination: nothing is sent and this fixed code verifies.
    Test(String),
    /// Twilio Verify makes, sends and checks the code.
    TwilioVerify,
}

const GLOBAL_BUDGET: &str = "global";

/// The limit bucket of one destination: a hash, so the table holds no phone numbers.
fn destination_bucket(to: &Destination) -> String {
    format!("to:{}", &hex::encode(Sha256::digest(to.address.as_bytes()))[..32])
}

/// A decoy's sends count per identifier, as a record's count per destination.
fn decoy_bucket(pseudonym: &str) -> String {
    format!("decoy:{pseudonym}")
}

impl Auth {
    /// The flow's methods (only `only`, when given) whose record field holds a valid
    /// address that the limits let us reach, in the flow's order.
    pub(super) fn destinations(
        &self,
        flow: &FlowConfig,
        record: &Record,
        only: Option<Method>,
    ) -> FlowResult<Vec<Destination>> {
        let allowed = &self.config.delivery.limits.allowed_country_codes;
        let mut blocked_country = false;
        let found: Vec<Destination> = flow
            .delivery
            .iter()
            .filter(|t| only.is_none_or(|m| m == t.method))
            .filter_map(|t| {
                let address = normalize_address(t.method, record.field(&t.field)?)?;
                let reachable = t.method == Method::Email
                    || allowed.is_empty()
                    || country_code(&address).is_some_and(|c| allowed.contains(&c));
                blocked_country |= !reachable;
                reachable.then_some(Destination { method: t.method, address })
            })
            .collect();
        match (found.is_empty(), blocked_country) {
            (false, _) => Ok(found),
            (true, true) => Err(FlowError::DestinationNotAllowed),
            (true, false) => Err(FlowError::NoDeliveryMethod),
        }
    }

    pub(super) fn code_source(&self, flow: &FlowConfig, to: &Destination, fresh: &str) -> CodeSource {
        if let Some(code) = self.deliveries.test_code(&to.address) {
            CodeSource::Test(code.to_string())
        } else if flow.twilio_verify && to.method != Method::Email && self.deliveries.verify().is_some() {
            CodeSource::TwilioVerify
        } else {
            CodeSource::Generated(fresh.to_string())
        }
    }

    /// The hash to store. Under Twilio Verify it is of a random secret no code matches:
    /// doorman never learns Twilio's code.
    pub(super) async fn hash_of(&self, source: &CodeSource) -> FlowResult<String> {
        Ok(match source {
            CodeSource::Generated(code) | CodeSource::Test(code) => self.codes.hash(code.clone()).await?,
            CodeSource::TwilioVerify => self.codes.hash(random_token(32)).await?,
        })
    }

    /// Counts one send to `to` against the hourly limits, or refuses with nothing sent.
    pub(super) async fn reserve_send(&self, to: &Destination, address: &Address) -> FlowResult<()> {
        let limits = &self.config.delivery.limits;
        let now = self.now();
        let bucket = destination_bucket(to);
        let buckets = [(bucket.as_str(), limits.per_destination_per_hour), (GLOBAL_BUDGET, limits.global_per_hour)];
        let budget = self.store.reserve_sends(&buckets, now).await?;
        self.refuse_spent(budget, (to.method, &to.masked()), address).await
    }

    /// A decoy's send, under the same limits: its own hourly count, and a spent global
    /// budget refuses it as it refuses a record. It does not spend the global budget,
    /// which pays for real messages: made-up identifiers must not starve real logins.
    pub(super) async fn reserve_decoy_send(
        &self,
        shown: (Method, &str),
        pseudonym: &str,
        address: &Address,
    ) -> FlowResult<()> {
        let limits = &self.config.delivery.limits;
        let now = self.now();
        let budget = match self.store.send_budget_spent(GLOBAL_BUDGET, limits.global_per_hour, now).await? {
            Some(until) => SendBudget::Exhausted { index: 1, until },
            None => {
                self.store.reserve_sends(&[(&decoy_bucket(pseudonym), limits.per_destination_per_hour)], now).await?
            }
        };
        self.refuse_spent(budget, shown, address).await
    }

    /// Audits and returns the refusal of a spent budget (`index` 0: the destination's).
    async fn refuse_spent(
        &self,
        budget: SendBudget,
        (method, masked): (Method, &str),
        address: &Address,
    ) -> FlowResult<()> {
        let SendBudget::Exhausted { index, until } = budget else {
            return Ok(());
        };
        let retry_after = seconds_until(self.now(), until).max(1);
        let (limit, error) = match index {
            0 => ("destination", FlowError::DestinationLimit { retry_after }),
            _ => ("global", FlowError::SendBudgetExhausted { retry_after }),
        };
        tracing::warn!(limit, method = method.as_str(), "send refused by a delivery limit");
        let detail = json!({"limit": limit, "method": method, "destination": masked});
        self.audit("code.limited", address, None, detail).await?;
        Err(error)
    }

    pub(super) async fn release_send(&self, to: &Destination) -> FlowResult<()> {
        Ok(self.store.release_sends(&[&destination_bucket(to), GLOBAL_BUDGET], self.now()).await?)
    }

    /// The decoy's stand-in for [`Self::deliver`]: the same wait, the same outcome, and an
    /// audit event that says what really happened (nothing was sent).
    pub(super) async fn deliver_decoy(
        &self,
        challenge: &Challenge,
        pseudonym: &str,
        address: &Address,
    ) -> FlowResult<()> {
        let delivered = self.decoy_delivery(challenge.method).await;
        let detail = json!({"challenge_id": challenge.id, "method": challenge.method, "destination": challenge.masked_destination, "send": challenge.sends});
        let subject = Some(decoy_subject(pseudonym));
        if delivered {
            return self.audit("decoy.sent", address, subject, detail).await;
        }
        self.store.release_sends(&[&decoy_bucket(pseudonym)], self.now()).await?;
        self.audit("decoy.send_failed", address, subject, detail).await?;
        Err(FlowError::DeliveryFailed)
    }

    /// Sends the code of `challenge` to `to` (a QA test code is not sent). A failure is
    /// audited with the provider's code, released from the limits, and returned.
    pub(super) async fn deliver(
        &self,
        challenge: &Challenge,
        record: &Record,
        to: &Destination,
        source: &CodeSource,
        address: &Address,
    ) -> FlowResult<()> {
        let language = self
            .texts()
            .language([challenge.locale.as_deref(), record.field("locale")], &self.config.otp.default_locale);
        let mut detail = json!({"challenge_id": challenge.id, "method": to.method, "destination": to.masked(), "send": challenge.sends});
        let started = std::time::Instant::now();
        let result = match source {
            CodeSource::Test(_) => {
                detail["test_code"] = json!(true);
                Ok(())
            }
            CodeSource::TwilioVerify => {
                detail["provider"] = json!("twilio_verify");
                match self.deliveries.verify() {
                    Some(verify) => verify.start(to.method, &to.address, &language).await,
                    None => Err(crate::delivery::DeliveryError::Unreachable("Twilio Verify is not configured".into())),
                }
            }
            CodeSource::Generated(code) => {
                let minutes = self.config.otp.ttl.as_secs().div_ceil(60).to_string();
                let message = OtpMessage {
                    challenge_id: challenge.id.clone(),
                    method: to.method,
                    destination: to.address.clone(),
                    message: self.texts().render(
                        &language,
                        "otp.message",
                        None,
                        &[("code", code), ("minutes", &minutes)],
                    ),
                    subject: self.texts().render(&language, "otp.subject", None, &[]),
                    code: code.clone(),
                    locale: language.clone(),
                    expires_at: challenge.expires_at,
                    channel: address.channel.clone(),
                    conversation_id: address.external_id.clone(),
                };
                self.deliveries.send(&message).await
            }
        };
        if !matches!(source, CodeSource::Test(_)) {
            // What a decoy's send will imitate.
            self.decoys.delivered(to.method, started.elapsed(), result.is_ok());
        }
        match result {
            Ok(()) => self.audit("code.sent", address, Some(record.subject()), detail).await,
            Err(e) => {
                tracing::warn!(challenge = %challenge.id, method = to.method.as_str(), error = %e, "code delivery failed");
                if !matches!(source, CodeSource::Test(_)) {
                    self.release_send(to).await?;
                }
                detail["reason"] = json!(e.to_string());
                detail["provider_code"] = json!(e.provider_code());
                self.audit("code.send_failed", address, Some(record.subject()), detail).await?;
                Err(FlowError::DeliveryFailed)
            }
        }
    }

    /// Whether `code` is right for `challenge`: Twilio decides for a Verify challenge,
    /// the stored hash for every other.
    pub(super) async fn code_matches(&self, challenge: &Challenge, code: String) -> FlowResult<bool> {
        let verify_owned = match (challenge.holder.record_id(), self.config.flow(&challenge.flow)) {
            (Some(record_id), Some(flow)) if flow.twilio_verify => {
                let record = self.store.find_record(record_id).await?.ok_or(FlowError::NoPendingChallenge)?;
                let to = self.destinations(flow, &record, Some(challenge.method))?.into_iter().next();
                to.filter(|to| matches!(self.code_source(flow, to, ""), CodeSource::TwilioVerify))
            }
            _ => None,
        };
        match (verify_owned, self.deliveries.verify()) {
            (Some(to), Some(verify)) => verify.check(&to.address, &code).await.map_err(|e| {
                tracing::warn!(challenge = %challenge.id, error = %e, "Twilio Verify check failed");
                FlowError::DeliveryFailed
            }),
            _ => Ok(self.codes.verify(code, challenge.code_hash.clone()).await?),
        }
    }
}

impl Auth {
    /// Sends a new challenge's code to the first candidate. With the flow's `fallback`,
    /// a provider failure moves the challenge to the next candidate; the failed try is
    /// not counted as a send. Whatever fails in the end leaves no live challenge.
    pub(super) async fn send_with_fallback(
        &self,
        flow: &FlowConfig,
        mut challenge: Challenge,
        record: &Record,
        candidates: &[Destination],
        code: &str,
        address: &Address,
    ) -> FlowResult<Challenge> {
        let mut started = false;
        for to in candidates {
            let source = self.code_source(flow, to, code);
            if started {
                challenge.method = to.method;
                challenge.masked_destination = to.masked();
                challenge.code_hash = self.hash_of(&source).await?;
            }
            let counted = !matches!(source, CodeSource::Test(_));
            if counted && let Err(e) = self.reserve_send(to, address).await {
                if started {
                    self.store.kill_challenge(&challenge.id).await?;
                }
                return Err(e);
            }
            if started {
                self.store.retarget_challenge(&challenge).await?;
            } else {
                self.store.start_challenge(&challenge).await?;
                started = true;
            }
            match self.deliver(&challenge, record, to, &source, address).await {
                Ok(()) => return Ok(challenge),
                Err(FlowError::DeliveryFailed) if flow.fallback => continue,
                Err(e) => {
                    self.store.kill_challenge(&challenge.id).await?;
                    return Err(e);
                }
            }
        }
        self.store.kill_challenge(&challenge.id).await?;
        Err(FlowError::DeliveryFailed)
    }
}
