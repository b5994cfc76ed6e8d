//! Data keys (`data_keys`, `schemas/cql/0005_compliance.cql`): made, cached, used to seal
//! and open content, and destroyed by erasure and retention.
//!
//! A data key belongs to one owner (the user whose words it seals) and one key period
//! (`compliance.key_period_days` days, numbered from the Unix epoch). It is stored only
//! wrapped by the key-encryption key (`chat_core::sealing::kek`). Destroying it nulls the
//! wrapped bytes: every copy of what it sealed, in the log, the history store, the
//! notifications topic or a dead letter, is unreadable from then on.
//!
//! Each process uses a key it looked up for `compliance.key_cache_secs` without asking
//! the store again, so a page of history costs no CQL read for senders seen recently. A
//! destroyed key is therefore still usable by a process that cached it for at most that
//! long; the search role, which keeps derived text, drops its cache entries when it reads
//! `ContentErased`. A key in use is read again in the background before it expires
//! ([`Keyring::shared`]), so a request never waits for that read. After that the store is read again, but the KEK (KMS) is asked only
//! when the wrapped bytes changed or a day has passed: KMS requests cost money and have
//! quotas, CQL reads do not.
//!
//! Since v1.3 a conversation has keys too (`scope = 'conversation'`, owner = the
//! conversation id, periods of `compliance.conversation_key_period_days`), and content is
//! sealed under the combination of its sender's key and its conversation's key. Erasure
//! and the platform's retention destroy user keys; a conversation's own retention
//! destroys the conversation's keys ([`Keyring::conversation_keys_ended_before`],
//! [`Keyring::destroy_periods`]).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use chat_core::config::{ComplianceSettings, KekKind};
use chat_core::events::{Attachment, ConversationEvent, Payload};
use chat_core::sealing::{
    self, AttachmentSecrets, Content, DataKey, KeyEncryptionKey, KeyRef, Sealed,
};
use chat_core::time::UnixMillis;
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlTimestamp;
use uuid::Uuid;

use crate::cql::{first_row, prepare};
use crate::error::StoreError;

/// The period number of the erasure marker row: above every real period.
const ERASED_MARKER: i32 = i32::MAX;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// How long an unwrapped key is reused while its wrapped bytes are unchanged in the
/// store (see `Keyring::unwrapped`).
const UNWRAPPED_FOR: Duration = Duration::from_secs(24 * 60 * 60);

/// A key the KEK unwrapped: when, from which wrapped bytes, and the key.
type Unwrapped = (Instant, Vec<u8>, DataKey);

/// What opening found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Opened {
    /// Nothing was sealed (an event of another kind, or written before sealing).
    Clear,
    /// The content is back in its fields.
    Opened,
    /// Its key is destroyed (erasure or retention): the fields stay empty.
    Erased,
}

pub struct Keyring {
    session: Arc<Session>,
    kek: Arc<dyn KeyEncryptionKey>,
    period_ms: i64,
    conversation_period_ms: i64,
    cache_for: Duration,
    cache: Mutex<HashMap<KeyRef, (Instant, Option<DataKey>)>>,
    /// Keys unwrapped by the KEK, by their wrapped bytes: a cache entry that expired is
    /// checked against the store (one CQL read, which sees a destroyed key at once) and,
    /// when the wrapped bytes are unchanged, refreshed without another KEK call. KMS is
    /// then asked about once a day per key and process, not once a `key_cache_secs`.
    unwrapped: Mutex<HashMap<KeyRef, Unwrapped>>,
    /// Content keys derived from an owner key and a conversation key (v1.3), by the two
    /// keys' refs. Deriving costs about 5 µs (`benches/sealing.rs` in chat-core), more
    /// than sealing a message, and every role does it for every message. Consulted only
    /// once both keys were found live, so a destroyed key still opens nothing.
    derived: Mutex<HashMap<(KeyRef, KeyRef), DataKey>>,
    /// Set by [`Keyring::shared`]: what a background refresh holds on to.
    this: OnceLock<Weak<Keyring>>,
    /// One turn per key for looking it up or making it: the first message of a new
    /// conversation often comes from several senders at once, and their concurrent
    /// lightweight transactions on one partition contend (hundreds of ms each); the
    /// others now wait for the first and find its key cached.
    turns: Mutex<HashMap<KeyRef, Arc<tokio::sync::Mutex<()>>>>,
    /// Keys being read again ahead of their expiry ([`Keyring::refresh_ahead`]).
    refreshing: Mutex<HashSet<KeyRef>>,
    /// Moved by every `forget_*`: a refresh that read the store before one of them does
    /// not put back what it forgot.
    forgotten: AtomicU64,
    /// Refreshes done, for tests and diagnostics.
    refreshed: AtomicU64,
    newest: PreparedStatement,
    read: PreparedStatement,
    create: PreparedStatement,
    owner_keys: PreparedStatement,
    destroy: PreparedStatement,
    mark_erased: PreparedStatement,
    all_keys: PreparedStatement,
}

