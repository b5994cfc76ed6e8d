//! Configuration, read once at start-up into plain typed structs.
//!
//! Layers, later wins:
//! 1. built-in defaults: the local servers `infra/dev up` starts;
//! 2. a TOML file named by `CHAT_CONFIG` (optional);
//! 3. `CHAT__SECTION__KEY` environment variables (e.g. `CHAT__KAFKA__TOPIC_PREFIX`);
//! 4. the well-known variables operators and `infra/dev` use: `KAFKA_BROKERS`,
//!    `CQL_NODES`, `REDIS_URL`, `SCHEMA_REGISTRY_URL`.
//!
//! A service with a section of its own (the gateway's `[gateway]`) implements
//! [`Section`] and loads it with [`Settings::load_with`]: the layers are built once,
//! with its defaults beside the shared ones, and both deserialize from the same source,
//! so the file is read once and a key is overridden the same way wherever it lives.
//!
//! Secrets are held in [`Secret`], whose `Debug` never prints the value, so logging the
//! settings at start-up is safe.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration: {0}")]
    Invalid(String),
}

/// A value that must never reach a log line.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct Settings {
    pub kafka: KafkaSettings,
    pub registry: RegistrySettings,
    pub cql: CqlSettings,
    pub redis: RedisSettings,
    pub presence: PresenceSettings,
    pub fanout: FanoutSettings,
    pub notifications: NotificationSettings,
    pub webhook: WebhookSettings,
    pub telemetry: TelemetrySettings,
    pub groups: GroupSettings,
    pub compliance: ComplianceSettings,
}

/// Crypto-shredding and retention (`chat_store::keyring`), shared by every process
/// that seals or opens content.
#[derive(Clone, Debug, Deserialize)]
pub struct ComplianceSettings {
    /// Which key-encryption key wraps the data keys: `local` (the key below) or
    /// `aws-kms` (the KMS key `kms_key_id`).
    pub kek: KekKind,
    /// `local`: the KEK itself, 32 bytes in base64. The built-in default is a
    /// development key, logged as such at start-up; set your own anywhere else.
    pub local_kek: Secret,
    pub kms_key_id: String,
    pub kms_region: String,
    /// Another KMS endpoint than AWS's regional one (tests use a local KMS server).
    pub kms_endpoint: Option<String>,
    /// How many days one data key seals: erasure destroys all of a user's keys,
    /// retention destroys whole periods once they are older than `retention_days`.
    pub key_period_days: u32,
    /// Content older than this becomes unreadable (`chatctl retention apply`); 0 keeps
    /// everything.
    pub retention_days: u32,
    /// How long a process uses a data key before it reads the key's row again: an
    /// erasure reaches processes that do not read the log's `ContentErased` within this.
    pub key_cache_secs: u64,
    /// How many days one conversation key seals (v1.3): a conversation's own retention
    /// destroys whole conversation periods, so this is its granularity.
    pub conversation_key_period_days: u32,
    /// The shortest retention a group admin may set on a conversation.
    pub conversation_retention_min_days: u32,
    /// The longest (0: no upper limit).
    pub conversation_retention_max_days: u32,
}

impl ComplianceSettings {
    /// Whether a group admin may set `days` of retention; the refusal names the limits.
    pub fn check_conversation_retention(&self, days: u32) -> Result<(), String> {
        let min = self.conversation_retention_min_days;
        let max = self.conversation_retention_max_days;
        let limits = if max == 0 {
            format!("at least {min} days")
        } else {
            format!("{min} to {max} days")
        };
        if days < min || (max > 0 && days > max) {
            return Err(format!(
                "a conversation's retention is {limits} on this server, not {days}"
            ));
        }
        Ok(())
    }
}

/// The built-in development KEK (`chat-dev-only-key-encryption-key`).
pub const DEVELOPMENT_KEK: &str = "Y2hhdC1kZXYtb25seS1rZXktZW5jcnlwdGlvbi1rZXk=";

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum KekKind {
    Local,
    AwsKms,
}

/// Group rules every service that authorizes or re-checks an action must agree on: the
/// gateway (before it appends) and the history projection (when it applies).
#[derive(Clone, Debug, Deserialize)]
pub struct GroupSettings {
    /// `members` (any member adds people, the default) or `admins`.
    pub who_may_add: crate::rules::WhoMayAdd,
}

