//! Concealment (`conceal_unknown`): an unknown identifier gets a decoy challenge that a
//! bot cannot tell from a record's. The decoy is named by a pseudonym, an HMAC of the
//! identifier under a server secret, and counted under it exactly as a record is
//! (attempts, failures, lockouts, sends, cooldowns). It looks like a real record of the
//! directory, chosen by that HMAC from a stable sample, so its method and masked
//! destination are distributed as the real ones are and never change between two
//! identifies. Its "send" takes as long as a recent real delivery by the same method
//! took, and fails when that one failed. README "Concealment" says what this cannot hide.
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use rand::RngExt;
use rand::rand_core::UnwrapErr;
use rand::rngs::SysRng;
use sha2::{Digest, Sha256};

use super::sending::Destination;
use super::{Auth, FlowError, FlowResult};
use crate::clock::Millis;
use crate::config::FlowConfig;
use crate::crypto::random_token;
use crate::delivery::Method;
use crate::store::records::Record;

/// Records per directory that decoys are shaped after.
const SAMPLE_SIZE: u64 = 64;
/// How long a sample is trusted before it is read again.
const SAMPLE_TTL_MS: Millis = 10 * 60 * 1000;
/// Real deliveries remembered per method, to time decoy sends after.
const RECENT_DELIVERIES: usize = 64;

/// Per directory: when its sample was read, and the records.
type Samples = HashMap<String, (Millis, Arc<Vec<Record>>)>;

#[derive(Default)]
pub struct Decoys {
    key: tokio::sync::OnceCell<Vec<u8>>,
    samples: Mutex<Samples>,
    recent: Mutex<HashMap<Method, VecDeque<Delivered>>>,
}

/// One real delivery: how long the provider took, and whether it took the code.
#[derive(Debug, Clone, Copy)]
struct Delivered {
    took: Duration,
    ok: bool,
}

/// An unknown identifier, as a decoy.
pub struct Decoy {
    /// Names the decoy in counters and the audit trail (the identifier never appears).
    pub pseudonym: String,
    /// Chooses the real record it resembles.
    seed: [u8; 32],
}

impl Decoys {
    /// Remembers how a real delivery by `method` went.
    pub fn delivered(&self, method: Method, took: Duration, ok: bool) {
        let Ok(mut recent) = self.recent.lock() else { return };
        let list = recent.entry(method).or_default();
        if list.len() == RECENT_DELIVERIES {
            list.pop_front();
        }
        list.push_back(Delivered { took, ok });
    }

    /// A recent real delivery by `method`, drawn at random.
    fn draw(&self, method: Method) -> Option<Delivered> {
        let recent = self.recent.lock().ok()?;
        let list = recent.get(&method).filter(|l| !l.is_empty())?;
        list.get(UnwrapErr(SysRng).random_range(0..list.len())).copied()
    }
}

impl Auth {
    /// The decoy of `identifier` in `flow`'s directory. The same identifier is the same
    /// decoy in every flow of the directory and on every replica, as a record is.
    pub(super) async fn decoy(&self, flow: &FlowConfig, identifier: &str) -> FlowResult<Decoy> {
        let key = self.decoy_key().await?;
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
        for part in [flow.directory.as_str(), flow.identify_by.as_str(), identifier] {
            mac.update(part.as_bytes());
            mac.update(&[0]);
        }
        let seed: [u8; 32] = mac.finalize().into_bytes().into();
        Ok(Decoy { pseudonym: hex::encode(&seed[..16]), seed })
    }

    async fn decoy_key(&self) -> FlowResult<&[u8]> {
        let key = self
            .decoys
            .key
            .get_or_try_init(|| async {
                let secret = self.store.server_secret("decoys", &random_token(32), self.now()).await?;
                Ok::<_, FlowError>(secret.into_bytes())
            })
            .await?;
        Ok(key)
    }

    /// The method and masked destination a code for this decoy would show: those of the
    /// sampled record with the highest score for its seed, under the flow's rules (so
    /// an e-mail-only directory shows e-mail, and a record the flow cannot reach
    /// refuses as it would). Rendezvous choice: a record joining or leaving the sample
    /// moves only the decoys that chose it.
    pub(super) async fn decoy_destination(
        &self,
        flow: &FlowConfig,
        decoy: &Decoy,
        only: Option<Method>,
    ) -> FlowResult<Destination> {
        let sample = self.sample_of(&flow.directory).await?;
        let score = |r: &Record| Sha256::new().chain_update(decoy.seed).chain_update(r.id.to_be_bytes()).finalize();
        let Some(record) = sample.iter().max_by_key(|r| score(r)) else {
            return Ok(self.decoy_without_records(flow, decoy, only));
        };
        // The address is another person's: only its mask ever leaves this process.
        self.destinations(flow, record, only)?.into_iter().next().ok_or(FlowError::NoDeliveryMethod)
    }

    /// An empty directory has no record to resemble (and no one to conceal).
    fn decoy_without_records(&self, flow: &FlowConfig, decoy: &Decoy, only: Option<Method>) -> Destination {
        let method = only.or(flow.delivery.first().map(|t| t.method)).unwrap_or(Method::Sms);
        let digit = |i: usize| char::from(b'0' + decoy.seed[i] % 10);
        let address = match method {
            Method::Email => {
                let host = reqwest::Url::parse(self.config.issuer()).ok().and_then(|u| u.host_str().map(String::from));
                format!("{}@{}", char::from(b'a' + decoy.seed[0] % 26), host.unwrap_or_else(|| "example.com".into()))
            }
            Method::Sms | Method::Whatsapp => format!("+1555{}{}", digit(1), digit(2)),
        };
        Destination { method, address }
    }

    async fn sample_of(&self, directory: &str) -> FlowResult<Arc<Vec<Record>>> {
        let now = self.now();
        let cached = self.decoys.samples.lock().ok().and_then(|samples| samples.get(directory).cloned());
        if let Some((taken_at, records)) = cached
            && now - taken_at < SAMPLE_TTL_MS
        {
            return Ok(records);
        }
        let records = Arc::new(self.store.first_records(directory, SAMPLE_SIZE).await?);
        if let Ok(mut samples) = self.decoys.samples.lock() {
            samples.insert(directory.to_string(), (now, records.clone()));
        }
        Ok(records)
    }

    /// A decoy's send: it waits as long as a recent real delivery by `method` took, and
    /// says whether that one succeeded. Before any real delivery it takes no time.
    pub(super) async fn decoy_delivery(&self, method: Method) -> bool {
        match self.decoys.draw(method) {
            Some(delivered) => {
                tokio::time::sleep(delivered.took).await;
                delivered.ok
            }
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_recent_deliveries_are_drawn() {
        let decoys = Decoys::default();
        assert!(decoys.draw(Method::Sms).is_none());
        for ms in 0..(RECENT_DELIVERIES as u64 + 10) {
            decoys.delivered(Method::Sms, Duration::from_millis(ms), true);
        }
        for _ in 0..100 {
            let drawn = decoys.draw(Method::Sms).expect("a delivery");
            assert!(drawn.took >= Duration::from_millis(10), "the oldest were forgotten");
        }
        assert!(decoys.draw(Method::Email).is_none(), "per method");
    }
}