/// The key-encryption key the settings name.
pub fn kek_from_settings(
    settings: &ComplianceSettings,
) -> Result<Arc<dyn KeyEncryptionKey>, StoreError> {
    match settings.kek {
        KekKind::Local => {
            let bytes = openssl_base64(settings.local_kek.expose())?;
            let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                StoreError::unreadable("compliance.local_kek", "must be 32 bytes in base64")
            })?;
            if settings.local_kek.expose() == chat_core::config::DEVELOPMENT_KEK {
                tracing::warn!(
                    "compliance.local_kek is the built-in development key: set your own, or use compliance.kek = aws-kms"
                );
            }
            Ok(Arc::new(sealing::LocalKek::new("settings", key)))
        }
        KekKind::AwsKms => Ok(Arc::new(
            sealing::kms::AwsKmsKek::new(
                settings.kms_key_id.clone(),
                settings.kms_region.clone(),
                settings.kms_endpoint.clone().filter(|e| !e.is_empty()),
            )
            .map_err(|e| StoreError::unreadable("compliance.kms_*", e))?,
        )),
    }
}

fn openssl_base64(s: &str) -> Result<Vec<u8>, StoreError> {
    chat_core::sealing::decode_base64(s)
        .map_err(|e| StoreError::unreadable("compliance.local_kek", e))
}

impl Keyring {
    pub async fn new(
        session: Arc<Session>,
        keyspace: &str,
        settings: &ComplianceSettings,
    ) -> Result<Self, StoreError> {
        let kek = kek_from_settings(settings)?;
        Self::with_kek(session, keyspace, settings, kek).await
    }

    pub async fn with_kek(
        session: Arc<Session>,
        keyspace: &str,
        settings: &ComplianceSettings,
        kek: Arc<dyn KeyEncryptionKey>,
    ) -> Result<Self, StoreError> {
        let ks = keyspace;
        let q = |text: String| {
            let session = session.clone();
            async move { prepare(&session, text).await }
        };
        Ok(Self {
            newest: q(format!(
                "SELECT period, wrapped FROM {ks}.data_keys WHERE owner_id = ? LIMIT 1"
            ))
            .await?,
            read: q(format!(
                "SELECT wrapped FROM {ks}.data_keys WHERE owner_id = ? AND period = ?"
            ))
            .await?,
            create: q(format!(
                "INSERT INTO {ks}.data_keys (owner_id, period, wrapped, kek, created_at, period_end, scope) \
                 VALUES (?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS"
            ))
            .await?,
            owner_keys: q(format!(
                "SELECT period, period_end, destroyed_at FROM {ks}.data_keys WHERE owner_id = ?"
            ))
            .await?,
            destroy: q(format!(
                "UPDATE {ks}.data_keys SET wrapped = null, destroyed_at = ?, destroyed_why = ? \
                 WHERE owner_id = ? AND period = ?"
            ))
            .await?,
            mark_erased: q(format!(
                "INSERT INTO {ks}.data_keys (owner_id, period, destroyed_at, destroyed_why) VALUES (?, ?, ?, ?)"
            ))
            .await?,
            all_keys: q(format!(
                "SELECT owner_id, period, period_end, destroyed_at, scope FROM {ks}.data_keys"
            ))
            .await?,
            session,
            kek,
            period_ms: i64::from(settings.key_period_days) * DAY_MS,
            conversation_period_ms: i64::from(settings.conversation_key_period_days) * DAY_MS,
            cache_for: Duration::from_secs(settings.key_cache_secs),
            cache: Mutex::new(HashMap::new()),
            unwrapped: Mutex::new(HashMap::new()),
            derived: Mutex::new(HashMap::new()),
            this: OnceLock::new(),
            refreshing: Mutex::new(HashSet::new()),
            turns: Mutex::new(HashMap::new()),
            forgotten: AtomicU64::new(0),
            refreshed: AtomicU64::new(0),
        })
    }