#[derive(Clone, Debug, Deserialize)]
pub struct KafkaSettings {
    /// Comma-separated bootstrap servers.
    pub brokers: String,
    /// Prepended to every topic name (`chat.` gives `chat.conversation-events`).
    pub topic_prefix: String,
    /// Partitions of the conversation-events topic. Fixed for the life of a topic: seq
    /// order depends on a conversation never moving partitions.
    pub partitions: i32,
    pub replication_factor: i32,
    pub min_insync_replicas: i32,
    /// Producer batching delay; small, because every send waits for its ack.
    pub linger_ms: u32,
    pub compression: String,
    /// How long a produce may wait for Kafka before the client gets `unavailable`.
    pub delivery_timeout_ms: u32,
    /// How clients connect: `plaintext` (the default), `ssl`, `sasl_plaintext` or
    /// `sasl_ssl` (librdkafka's `security.protocol`).
    pub security_protocol: KafkaSecurityProtocol,
    /// SASL credentials, for the `sasl_*` protocols.
    #[serde(default)]
    pub sasl: KafkaSaslSettings,
    /// TLS, for `ssl` and `sasl_ssl`.
    #[serde(default)]
    pub tls: TlsClientSettings,
    /// Extra librdkafka properties, passed through verbatim after the settings above
    /// (so they can override them).
    #[serde(default)]
    pub extra: BTreeMap<String, Secret>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KafkaSecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl KafkaSecurityProtocol {
    pub fn uses_sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }

    pub fn uses_tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }
}

/// `[kafka.sasl]`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct KafkaSaslSettings {
    /// `SCRAM-SHA-512`, `SCRAM-SHA-256` or `PLAIN`.
    #[serde(default)]
    pub mechanism: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Secret,
}

/// The client side of TLS to one of the servers (`kafka.tls`, `redis.tls`, `cql.tls`).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct TlsClientSettings {
    /// PEM file of the CA(s) the server's certificate must chain to; the system's
    /// roots when unset.
    #[serde(default)]
    pub ca_path: Option<String>,
    /// The same CA(s) as PEM text, instead of a file: container platforms inject secrets
    /// as environment variables, not files (ECS from Secrets Manager). At most one of
    /// `ca_path` and `ca_pem`.
    #[serde(default)]
    pub ca_pem: Option<String>,
    /// `cql.tls` only: TLS to the CQL store with the system's roots when no CA is set
    /// (a managed CQL service with a public certificate). Setting a CA turns TLS on by
    /// itself. Kafka's TLS follows `kafka.security_protocol` and Redis' the `rediss://`
    /// scheme, so this is ignored there.
    #[serde(default)]
    pub enabled: bool,
    /// A client certificate (PEM) and its key, for servers that ask for one.
    #[serde(default)]
    pub cert_path: Option<String>,
    #[serde(default)]
    pub key_path: Option<String>,
}

