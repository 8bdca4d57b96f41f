//! Bot clients authenticate with HTTP Basic. Secrets are argon2id hashes; a verified
//! credential is remembered as a keyed fingerprint (never the secret) for a minute, so
//! a busy bot does not pay a 19 MiB hash on every request.
//!
//! Start-up hashes nothing: each 19 MiB hash leaves its buffer with the allocator, and
//! three of them (the dummy, two configured clients) were 40 % of an idle process's
//! memory (README, Memory). The dummy needs no hash (`Hasher::unmatchable`), and a
//! configured client's secret is checked against its stored hash on the client's first
//! authentication instead (`settle`).
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::OnceCell;

use crate::clock::{Clock, Millis, millis};
use crate::config::{Config, Secret};
use crate::crypto::{HashError, Hasher, HasherParams, random_token};
use crate::store::clients::{ClientChange, StoredClient};
use crate::store::{Store, StoreError};

const CACHE_FOR: Duration = Duration::from_secs(60);
const MAX_ID_CHARS: usize = 128;
const MAX_SECRET_CHARS: usize = 256;

/// Why `id` cannot name a client, if it cannot: 1 to 64 letters, digits, `-` and `_`.
/// Without a `/` a client's token `sub` can never equal or look like a person's
/// `directory/key` (RFC 9068 §5), and the id needs no escaping in a URL or a Basic header.
pub fn client_id_problem(id: &str) -> Option<&'static str> {
    let valid =
        !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (!valid).then_some(
        "a client id must be 1 to 64 characters of letters, digits, - and _ (no `/`: it would look like a \
         person's subject, directory/key)",
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: String,
    pub flows: Vec<String>,
    pub scopes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("unknown client or wrong secret")]
    Rejected,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Hash(#[from] HashError),
}

struct Remembered {
    fingerprint: [u8; 32],
    client: Client,
    until: Millis,
}

pub struct ClientAuth {
    store: Store,
    hasher: Hasher,
    fingerprint_key: [u8; 32],
    /// Verified against when the client does not exist, so timing does not tell.
    dummy_hash: String,
    remembered: RwLock<HashMap<String, Remembered>>,
    /// The clients of the configuration file, by id.
    declared: HashMap<String, Declared>,
}

/// A client of the configuration file: the file's secret, and whether this process has
/// made the stored hash match it yet.
struct Declared {
    secret: Secret,
    settled: OnceCell<()>,
}

impl ClientAuth {
    pub fn new(store: Store) -> Result<Self, ClientError> {
        let hasher = Hasher::new(HasherParams::SECRETS, None)?;
        let dummy_hash = hasher.unmatchable()?;
        let mut fingerprint_key = [0u8; 32];
        fingerprint_key.copy_from_slice(&random_token(32).as_bytes()[..32]);
        let remembered = RwLock::new(HashMap::new());
        Ok(Self { store, hasher, fingerprint_key, dummy_hash, remembered, declared: HashMap::new() })
    }

    pub fn hasher(&self) -> &Hasher {
        &self.hasher
    }

    pub async fn authenticate(&self, id: &str, secret: &str, clock: &dyn Clock) -> Result<Client, ClientError> {
        if id.is_empty() || id.len() > MAX_ID_CHARS || secret.len() > MAX_SECRET_CHARS {
            return Err(ClientError::Rejected);
        }
        let now = clock.now();
        let fingerprint = self.fingerprint(id, secret);
        if let Some(client) = self.recall(id, &fingerprint, now) {
            return Ok(client);
        }
        self.settle(id).await?;
        let stored = self.store.find_client(id).await?;
        let (hash, usable) = match &stored {
            Some(c) => (c.secret_hash.clone(), c.active),
            None => (self.dummy_hash.clone(), false),
        };
        let matches = self.hasher.verify(secret.to_string(), hash).await?;
        match stored {
            Some(c) if matches && usable => {
                let client = Client { id: c.id, flows: c.flows, scopes: c.scopes };
                let remembered = Remembered { fingerprint, client: client.clone(), until: now + millis(CACHE_FOR) };
                self.remembered.write().unwrap_or_else(|e| e.into_inner()).insert(id.to_string(), remembered);
                Ok(client)
            }
            _ => Err(ClientError::Rejected),
        }
    }

    /// The active client `id`, without its secret: for requests that authenticate some other
    /// way (a Twilio webhook is signed with the Twilio auth token) on behalf of a configured client.
    pub async fn by_id(&self, id: &str) -> Result<Option<Client>, ClientError> {
        let stored = self.store.find_client(id).await?.filter(|c| c.active);
        Ok(stored.map(|c| Client { id: c.id, flows: c.flows, scopes: c.scopes }))
    }

    /// Forgets a remembered credential (after a secret rotation or a disable).
    pub fn forget(&self, id: &str) {
        self.remembered.write().unwrap_or_else(|e| e.into_inner()).remove(id);
    }

    fn recall(&self, id: &str, fingerprint: &[u8; 32], now: Millis) -> Option<Client> {
        let remembered = self.remembered.read().unwrap_or_else(|e| e.into_inner());
        let entry = remembered.get(id)?;
        let same: bool = subtle::ConstantTimeEq::ct_eq(&entry.fingerprint[..], &fingerprint[..]).into();
        (same && now < entry.until).then(|| entry.client.clone())
    }

    fn fingerprint(&self, id: &str, secret: &str) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.fingerprint_key).expect("HMAC takes keys of any length");
        mac.update(id.as_bytes());
        mac.update(&[0]);
        mac.update(secret.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Brings the stored clients in line with `[[clients]]` in the configuration: flows,
    /// scopes and `active` now; the secret on each client's first authentication
    /// (`settle`). A new client is stored with a hash no secret matches until then.
    pub async fn sync_config_clients(&mut self, config: &Config, now: Millis) -> Result<(), ClientError> {
        for declared in &config.clients {
            let secret_hash = match self.store.find_client(&declared.id).await? {
                Some(c) => c.secret_hash,
                None => self.hasher.unmatchable()?,
            };
            let client = StoredClient {
                id: declared.id.clone(),
                secret_hash,
                flows: declared.flows.clone(),
                scopes: declared.scopes.clone(),
                active: true,
            };
            self.store.put_client(&client, now).await?;
            let settled = OnceCell::new();
            self.declared.insert(declared.id.clone(), Declared { secret: declared.secret.clone(), settled });
        }
        Ok(())
    }

    /// For a client of the configuration file, once per process (concurrent first
    /// requests wait for one check): re-hashes the stored secret if it is not the file's.
    /// A failure leaves it to be tried again by the next request.
    async fn settle(&self, id: &str) -> Result<(), ClientError> {
        let Some(declared) = self.declared.get(id) else { return Ok(()) };
        let check = || async {
            let Some(stored) = self.store.find_client(id).await? else { return Ok(()) };
            let secret = declared.secret.expose().to_string();
            if !self.hasher.verify(secret.clone(), stored.secret_hash).await? {
                let secret_hash = self.hasher.hash(secret).await?;
                self.store.update_client(id, ClientChange::Secret(secret_hash)).await?;
            }
            Ok::<(), ClientError>(())
        };
        declared.settled.get_or_try_init(check).await.map(drop)
    }
}