    /// The keyring in an `Arc`, with the keys in use read again in the background before
    /// they expire ([`Keyring::refresh_ahead`]). Without it, a key is read again by the
    /// first use after it expired.
    pub fn shared(self) -> Arc<Self> {
        let shared = Arc::new(self);
        let _ = shared.this.set(Arc::downgrade(&shared));
        shared
    }

    /// The key period a moment falls in.
    pub fn period_of(&self, at: UnixMillis) -> i32 {
        period_in(at, self.period_ms)
    }

    /// When a key period ends (exclusive).
    pub fn period_end(&self, period: i32) -> UnixMillis {
        UnixMillis((i64::from(period) + 1) * self.period_ms)
    }

    /// The length of a conversation key's period, in milliseconds.
    pub fn conversation_period_ms(&self) -> i64 {
        self.conversation_period_ms
    }

    fn cached(&self, key: KeyRef) -> Option<Option<DataKey>> {
        let (age, data_key) = {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            let (at, k) = cache.get(&key)?;
            (at.elapsed(), k.clone())
        };
        if age >= self.cache_for {
            return None;
        }
        if age >= self.cache_for.mul_f64(0.75) {
            self.refresh_ahead(key);
        }
        Some(data_key)
    }

    /// Read a key in use again in the background, in the last quarter of its cache
    /// time, so it never expires on a request's path. Before this, every sender's next
    /// message waited for a CQL read once every `key_cache_secs`, and under load that
    /// read queued behind the store's writes: at 1,000 msgs/s, one seal in 400 took over
    /// 100 ms, and the sender's following messages waited behind it. A refresh resets
    /// the key's age only to when it read the store, so a destroyed key is still used
    /// for at most `key_cache_secs` after its destruction, as before.
    fn refresh_ahead(&self, key: KeyRef) {
        let Some(this) = self.this.get().and_then(Weak::upgrade) else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if !self.refreshing_keys().insert(key) {
            return;
        }
        runtime.spawn(async move {
            let generation = this.forgotten.load(Ordering::SeqCst);
            let result: Result<_, SealError> = async {
                let read_at = Instant::now();
                let row: Option<(Option<Vec<u8>>,)> =
                    first_row(&this.session, &this.read, (key.owner, key.period)).await?;
                this.key_in_row(key, row.and_then(|(w,)| w), read_at).await
            }
            .await;
            if this.forgotten.load(Ordering::SeqCst) != generation {
                // Forgotten meanwhile: the next use reads the store again.
                this.cache
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&key);
            }
            if let Err(e) = result {
                tracing::debug!(error = %e, "refreshing a data key failed; its next use reads it");
            }
            this.refreshed.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("data_keys_refreshed_total").increment(1);
            this.refreshing_keys().remove(&key);
        });
    }

    /// How many keys this keyring read again ahead of their expiry.
    pub fn refreshed(&self) -> u64 {
        self.refreshed.load(Ordering::Relaxed)
    }

    fn refreshing_keys(&self) -> std::sync::MutexGuard<'_, HashSet<KeyRef>> {
        self.refreshing.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Cache what the store held at `read_at` (when the read was sent: a key destroyed
    /// while the read was on its way is used for at most `cache_for` after that).
    fn remember(&self, key: KeyRef, data_key: Option<DataKey>, read_at: Instant) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() > 100_000 {
            let cache_for = self.cache_for;
            cache.retain(|_, (at, _)| at.elapsed() < cache_for);
        }
        cache.insert(key, (read_at, data_key));
    }

    /// Drop an owner's keys from this process's cache (after an erasure).
    pub fn forget_owner(&self, owner: Uuid) {
        self.forgotten.fetch_add(1, Ordering::SeqCst);
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.retain(|k, _| k.owner != owner);
        self.unwrapped_cache().retain(|k, _| k.owner != owner);
        self.derived_cache()
            .retain(|(a, b), _| a.owner != owner && b.owner != owner);
    }

    /// Drop every cached key (after retention ran).
    pub fn forget_all(&self) {
        self.forgotten.fetch_add(1, Ordering::SeqCst);
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.unwrapped_cache().clear();
        self.derived_cache().clear();
    }

    fn derived_cache(&self) -> std::sync::MutexGuard<'_, HashMap<(KeyRef, KeyRef), DataKey>> {
        self.derived.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The content key of `owner` and `scope`, whose keys the caller found live.
    fn content_key(
        &self,
        owner: (KeyRef, &DataKey),
        scope: (KeyRef, &DataKey),
    ) -> Result<DataKey, SealError> {
        let refs = (owner.0, scope.0);
        if let Some(k) = self.derived_cache().get(&refs) {
            return Ok(k.clone());
        }
        let k = sealing::content_key(owner.1, scope.1).map_err(SealError::Sealing)?;
        let mut derived = self.derived_cache();
        if derived.len() > 200_000 {
            derived.clear();
        }
        derived.insert(refs, k.clone());
        Ok(k)
    }

    /// The key that seals what `owner` writes at `at`: made (once, whoever asks first)
    /// when the period has none. Refused for an erased owner.
    pub async fn sealing_key(
        &self,
        owner: Uuid,
        at: UnixMillis,
    ) -> Result<(KeyRef, DataKey), SealError> {
        let key = KeyRef {
            owner,
            period: self.period_of(at),
        };
        self.key_to_seal_with(key, KeyOwner::User).await
    }

    /// The conversation's key for the (conversation) period `at` falls in: made when the
    /// period has none. Refused once that period's key was destroyed by its retention.
    pub async fn conversation_sealing_key(
        &self,
        conversation: Uuid,
        at: UnixMillis,
    ) -> Result<(KeyRef, DataKey), SealError> {
        let key = KeyRef {
            owner: conversation,
            period: period_in(at, self.conversation_period_ms),
        };
        self.key_to_seal_with(key, KeyOwner::Conversation).await
    }

    async fn key_to_seal_with(
        &self,
        key: KeyRef,
        kind: KeyOwner,
    ) -> Result<(KeyRef, DataKey), SealError> {
        if let Some(Some(k)) = self.cached(key) {
            return Ok((key, k));
        }
        let turn = self
            .turns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key)
            .or_default()
            .clone();
        let result = {
            let _mine = turn.lock().await;
            match self.cached(key) {
                Some(Some(k)) => Ok((key, k)),
                _ => self.look_up_or_make(key, kind).await,
            }
        };
        let mut turns = self.turns.lock().unwrap_or_else(|p| p.into_inner());
        // Ours and the map's: nobody else waits for this key.
        if Arc::strong_count(&turn) <= 2 {
            turns.remove(&key);
        }
        result
    }

    async fn look_up_or_make(
        &self,
        key: KeyRef,
        kind: KeyOwner,
    ) -> Result<(KeyRef, DataKey), SealError> {
        let owner = key.owner;
        let read_at = Instant::now();
        let newest: Option<(i32, Option<Vec<u8>>)> =
            first_row(&self.session, &self.newest, (owner,)).await?;
        // The newest row is the marker of an erased owner, or usually this very period's
        // key: then it is used as read, with no second read. A row of a later period
        // means `at` is in the past (a replay, a test): look that period up.
        let existing = match newest {
            Some((ERASED_MARKER, _)) => return Err(SealError::Erased(owner)),
            Some((period, wrapped)) if period == key.period => {
                self.key_in_row(key, wrapped, read_at).await?
            }
            Some((period, _)) if period > key.period => self.opening_key(key).await?,
            _ => None,
        };
        if let Some(k) = existing {
            return Ok((key, k));
        }
        let fresh = DataKey::generate().map_err(SealError::Sealing)?;
        let wrapped = self
            .kek
            .wrap(fresh.as_bytes())
            .await
            .map_err(SealError::Sealing)?;
        let wrapped_copy = wrapped.clone();
        let applied = self
            .session
            .execute_unpaged(
                &self.create,
                (
                    owner,
                    key.period,
                    wrapped,
                    self.kek.id(),
                    CqlTimestamp(UnixMillis::now().0),
                    CqlTimestamp(kind.period_end(self, key.period).0),
                    kind.scope(),
                ),
            )
            .await
            .map_err(StoreError::cql)?;
        let won = applied
            .into_rows_result()
            .ok()
            .and_then(|r| r.maybe_first_row::<(bool,)>().ok().flatten())
            .map(|(applied,)| applied)
            .unwrap_or(false);
        if won {
            metrics::counter!("data_keys_created_total").increment(1);
            self.remember(key, Some(fresh.clone()), read_at);
            self.remember_unwrapped(key, wrapped_copy, fresh.clone());
            return Ok((key, fresh));
        }
        // Another process made it first: use theirs.
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key);
        match self.opening_key(key).await? {
            Some(k) => Ok((key, k)),
            None => Err(SealError::Erased(owner)),
        }
    }

    /// The key that opens what was sealed under `key`; None when it is destroyed (or
    /// never existed).
    pub async fn opening_key(&self, key: KeyRef) -> Result<Option<DataKey>, SealError> {
        if let Some(k) = self.cached(key) {
            return Ok(k);
        }
        let read_at = Instant::now();
        let row: Option<(Option<Vec<u8>>,)> =
            first_row(&self.session, &self.read, (key.owner, key.period)).await?;
        self.key_in_row(key, row.and_then(|(w,)| w), read_at).await
    }

    /// The key a row's wrapped bytes hold (None: destroyed, or no row), unwrapped by the
    /// KEK unless this process unwrapped the same bytes lately; remembered either way.
    async fn key_in_row(
        &self,
        key: KeyRef,
        wrapped: Option<Vec<u8>>,
        read_at: Instant,
    ) -> Result<Option<DataKey>, SealError> {
        let data_key = match wrapped {
            None => {
                self.unwrapped_cache().remove(&key);
                None
            }
            Some(wrapped) => match self.already_unwrapped(key, &wrapped) {
                Some(k) => Some(k),
                None => {
                    let raw = self
                        .kek
                        .unwrap(&wrapped)
                        .await
                        .map_err(SealError::Sealing)?;
                    let k = DataKey::from_bytes(&raw).map_err(SealError::Sealing)?;
                    self.remember_unwrapped(key, wrapped, k.clone());
                    Some(k)
                }
            },
        };
        self.remember(key, data_key.clone(), read_at);
        Ok(data_key)
    }

    fn unwrapped_cache(&self) -> std::sync::MutexGuard<'_, HashMap<KeyRef, Unwrapped>> {
        self.unwrapped.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The key `wrapped` unwraps to, if this process unwrapped exactly those bytes for
    /// `key` less than [`UNWRAPPED_FOR`] ago.
    fn already_unwrapped(&self, key: KeyRef, wrapped: &[u8]) -> Option<DataKey> {
        self.unwrapped_cache()
            .get(&key)
            .filter(|(at, w, _)| w == wrapped && at.elapsed() < UNWRAPPED_FOR)
            .map(|(_, _, k)| k.clone())
    }

    fn remember_unwrapped(&self, key: KeyRef, wrapped: Vec<u8>, data_key: DataKey) {
        let mut cache = self.unwrapped_cache();
        if cache.len() > 200_000 {
            cache.retain(|_, (at, _, _)| at.elapsed() < UNWRAPPED_FOR);
        }
        cache.insert(key, (Instant::now(), wrapped, data_key));
    }

    /// Seal `content` as `owner`'s words at `at` in `conversation` (its scope; None for
    /// content that belongs to no conversation), bound to `bound_to`.
    pub async fn seal_content(
        &self,
        owner: Uuid,
        conversation: Option<Uuid>,
        at: UnixMillis,
        bound_to: Uuid,
        content: &Content,
    ) -> Result<Sealed, SealError> {
        let (key_ref, owner_key) = self.sealing_key(owner, at).await?;
        let (scope, key) = match conversation.filter(|c| !c.is_nil()) {
            None => (None, owner_key),
            Some(c) => {
                let (scope_ref, scope_key) = self.conversation_sealing_key(c, at).await?;
                let key = self.content_key((key_ref, &owner_key), (scope_ref, &scope_key))?;
                (Some(scope_ref), key)
            }
        };
        sealing::seal(&key, key_ref, scope, bound_to, content).map_err(SealError::Sealing)
    }

    /// Open sealed content; None when its key (or its conversation's) is destroyed.
    pub async fn open_content(
        &self,
        sealed: &Sealed,
        bound_to: Uuid,
    ) -> Result<Option<Content>, SealError> {
        let Some(owner_key) = self.opening_key(sealed.key).await? else {
            return Ok(None);
        };
        let key = match sealed.scope {
            None => owner_key,
            Some(scope) => match self.opening_key(scope).await? {
                None => return Ok(None),
                Some(scope_key) => {
                    self.content_key((sealed.key, &owner_key), (scope, &scope_key))?
                }
            },
        };
        sealing::open(&key, sealed, bound_to)
            .map(Some)
            .map_err(SealError::Sealing)
    }

    /// Move an event's personal content into its sealed field (MessageSent and
    /// MessageEdited; other kinds carry none). The actor is the key owner.
    pub async fn seal_event(&self, event: &mut ConversationEvent) -> Result<(), SealError> {
        let (message_id, content) = match &mut event.payload {
            Payload::MessageSent(m) => {
                let attachments = m
                    .attachments
                    .iter_mut()
                    // The object key stays in the clear: it is made of ids
                    // (`uploads/<conversation>/<attachment id>`), and the history
                    // projection checks it names this conversation's upload.
                    .map(|a| AttachmentSecrets {
                        name: std::mem::take(&mut a.name),
                        url: std::mem::take(&mut a.url),
                        object_key: String::new(),
                    })
                    .collect();
                (
                    m.message_id.0,
                    Content {
                        body: std::mem::take(&mut m.body),
                        attachments,
                    },
                )
            }
            Payload::MessageEdited {
                message_id, body, ..
            } => (
                message_id.0,
                Content {
                    body: std::mem::take(body),
                    attachments: Vec::new(),
                },
            ),
            _ => return Ok(()),
        };
        let sealed = self
            .seal_content(
                event.actor_id.0,
                Some(event.conversation_id.0),
                event.occurred_at,
                message_id,
                &content,
            )
            .await;
        match sealed {
            Ok(s) => {
                event.sealed = Some(s);
                Ok(())
            }
            Err(e) => {
                restore(event, content);
                Err(e)
            }
        }
    }

    /// Put an event's sealed content back into its fields. `sealed` is kept, so the
    /// event can still be stored in its sealed form.
    pub async fn open_event(&self, event: &mut ConversationEvent) -> Result<Opened, SealError> {
        let Some(sealed) = event.sealed.clone() else {
            return Ok(Opened::Clear);
        };
        let bound_to = match &event.payload {
            Payload::MessageSent(m) => m.message_id.0,
            Payload::MessageEdited { message_id, .. } => message_id.0,
            _ => return Ok(Opened::Clear),
        };
        match self.open_content(&sealed, bound_to).await? {
            None => Ok(Opened::Erased),
            Some(content) => {
                restore(event, content);
                Ok(Opened::Opened)
            }
        }
    }

    /// Erasure: destroy every key of `owner`, and make sure no new one is ever made.
    /// Returns how many keys were destroyed.
    pub async fn destroy_owner(&self, owner: Uuid, why: &str) -> Result<usize, StoreError> {
        let now = CqlTimestamp(UnixMillis::now().0);
        self.session
            .execute_unpaged(&self.mark_erased, (owner, ERASED_MARKER, now, why))
            .await
            .map_err(StoreError::cql)?;
        let periods: Vec<i32> = self
            .owner_rows(owner)
            .await?
            .into_iter()
            .map(|r| r.period)
            .collect();
        self.destroy_periods(owner, &periods, why).await?;
        Ok(periods.len())
    }

    /// Retention: destroy every live key whose period ended before `cutoff`, except
    /// those of `kept` owners. Returns how many were destroyed. Walks the whole table
    /// (a few rows per user per period), paged.
    pub async fn destroy_ended_before(
        &self,
        cutoff: UnixMillis,
        kept: &std::collections::HashSet<Uuid>,
    ) -> Result<usize, StoreError> {
        use futures::TryStreamExt;
        let mut rows = self
            .session
            .execute_iter(self.all_keys.clone(), ())
            .await
            .map_err(StoreError::cql)?
            .rows_stream::<(
                Uuid,
                i32,
                Option<CqlTimestamp>,
                Option<CqlTimestamp>,
                Option<String>,
            )>()
            .map_err(StoreError::cql)?;
        let mut doomed = Vec::new();
        while let Some((owner, period, end, destroyed, scope)) =
            rows.try_next().await.map_err(StoreError::cql)?
        {
            let ended = end.map(|e| e.0 <= cutoff.0).unwrap_or(false);
            // Users' keys only: content needs its sender's key too, so destroying those
            // is enough, and a held user's words in a conversation that is not held stay
            // readable (their key is kept, the conversation's was never touched).
            let users_key = scope.is_none();
            if users_key
                && period != ERASED_MARKER
                && destroyed.is_none()
                && ended
                && !kept.contains(&owner)
            {
                doomed.push((owner, period));
            }
        }
        self.destroy_rows(&doomed, "retention").await?;
        self.forget_all();
        Ok(doomed.len())
    }

    /// The live keys of `conversation` whose period ended at or before `cutoff`, for its
    /// own retention.
    pub async fn conversation_keys_ended_before(
        &self,
        conversation: Uuid,
        cutoff: UnixMillis,
    ) -> Result<Vec<i32>, StoreError> {
        Ok(self
            .owner_rows(conversation)
            .await?
            .into_iter()
            .filter(|r| !r.destroyed && r.end.is_some_and(|e| e.0 <= cutoff.0))
            .map(|r| r.period)
            .collect())
    }

    /// Every key row of `owner` but the erasure marker.
    async fn owner_rows(&self, owner: Uuid) -> Result<Vec<KeyRow>, StoreError> {
        use futures::TryStreamExt;
        let mut rows = self
            .session
            .execute_iter(self.owner_keys.clone(), (owner,))
            .await
            .map_err(StoreError::cql)?
            .rows_stream::<(i32, Option<CqlTimestamp>, Option<CqlTimestamp>)>()
            .map_err(StoreError::cql)?;
        let mut out = Vec::new();
        while let Some((period, end, destroyed)) = rows.try_next().await.map_err(StoreError::cql)? {
            if period != ERASED_MARKER {
                out.push(KeyRow {
                    period,
                    end,
                    destroyed: destroyed.is_some(),
                });
            }
        }
        Ok(out)
    }

    /// Destroy `owner`'s keys of `periods`, recording `why`; forgets them in this process.
    pub async fn destroy_periods(
        &self,
        owner: Uuid,
        periods: &[i32],
        why: &str,
    ) -> Result<(), StoreError> {
        let rows: Vec<(Uuid, i32)> = periods.iter().map(|p| (owner, *p)).collect();
        self.destroy_rows(&rows, why).await?;
        self.forget_owner(owner);
        Ok(())
    }

    /// Null the wrapped bytes of each (owner, period), recording when and `why`.
    async fn destroy_rows(&self, rows: &[(Uuid, i32)], why: &str) -> Result<(), StoreError> {
        let now = CqlTimestamp(UnixMillis::now().0);
        for (owner, period) in rows {
            self.session
                .execute_unpaged(&self.destroy, (now, why, *owner, *period))
                .await
                .map_err(StoreError::cql)?;
        }
        metrics::counter!("data_keys_destroyed_total", "why" => why.to_string())
            .increment(rows.len() as u64);
        Ok(())
    }

    /// Whether `owner` was erased.
    pub async fn is_erased(&self, owner: Uuid) -> Result<bool, StoreError> {
        let newest: Option<(i32, Option<Vec<u8>>)> =
            first_row(&self.session, &self.newest, (owner,)).await?;
        Ok(matches!(newest, Some((ERASED_MARKER, _))))
    }
}