/// Where the CA(s) to trust come from, once `ca_path` and `ca_pem` are read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrustedCa<'a> {
    /// The system's roots.
    System,
    File(&'a str),
    Pem(&'a str),
}

impl TlsClientSettings {
    fn validate(&self, section: &str) -> Result<(), ConfigError> {
        let set = |p: &Option<String>| p.as_deref().is_some_and(|p| !p.is_empty());
        if set(&self.cert_path) != set(&self.key_path) {
            return Err(ConfigError::Invalid(format!(
                "{section}.tls.cert_path and {section}.tls.key_path must be set together"
            )));
        }
        if set(&self.ca_path) && set(&self.ca_pem) {
            return Err(ConfigError::Invalid(format!(
                "{section}.tls.ca_path and {section}.tls.ca_pem name the same thing: set one"
            )));
        }
        if let Some(pem) = self.ca_pem.as_deref().filter(|p| !p.is_empty()) {
            if !pem.contains("-----BEGIN CERTIFICATE-----") {
                return Err(ConfigError::Invalid(format!(
                    "{section}.tls.ca_pem holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
                )));
            }
        }
        Ok(())
    }

    /// The CA(s) to trust: a file, PEM text, or the system's roots. Empty values count
    /// as unset (an environment variable set to "" by a template).
    pub fn trusted_ca(&self) -> TrustedCa<'_> {
        fn set(p: &Option<String>) -> Option<&str> {
            p.as_deref().filter(|p| !p.is_empty())
        }
        match (set(&self.ca_path), set(&self.ca_pem)) {
            (Some(path), _) => TrustedCa::File(path),
            (None, Some(pem)) => TrustedCa::Pem(pem),
            (None, None) => TrustedCa::System,
        }
    }

    /// The CA(s) as PEM bytes, read from the file when it is one; `None` for the
    /// system's roots.
    pub fn ca_pem_bytes(&self) -> std::io::Result<Option<Vec<u8>>> {
        match self.trusted_ca() {
            TrustedCa::System => Ok(None),
            TrustedCa::File(path) => std::fs::read(path)
                .map(Some)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{path}: {e}"))),
            TrustedCa::Pem(pem) => Ok(Some(pem.as_bytes().to_vec())),
        }
    }

    /// `cql.tls`: TLS is on when a CA is configured or `enabled` says so.
    pub fn cql_tls_on(&self) -> bool {
        self.enabled || self.trusted_ca() != TrustedCa::System
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct RegistrySettings {
    /// Base URL of the Confluent-compatible API.
    pub url: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Secret,
}

#[derive(Clone, Debug, Deserialize)]
pub struct CqlSettings {
    /// host:port list.
    pub nodes: Vec<String>,
    pub keyspace: String,
    /// Replication factor used when the migrator creates the keyspace.
    pub replication_factor: u32,
    #[serde(default)]
    pub local_datacenter: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Secret,
    /// How long a service keeps trying to reach the store at start-up before it gives
    /// up (the store may still be booting, or busy).
    pub connect_patience_secs: u64,
    /// TLS to the store when `cql.tls.ca_path` is set (the existing username and
    /// password authenticate over it).
    #[serde(default)]
    pub tls: TlsClientSettings,
    /// Consistency of every read and write. `local_quorum` (the default) needs a
    /// majority of the local datacenter's replicas, so with RF 3 one node may be down;
    /// with RF 1 it is the one node.
    pub consistency: CqlConsistency,
}

/// The CQL consistency levels a deployment may choose (`cql.consistency`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CqlConsistency {
    One,
    LocalOne,
    Quorum,
    LocalQuorum,
    EachQuorum,
    All,
}

impl CqlSettings {
    pub fn connect_patience(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.connect_patience_secs)
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct RedisSettings {
    /// `redis://host:port[/db]`, or `rediss://` for TLS; may carry `user:password@`.
    pub url: Secret,
    /// An ACL user, instead of the URL's.
    #[serde(default)]
    pub username: Option<String>,
    /// Its password, instead of the URL's (keeps it out of the URL, which is logged
    /// by some tools).
    #[serde(default)]
    pub password: Secret,
    /// For `rediss://`: the CA to trust and an optional client certificate.
    #[serde(default)]
    pub tls: TlsClientSettings,
}

/// Shared by the gateways (which beat) and the presence projection (which expires).
#[derive(Clone, Debug, Deserialize)]
pub struct PresenceSettings {
    /// A session not heard from for this long is offline (a gateway killed without
    /// closing its sockets). Gateways send heartbeats every third of it.
    pub ttl_secs: u64,
    /// Presence changes are pushed through conversations of at most this many members.
    /// Through larger groups every connect would fan out to every member (a 1,000-member
    /// group coming online at 9 am is a million frames); their clients ask
    /// `GET /api/v1/users/{id}/presence` for the people they look at instead.
    pub max_group_members: usize,
}

impl PresenceSettings {
    pub fn ttl(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.ttl_secs)
    }

    pub fn heartbeat_interval(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.ttl_secs * 1000 / 3)
    }
}

/// The fanout role (`chat-projector --role fanout`).
#[derive(Clone, Debug, Deserialize)]
pub struct FanoutSettings {
    /// Events older than this when read are not pushed live (clients that were online
    /// see the gap and `sync`); they still count in `prev_seq`.
    pub stale_after_secs: u64,
}

impl FanoutSettings {
    pub fn stale_after(&self) -> Duration {
        Duration::from_secs(self.stale_after_secs)
    }
}

/// The notifications role (`chat-projector --role notifications`).
#[derive(Clone, Debug, Deserialize)]
pub struct NotificationSettings {
    /// At most one notification per recipient and conversation per window; the messages
    /// in between are counted into the next one.
    pub window_secs: u64,
    /// Messages older than this when read are not notified (after an outage, or a new
    /// consumer group starting at the beginning of the log).
    pub max_age_secs: u64,
}