/// One row of `data_keys` as retention and erasure read it.
struct KeyRow {
    period: i32,
    end: Option<CqlTimestamp>,
    destroyed: bool,
}

/// Whose key a row is, which sets its period length and its `scope` column.
#[derive(Clone, Copy)]
enum KeyOwner {
    User,
    Conversation,
}

impl KeyOwner {
    fn scope(self) -> Option<&'static str> {
        match self {
            KeyOwner::User => None,
            KeyOwner::Conversation => Some("conversation"),
        }
    }

    fn period_end(self, keyring: &Keyring, period: i32) -> UnixMillis {
        let length = match self {
            KeyOwner::User => keyring.period_ms,
            KeyOwner::Conversation => keyring.conversation_period_ms,
        };
        UnixMillis((i64::from(period) + 1) * length)
    }
}

/// The period of `length` ms that `at` falls in, kept below the erasure marker.
fn period_in(at: UnixMillis, length: i64) -> i32 {
    let p = at.0.div_euclid(length);
    p.clamp(i64::from(i32::MIN), i64::from(ERASED_MARKER - 1)) as i32
}

/// Put attachments' opened names (and v1 URLs) back, in order.
fn reveal(attachments: &mut [Attachment], secrets: Vec<AttachmentSecrets>) {
    for (a, s) in attachments.iter_mut().zip(secrets) {
        a.name = s.name;
        a.url = s.url;
        if !s.object_key.is_empty() {
            a.object_key = s.object_key;
        }
    }
}