impl NotificationSettings {
    pub fn window(&self) -> Duration {
        Duration::from_secs(self.window_secs)
    }

    pub fn max_age(&self) -> Duration {
        Duration::from_secs(self.max_age_secs)
    }
}

/// The webhook role (`chat-projector --role webhook`), which refuses to start without a
/// URL and a secret; every other service ignores this section.
#[derive(Clone, Debug, Deserialize)]
pub struct WebhookSettings {
    /// Where notifications are POSTed.
    #[serde(default)]
    pub url: Option<String>,
    /// The HMAC-SHA256 key shared with the receiver. Give it through the environment or
    /// the file, never on a command line, so it stays out of process listings.
    #[serde(default)]
    pub secret: Secret,
    /// Attempts per notification before it is parked on the dead-letter topic.
    pub attempts: usize,
    /// The first retry's delay; each later one doubles, up to 60 s, with jitter.
    pub backoff_ms: u64,
    /// How long one request may take.
    pub timeout_ms: u64,
}

impl WebhookSettings {
    pub fn backoff(&self) -> Duration {
        Duration::from_millis(self.backoff_ms)
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct TelemetrySettings {
    /// `text` for people, `json` for log shippers.
    pub log_format: LogFormat,
    /// A tracing `EnvFilter` directive; `RUST_LOG` wins when set.
    pub log_filter: String,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// A service's own section of the configuration, loaded beside the shared ones by
/// [`Settings::load_with`] from the same layers.
pub trait Section: DeserializeOwned {
    /// The TOML table and the variables' infix: `gateway` is `[gateway]` in the file and
    /// `CHAT__GATEWAY__*` in the environment.
    const NAME: &'static str;

    /// Built-in defaults, as (key within the section, value).
    fn defaults() -> Vec<(&'static str, config::Value)>;

    /// Refuse values the service cannot run with.
    fn validate(&self) -> Result<(), ConfigError>;
}

impl Settings {
    /// Load from defaults, the optional file, and the process environment.
    pub fn load() -> Result<Self, ConfigError> {
        Self::load_from(&process_environment())
    }

    /// Load with an explicit environment (tests pass their own).
    pub fn load_from(env: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        Self::from_layers(&layers(env, Vec::new())?)
    }

    /// Load the shared settings and the service's own section `S` from one set of
    /// layers and the process environment.
    pub fn load_with<S: Section>() -> Result<(Self, S), ConfigError> {
        Self::load_with_from(&process_environment())
    }

    /// [`Settings::load_with`] with an explicit environment (tests pass their own).
    pub fn load_with_from<S: Section>(
        env: &BTreeMap<String, String>,
    ) -> Result<(Self, S), ConfigError> {
        let defaults = S::defaults()
            .into_iter()
            .map(|(key, value)| (format!("{}.{key}", S::NAME), value))
            .collect();
        let layers = layers(env, defaults)?;
        let shared = Self::from_layers(&layers)?;
        let section: S = layers.get(S::NAME)?;
        section.validate()?;
        Ok((shared, section))
    }

    fn from_layers(layers: &config::Config) -> Result<Self, ConfigError> {
        let settings: Settings = layers.clone().try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(m.to_string()));
        if self.kafka.brokers.trim().is_empty() {
            return invalid("kafka.brokers is empty");
        }
        self.validate_kafka_security()?;
        self.kafka.tls.validate("kafka")?;
        self.redis.tls.validate("redis")?;
        self.cql.tls.validate("cql")?;
        if self.kafka.partitions < 1 || self.kafka.replication_factor < 1 {
            return invalid("kafka.partitions and kafka.replication_factor must be at least 1");
        }
        if self.presence.ttl_secs < 3 {
            return invalid("presence.ttl_secs must be at least 3");
        }
        if self.presence.max_group_members < 2 {
            return invalid(
                "presence.max_group_members must be at least 2 (a direct conversation)",
            );
        }
        let at_least_one = [
            (
                self.fanout.stale_after_secs,
                "fanout.stale_after_secs (CHAT__FANOUT__STALE_AFTER_SECS)",
            ),
            (
                self.notifications.window_secs,
                "notifications.window_secs (CHAT__NOTIFICATIONS__WINDOW_SECS)",
            ),
            (
                self.notifications.max_age_secs,
                "notifications.max_age_secs (CHAT__NOTIFICATIONS__MAX_AGE_SECS)",
            ),
            (
                self.webhook.attempts as u64,
                "webhook.attempts (CHAT__WEBHOOK__ATTEMPTS)",
            ),
            (
                self.webhook.backoff_ms,
                "webhook.backoff_ms (CHAT__WEBHOOK__BACKOFF_MS)",
            ),
            (
                self.webhook.timeout_ms,
                "webhook.timeout_ms (CHAT__WEBHOOK__TIMEOUT_MS)",
            ),
        ];
        for (value, setting) in at_least_one {
            if value < 1 {
                return Err(ConfigError::Invalid(format!(
                    "{setting} must be at least 1"
                )));
            }
        }
        if self.compliance.key_period_days < 1
            || self.compliance.key_cache_secs < 1
            || self.compliance.conversation_key_period_days < 1
            || self.compliance.conversation_retention_min_days < 1
        {
            return invalid(
                "compliance.key_period_days, key_cache_secs, conversation_key_period_days and conversation_retention_min_days must be at least 1",
            );
        }
        let c = &self.compliance;
        if c.conversation_retention_max_days != 0
            && c.conversation_retention_max_days < c.conversation_retention_min_days
        {
            return invalid(
                "compliance.conversation_retention_max_days is below conversation_retention_min_days",
            );
        }
        if self.compliance.kek == KekKind::AwsKms
            && (self.compliance.kms_key_id.is_empty() || self.compliance.kms_region.is_empty())
        {
            return invalid(
                "compliance.kek = aws-kms needs compliance.kms_key_id and compliance.kms_region",
            );
        }
        if self.cql.nodes.is_empty() {
            return invalid("cql.nodes is empty");
        }
        if !self
            .cql
            .keyspace
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
            || self.cql.keyspace.is_empty()
            || self.cql.keyspace.len() > 48
        {
            return invalid("cql.keyspace must be 1..48 characters of [A-Za-z0-9_]");
        }
        Ok(())
    }
}

impl Settings {
    fn validate_kafka_security(&self) -> Result<(), ConfigError> {
        let k = &self.kafka;
        if k.security_protocol.uses_sasl() {
            let mechanism = k.sasl.mechanism.as_deref().unwrap_or_default();
            if !["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"].contains(&mechanism) {
                return Err(ConfigError::Invalid(format!(
                    "kafka.sasl.mechanism must be SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN with \
                     kafka.security_protocol {:?} (CHAT__KAFKA__SASL__MECHANISM), not {mechanism:?}",
                    k.security_protocol
                )));
            }
            if k.sasl.username.as_deref().unwrap_or_default().is_empty()
                || k.sasl.password.is_empty()
            {
                return Err(ConfigError::Invalid(
                    "kafka.sasl.username and kafka.sasl.password must be set for SASL \
                     (CHAT__KAFKA__SASL__USERNAME, CHAT__KAFKA__SASL__PASSWORD)"
                        .into(),
                ));
            }
        }
        Ok(())
    }
}

fn process_environment() -> BTreeMap<String, String> {
    std::env::vars().collect()
}

/// Every layer, built once: the shared defaults and `extra_defaults` (a section's, with
/// their full keys), the file, the `CHAT__` variables, the well-known variables.
fn layers(
    env: &BTreeMap<String, String>,
    extra_defaults: Vec<(String, config::Value)>,
) -> Result<config::Config, ConfigError> {
    let mut builder = config::Config::builder()
        .set_default("kafka.brokers", "127.0.0.1:9092")?
        .set_default("kafka.topic_prefix", "chat.")?
        .set_default("kafka.partitions", 12)?
        .set_default("kafka.replication_factor", 1)?
        .set_default("kafka.min_insync_replicas", 1)?
        .set_default("kafka.linger_ms", 2)?
        .set_default("kafka.compression", "lz4")?
        .set_default("kafka.delivery_timeout_ms", 10_000)?
        .set_default("kafka.security_protocol", "plaintext")?
        .set_default("registry.url", "http://127.0.0.1:8081/apis/ccompat/v7")?
        .set_default("cql.nodes", vec!["127.0.0.1:9042"])?
        .set_default("cql.keyspace", "chat")?
        .set_default("cql.replication_factor", 1)?
        .set_default("cql.connect_patience_secs", 60)?
        .set_default("cql.consistency", "local_quorum")?
        .set_default("redis.url", "redis://127.0.0.1:6379")?
        .set_default("presence.ttl_secs", 60)?
        .set_default("presence.max_group_members", 100)?
        .set_default("fanout.stale_after_secs", 30)?
        .set_default("notifications.window_secs", 30)?
        .set_default("notifications.max_age_secs", 3600)?
        .set_default("webhook.attempts", 8)?
        .set_default("webhook.backoff_ms", 500)?
        .set_default("webhook.timeout_ms", 10_000)?
        .set_default("telemetry.log_format", "text")?
        .set_default("telemetry.log_filter", "info")?
        .set_default("groups.who_may_add", "members")?
        .set_default("compliance.kek", "local")?
        .set_default("compliance.local_kek", DEVELOPMENT_KEK)?
        .set_default("compliance.kms_key_id", "")?
        .set_default("compliance.kms_region", "")?
        .set_default("compliance.key_period_days", 30)?
        .set_default("compliance.retention_days", 0)?
        .set_default("compliance.key_cache_secs", 60)?
        .set_default("compliance.conversation_key_period_days", 1)?
        .set_default("compliance.conversation_retention_min_days", 1)?
        .set_default("compliance.conversation_retention_max_days", 0)?;
    for (key, value) in extra_defaults {
        builder = builder.set_default(key, value)?;
    }
    if let Some(path) = env.get("CHAT_CONFIG").filter(|p| !p.is_empty()) {
        builder =
            builder.add_source(config::File::with_name(path).format(config::FileFormat::Toml));
    }
    builder = builder.add_source(
        config::Environment::with_prefix("CHAT")
            .prefix_separator("__")
            .separator("__")
            .source(Some(env.clone().into_iter().collect())),
    );
    let well_known = [
        ("KAFKA_BROKERS", "kafka.brokers"),
        ("SCHEMA_REGISTRY_URL", "registry.url"),
        ("REDIS_URL", "redis.url"),
    ];
    for (var, key) in well_known {
        if let Some(v) = env.get(var).filter(|v| !v.is_empty()) {
            builder = builder.set_override(key, v.as_str())?;
        }
    }
    if let Some(v) = env.get("CQL_NODES").filter(|v| !v.is_empty()) {
        let nodes: Vec<String> = v
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        builder = builder.set_override("cql.nodes", nodes)?;
    }
    Ok(builder.build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_point_at_the_local_servers() {
        let s = Settings::load_from(&env(&[])).unwrap();
        assert_eq!(s.kafka.brokers, "127.0.0.1:9092");
        assert_eq!(s.cql.nodes, vec!["127.0.0.1:9042"]);
        assert_eq!(s.kafka.topic_prefix, "chat.");
        assert_eq!(s.telemetry.log_format, LogFormat::Text);
    }

    #[test]
    fn well_known_variables_win_over_prefixed_ones() {
        let s = Settings::load_from(&env(&[
            ("CHAT__KAFKA__BROKERS", "a:1"),
            ("KAFKA_BROKERS", "b:2"),
            ("CQL_NODES", "n1:9042, n2:9042"),
            ("CHAT__KAFKA__TOPIC_PREFIX", "t."),
            ("CHAT__KAFKA__PARTITIONS", "64"),
        ]))
        .unwrap();
        assert_eq!(s.kafka.brokers, "b:2");
        assert_eq!(s.cql.nodes, vec!["n1:9042", "n2:9042"]);
        assert_eq!(s.kafka.topic_prefix, "t.");
        assert_eq!(s.kafka.partitions, 64);
    }

    #[test]
    fn cql_tls_is_on_with_a_ca_or_when_enabled_and_reads_the_ca_from_either_place() {
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let off = Settings::load_from(&env(&[])).unwrap().cql.tls;
        assert!(!off.cql_tls_on());
        assert_eq!(off.ca_pem_bytes().unwrap(), None);
        let system = Settings::load_from(&env(&[("CHAT__CQL__TLS__ENABLED", "true")]))
            .unwrap()
            .cql
            .tls;
        assert!(system.cql_tls_on());
        assert_eq!(system.trusted_ca(), TrustedCa::System);
        let inline = Settings::load_from(&env(&[("CHAT__CQL__TLS__CA_PEM", pem)]))
            .unwrap()
            .cql
            .tls;
        assert!(inline.cql_tls_on());
        assert_eq!(
            inline.ca_pem_bytes().unwrap(),
            Some(pem.as_bytes().to_vec())
        );
        // A template that sets the variable to "" means unset.
        let empty = Settings::load_from(&env(&[("CHAT__CQL__TLS__CA_PEM", "")]))
            .unwrap()
            .cql
            .tls;
        assert!(!empty.cql_tls_on());
        let missing = Settings::load_from(&env(&[("CHAT__CQL__TLS__CA_PATH", "/nonexistent/ca")]))
            .unwrap()
            .cql
            .tls;
        let err = missing.ca_pem_bytes().unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca"), "{err}");
    }

    #[test]
    fn secrets_are_not_printed() {
        let s = Settings::load_from(&env(&[("REDIS_URL", "redis://:hunter2@h:6379")])).unwrap();
        let printed = format!("{s:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert_eq!(s.redis.url.expose(), "redis://:hunter2@h:6379");
    }

    #[test]
    fn bad_keyspace_is_refused() {
        let err = Settings::load_from(&env(&[("CHAT__CQL__KEYSPACE", "x;drop")])).unwrap_err();
        assert!(err.to_string().contains("keyspace"), "{err}");
    }

    #[test]
    fn presence_group_limit_defaults_to_100_and_is_at_least_a_direct_conversation() {
        let s = Settings::load_from(&env(&[])).unwrap();
        assert_eq!(s.presence.max_group_members, 100);
        let err =
            Settings::load_from(&env(&[("CHAT__PRESENCE__MAX_GROUP_MEMBERS", "1")])).unwrap_err();
        assert!(err.to_string().contains("max_group_members"), "{err}");
    }

    #[test]
    fn who_may_add_members_defaults_to_any_member_and_can_be_admins_only() {
        use crate::rules::WhoMayAdd;
        let s = Settings::load_from(&env(&[])).unwrap();
        assert_eq!(s.groups.who_may_add, WhoMayAdd::Members);
        let s = Settings::load_from(&env(&[("CHAT__GROUPS__WHO_MAY_ADD", "admins")])).unwrap();
        assert_eq!(s.groups.who_may_add, WhoMayAdd::Admins);
        assert!(Settings::load_from(&env(&[("CHAT__GROUPS__WHO_MAY_ADD", "anyone")])).is_err());
    }

    #[test]
    fn cql_connect_patience_defaults_to_a_minute_and_can_be_set() {
        let s = Settings::load_from(&env(&[])).unwrap();
        assert_eq!(s.cql.connect_patience(), std::time::Duration::from_secs(60));
        let s = Settings::load_from(&env(&[("CHAT__CQL__CONNECT_PATIENCE_SECS", "5")])).unwrap();
        assert_eq!(s.cql.connect_patience(), std::time::Duration::from_secs(5));
    }

    /// A service's own section, as the gateway's `[gateway]` is.
    #[derive(Debug, Deserialize)]
    struct Probe {
        size: u32,
        name: String,
    }

    impl Section for Probe {
        const NAME: &'static str = "probe";

        fn defaults() -> Vec<(&'static str, config::Value)> {
            vec![("size", 3.into()), ("name", "p".into())]
        }

        fn validate(&self) -> Result<(), ConfigError> {
            if self.size == 0 {
                return Err(ConfigError::Invalid("probe.size must be at least 1".into()));
            }
            Ok(())
        }
    }

    #[test]
    fn a_section_reads_the_same_layers_as_the_shared_settings() {
        let (shared, probe) = Settings::load_with_from::<Probe>(&env(&[
            ("CHAT__PROBE__SIZE", "5"),
            ("CHAT__KAFKA__PARTITIONS", "6"),
        ]))
        .unwrap();
        assert_eq!(probe.size, 5);
        assert_eq!(probe.name, "p");
        assert_eq!(shared.kafka.partitions, 6);
        let err =
            Settings::load_with_from::<Probe>(&env(&[("CHAT__PROBE__SIZE", "0")])).unwrap_err();
        assert!(err.to_string().contains("probe.size"), "{err}");
    }

    #[test]
    fn projector_roles_have_their_defaults() {
        let s = Settings::load_from(&env(&[])).unwrap();
        assert_eq!(s.fanout.stale_after(), Duration::from_secs(30));
        assert_eq!(s.notifications.window(), Duration::from_secs(30));
        assert_eq!(s.notifications.max_age(), Duration::from_secs(3600));
        assert_eq!(s.webhook.url, None);
        assert!(s.webhook.secret.is_empty());
        assert_eq!(s.webhook.attempts, 8);
        assert_eq!(s.webhook.backoff(), Duration::from_millis(500));
        assert_eq!(s.webhook.timeout(), Duration::from_millis(10_000));
    }

    #[test]
    fn projector_roles_read_their_sections_from_the_environment() {
        let s = Settings::load_from(&env(&[
            ("CHAT__FANOUT__STALE_AFTER_SECS", "2"),
            ("CHAT__NOTIFICATIONS__WINDOW_SECS", "1"),
            ("CHAT__NOTIFICATIONS__MAX_AGE_SECS", "60"),
            ("CHAT__WEBHOOK__URL", "http://127.0.0.1:9999/hook"),
            ("CHAT__WEBHOOK__SECRET", "hunter2"),
            ("CHAT__WEBHOOK__ATTEMPTS", "3"),
            ("CHAT__WEBHOOK__BACKOFF_MS", "200"),
            ("CHAT__WEBHOOK__TIMEOUT_MS", "1500"),
            // The old names mean nothing any more.
            ("CHAT_WEBHOOK_ATTEMPTS", "5"),
        ]))
        .unwrap();
        assert_eq!(s.fanout.stale_after_secs, 2);
        assert_eq!(s.notifications.window_secs, 1);
        assert_eq!(s.notifications.max_age_secs, 60);
        assert_eq!(s.webhook.url.as_deref(), Some("http://127.0.0.1:9999/hook"));
        assert_eq!(s.webhook.secret.expose(), "hunter2");
        assert_eq!(s.webhook.attempts, 3);
        assert_eq!(s.webhook.backoff(), Duration::from_millis(200));
        assert_eq!(s.webhook.timeout(), Duration::from_millis(1500));
    }

    #[test]
    fn the_webhook_secret_is_not_printed() {
        let s = Settings::load_from(&env(&[("CHAT__WEBHOOK__SECRET", "hunter2")])).unwrap();
        let printed = format!("{s:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
    }

    #[test]
    fn nonsense_role_settings_are_refused_by_name() {
        for (var, key) in [
            ("CHAT__FANOUT__STALE_AFTER_SECS", "fanout.stale_after_secs"),
            (
                "CHAT__NOTIFICATIONS__WINDOW_SECS",
                "notifications.window_secs",
            ),
            (
                "CHAT__NOTIFICATIONS__MAX_AGE_SECS",
                "notifications.max_age_secs",
            ),
            ("CHAT__WEBHOOK__ATTEMPTS", "webhook.attempts"),
            ("CHAT__WEBHOOK__BACKOFF_MS", "webhook.backoff_ms"),
            ("CHAT__WEBHOOK__TIMEOUT_MS", "webhook.timeout_ms"),
        ] {
            let err = Settings::load_from(&env(&[(var, "0")])).unwrap_err();
            let message = err.to_string();
            assert!(message.contains(key) && message.contains(var), "{message}");
        }
        assert!(Settings::load_from(&env(&[("CHAT__WEBHOOK__ATTEMPTS", "-1")])).is_err());
    }

    #[test]
    fn a_conversations_retention_is_kept_within_the_operators_limits() {
        let open = Settings::load_from(&env(&[])).unwrap().compliance;
        assert!(open.check_conversation_retention(1).is_ok());
        assert!(open.check_conversation_retention(10_000).is_ok());
        assert!(open.check_conversation_retention(0).is_err());
        let bounded = Settings::load_from(&env(&[
            ("CHAT__COMPLIANCE__CONVERSATION_RETENTION_MIN_DAYS", "7"),
            ("CHAT__COMPLIANCE__CONVERSATION_RETENTION_MAX_DAYS", "90"),
        ]))
        .unwrap()
        .compliance;
        let refusal = bounded.check_conversation_retention(3).unwrap_err();
        assert!(refusal.contains("7 to 90 days"), "{refusal}");
        assert!(bounded.check_conversation_retention(91).is_err());
        assert!(bounded.check_conversation_retention(90).is_ok());
        assert!(Settings::load_from(&env(&[
            ("CHAT__COMPLIANCE__CONVERSATION_RETENTION_MIN_DAYS", "30"),
            ("CHAT__COMPLIANCE__CONVERSATION_RETENTION_MAX_DAYS", "7"),
        ]))
        .is_err());
    }
}