/// Put opened content back where `seal_event` took it from.
fn restore(event: &mut ConversationEvent, content: Content) {
    match &mut event.payload {
        Payload::MessageSent(m) => {
            m.body = content.body;
            reveal(&mut m.attachments, content.attachments);
        }
        Payload::MessageEdited { body, .. } => *body = content.body,
        _ => {}
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sealing(chat_core::sealing::SealingError),
    /// The owner was erased: nothing more is sealed under their name.
    #[error("user {0} was erased")]
    Erased(Uuid),
}

impl SealError {
    /// Whether trying again cannot help: the sealed bytes themselves are bad (tampered,
    /// truncated, not JSON inside). A store or KMS that did not answer, or a KEK that
    /// does not unwrap (a configuration to fix), is worth retrying.
    pub fn is_permanent(&self) -> bool {
        use chat_core::sealing::SealingError as S;
        matches!(
            self,
            SealError::Sealing(S::Open | S::Malformed(_) | S::Json(_))
        )
    }
}

/// Open a stored message's sealed body and attachment names in place. Without a
/// keyring, or with its key destroyed, the message comes out erased. Content that does
/// not open (tampered, or the wrong KEK) is an error, never shown as erased.
pub(crate) async fn open_message(
    keyring: Option<&Keyring>,
    m: &mut crate::history::model::Message,
) -> Result<(), StoreError> {
    match open_stored(keyring, m.sealed.take(), &m.message_id).await? {
        Stored::Clear => {}
        Stored::Erased => {
            m.erased = true;
            m.body = None;
            m.attachments.clear();
        }
        Stored::Opened(content) => {
            if m.deleted_at.is_none() {
                m.body = Some(content.body);
            }
            reveal(&mut m.stored_attachments, content.attachments);
            m.attachments = m
                .stored_attachments
                .iter()
                .map(|a| chat_core::live::frames::attachment_view(&m.conversation_id, a))
                .collect();
        }
    }
    Ok(())
}

/// [`open_message`] for a conversation list's last message.
pub(crate) async fn open_last_message(
    keyring: Option<&Keyring>,
    m: &mut crate::history::model::LastMessage,
) -> Result<(), StoreError> {
    match open_stored(keyring, m.sealed.take(), &m.message_id).await? {
        Stored::Clear => {}
        Stored::Erased => {
            m.erased = true;
            m.body = None;
        }
        Stored::Opened(content) => m.body = Some(content.body),
    }
    Ok(())
}

/// What a stored row's sealed column opened to.
enum Stored {
    /// Nothing was sealed (a row written before v1.2).
    Clear,
    /// No keyring, or its key is destroyed.
    Erased,
    Opened(Content),
}

fn uuid_of(s: &str) -> Option<Uuid> {
    Uuid::parse_str(s).ok()
}

async fn open_stored(
    keyring: Option<&Keyring>,
    bytes: Option<Vec<u8>>,
    message_id: &str,
) -> Result<Stored, StoreError> {
    let Some(bytes) = bytes else {
        return Ok(Stored::Clear);
    };
    let (Some(keyring), Some(bound_to)) = (keyring, uuid_of(message_id)) else {
        return Ok(Stored::Erased);
    };
    let sealed =
        Sealed::from_bytes(&bytes).map_err(|e| StoreError::unreadable("sealed content", e))?;
    match keyring.open_content(&sealed, bound_to).await {
        Ok(Some(content)) => Ok(Stored::Opened(content)),
        Ok(None) => Ok(Stored::Erased),
        Err(SealError::Store(e)) => Err(e),
        Err(other) => Err(StoreError::unreadable(
            format!("sealed content of {bound_to}"),
            other,
        )),
    }
}
