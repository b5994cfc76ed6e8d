//! Kafka clients configured the one way this platform needs them.
//!
//! - The producer is idempotent with `acks=all`: a record acknowledged by Kafka is on
//!   every in-sync replica, and librdkafka's retries never duplicate or reorder it. Only
//!   then does a gateway acknowledge a client.
//! - Consumers never auto-commit: each projection commits after its writes are durable.
//! - Topics are created explicitly, with the settings in [`crate::topics`].

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::StreamConsumer;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::FutureProducer;

use crate::config::{KafkaSecurityProtocol, KafkaSettings, TrustedCa};
use crate::topics::TopicSpec;

/// The brokers and how to reach them (TLS, SASL, `kafka.extra`): every Kafka client of
/// the workspace starts from this, so a security setting applies to all of them.
pub fn client_config(k: &KafkaSettings) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &k.brokers);
    for (key, value) in security_properties(k) {
        c.set(key, value);
    }
    for (key, value) in &k.extra {
        c.set(key, value.expose());
    }
    c
}

/// `kafka.security_protocol`, `kafka.sasl.*` and `kafka.tls.*` as librdkafka
/// properties: the one place they are mapped.
pub fn security_properties(k: &KafkaSettings) -> Vec<(&'static str, String)> {
    let protocol = match k.security_protocol {
        KafkaSecurityProtocol::Plaintext => "plaintext",
        KafkaSecurityProtocol::Ssl => "ssl",
        KafkaSecurityProtocol::SaslPlaintext => "sasl_plaintext",
        KafkaSecurityProtocol::SaslSsl => "sasl_ssl",
    };
    let mut properties = vec![("security.protocol", protocol.to_string())];
    if k.security_protocol.uses_sasl() {
        let sasl = &k.sasl;
        properties.extend([
            ("sasl.mechanism", sasl.mechanism.clone().unwrap_or_default()),
            ("sasl.username", sasl.username.clone().unwrap_or_default()),
            ("sasl.password", sasl.password.expose().to_string()),
        ]);
    }
    if k.security_protocol.uses_tls() {
        let tls = &k.tls;
        match tls.trusted_ca() {
            TrustedCa::System => {}
            TrustedCa::File(path) => properties.push(("ssl.ca.location", path.to_string())),
            TrustedCa::Pem(pem) => properties.push(("ssl.ca.pem", pem.to_string())),
        }
        let files = [
            ("ssl.certificate.location", &tls.cert_path),
            ("ssl.key.location", &tls.key_path),
        ];
        for (property, path) in files {
            if let Some(path) = path.as_ref().filter(|p| !p.is_empty()) {
                properties.push((property, path.clone()));
            }
        }
        // The broker's name is checked against its certificate (librdkafka's default
        // since 2.0; said here so a `kafka.extra` from older habits is the only way off).
        properties.push(("ssl.endpoint.identification.algorithm", "https".into()));
    }
    properties
}

fn base_config(k: &KafkaSettings, client_id: &str) -> ClientConfig {
    let mut c = client_config(k);
    c.set("client.id", client_id);
    c
}

/// The producer every service appends with.
pub fn producer(k: &KafkaSettings, client_id: &str) -> Result<FutureProducer, KafkaError> {
    base_config(k, client_id)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("compression.type", &k.compression)
        .set("linger.ms", k.linger_ms.to_string())
        // Bounds how long a send can wait for Kafka; past it the client gets
        // `unavailable` and may retry with the same client_msg_id.
        .set("message.timeout.ms", k.delivery_timeout_ms.to_string())
        .create()
}

/// Send `payload` once to every partition of `topic`, under `key` (platform-wide events:
/// `ContentErased`, `ContentExpired`, which each partition's consumers must meet in
/// order with the rest); returns how many partitions. Waits for every acknowledgement.
pub async fn send_to_every_partition(
    producer: &FutureProducer,
    topic: &str,
    key: &str,
    payload: &[u8],
) -> Result<usize, KafkaError> {
    use rdkafka::producer::{FutureRecord, Producer};
    let client = producer.clone();
    let named = topic.to_string();
    // Metadata is a blocking call in librdkafka.
    let partitions = tokio::task::spawn_blocking(move || {
        client
            .client()
            .fetch_metadata(Some(&named), Duration::from_secs(10))
            .map(|m| {
                m.topics()
                    .first()
                    .map(|t| t.partitions().iter().map(|p| p.id()).collect::<Vec<_>>())
                    .unwrap_or_default()
            })
    })
    .await
    .map_err(|_| KafkaError::Canceled)??;
    if partitions.is_empty() {
        return Err(KafkaError::MetadataFetch(
            RDKafkaErrorCode::UnknownTopicOrPartition,
        ));
    }
    for p in &partitions {
        let record = FutureRecord::to(topic)
            .partition(*p)
            .key(key)
            .payload(payload);
        producer
            .send(record, rdkafka::util::Timeout::Never)
            .await
            .map_err(|(e, _)| e)?;
    }
    Ok(partitions.len())
}

/// A consumer for tools that read or inspect without joining in (`chatctl tail`,
/// `chatctl lag`): never commits; `group_id` only names whose offsets it looks at.
pub fn inspector(
    k: &KafkaSettings,
    client_id: &str,
    group_id: &str,
) -> Result<rdkafka::consumer::BaseConsumer, KafkaError> {
    base_config(k, client_id)
        .set("group.id", group_id)
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()
}

/// A consumer in `group_id` that starts from the beginning of the log for a new group
/// and commits only when told to.
pub fn consumer(
    k: &KafkaSettings,
    client_id: &str,
    group_id: &str,
) -> Result<StreamConsumer, KafkaError> {
    base_config(k, client_id)
        .set("group.id", group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        // Read only what idempotent/transactional producers have committed.
        .set("isolation.level", "read_committed")
        .set("session.timeout.ms", "10000")
        .set("enable.partition.eof", "false")
        .create()
}

pub fn admin(
    k: &KafkaSettings,
    client_id: &str,
) -> Result<AdminClient<DefaultClientContext>, KafkaError> {
    base_config(k, client_id).create()
}

/// What happened to one topic in [`create_topics`].
#[derive(Debug, PartialEq, Eq)]
pub enum TopicOutcome {
    Created,
    AlreadyExisted,
}

/// Create the topics that do not exist yet; existing ones are left as they are.
pub async fn create_topics(
    admin: &AdminClient<DefaultClientContext>,
    specs: &[TopicSpec],
) -> Result<Vec<(String, TopicOutcome)>, KafkaError> {
    let new_topics: Vec<NewTopic<'_>> = specs
        .iter()
        .map(|s| {
            let mut t = NewTopic::new(
                &s.name,
                s.partitions,
                TopicReplication::Fixed(s.replication_factor),
            );
            for (k, v) in &s.configs {
                t = t.set(k, v);
            }
            t
        })
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin.create_topics(new_topics.iter(), &opts).await?;
    let mut out = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Ok(name) => out.push((name, TopicOutcome::Created)),
            Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => {
                out.push((name, TopicOutcome::AlreadyExisted))
            }
            Err((name, code)) => {
                tracing::error!(topic = %name, error = %code, "topic creation failed");
                return Err(KafkaError::AdminOp(code));
            }
        }
    }
    Ok(out)
}

/// Kafka's errors as the client library reports them (authentication refused, TLS
/// handshake failed, brokers unreachable), kept so a start-up check can say why.
#[derive(Default)]
struct ErrorsSeen {
    last: std::sync::Mutex<Option<(Option<RDKafkaErrorCode>, String)>>,
}

impl rdkafka::ClientContext for ErrorsSeen {
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(error = %error, reason, "Kafka client error");
        if let Ok(mut last) = self.last.lock() {
            *last = Some((error.rdkafka_error_code(), format!("{error}: {reason}")));
        }
    }
}

impl rdkafka::consumer::ConsumerContext for ErrorsSeen {}

/// Why Kafka refused this client at start-up.
#[derive(Debug, thiserror::Error)]
#[error("Kafka at {brokers} refused this client: {reason}")]
pub struct Refused {
    pub brokers: String,
    pub reason: String,
}

/// One metadata request with the configured security, within `within`: services call it
/// before they start, so wrong credentials or an untrusted certificate stop them at once
/// with the client library's reason, instead of every later request timing out. Kafka
/// merely unreachable is not a refusal (services wait for it, as they always have): it
/// is logged and `Ok` once `within` has passed. A refused password is reported in
/// well under a second, a refused certificate in about two.
pub fn verify_credentials(k: &KafkaSettings, within: Duration) -> Result<(), Refused> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let refused = |reason: String| Refused {
        brokers: k.brokers.clone(),
        reason,
    };
    let consumer: BaseConsumer<ErrorsSeen> = client_config(k)
        .set("client.id", "startup-check")
        .create_with_context(ErrorsSeen::default())
        .map_err(|e| refused(e.to_string()))?;
    let deadline = std::time::Instant::now() + within;
    let mut last_failure = String::new();
    while std::time::Instant::now() < deadline {
        match consumer.fetch_metadata(None, Duration::from_secs(1)) {
            Ok(_) => return Ok(()),
            Err(e) => last_failure = e.to_string(),
        }
        // The client library reports authentication and TLS failures as events, which
        // reach the context only when the client is polled.
        let _ = consumer.poll(Duration::from_millis(200));
        let seen = consumer.context().last.lock().ok().and_then(|l| l.clone());
        match seen {
            Some((Some(RDKafkaErrorCode::Authentication | RDKafkaErrorCode::SSL), reason)) => {
                return Err(refused(reason));
            }
            Some((_, reason)) => last_failure = reason,
            None => {}
        }
    }
    tracing::warn!(reason = %last_failure, "Kafka not reachable at start-up; carrying on");
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::Settings;

    fn kafka(pairs: &[(&str, &str)]) -> Result<KafkaSettings, crate::config::ConfigError> {
        let env: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load_from(&env).map(|s| s.kafka)
    }

    fn property<'a>(properties: &'a [(&str, String)], key: &str) -> Option<&'a str> {
        properties
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn plaintext_by_default_with_nothing_else() {
        let k = kafka(&[]).unwrap();
        let p = security_properties(&k);
        assert_eq!(p, vec![("security.protocol", "plaintext".to_string())]);
    }

    #[test]
    fn sasl_ssl_maps_every_setting_onto_librdkafka_properties() {
        let k = kafka(&[
            ("CHAT__KAFKA__SECURITY_PROTOCOL", "sasl_ssl"),
            ("CHAT__KAFKA__SASL__MECHANISM", "SCRAM-SHA-512"),
            ("CHAT__KAFKA__SASL__USERNAME", "chat"),
            ("CHAT__KAFKA__SASL__PASSWORD", "hunter2"),
            ("CHAT__KAFKA__TLS__CA_PATH", "/etc/chat/ca.crt"),
        ])
        .unwrap();
        let p = security_properties(&k);
        assert_eq!(property(&p, "security.protocol"), Some("sasl_ssl"));
        assert_eq!(property(&p, "sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(property(&p, "sasl.username"), Some("chat"));
        assert_eq!(property(&p, "sasl.password"), Some("hunter2"));
        assert_eq!(property(&p, "ssl.ca.location"), Some("/etc/chat/ca.crt"));
        assert_eq!(
            property(&p, "ssl.endpoint.identification.algorithm"),
            Some("https")
        );
        assert_eq!(property(&p, "ssl.certificate.location"), None);
        assert!(!format!("{k:?}").contains("hunter2"));
    }

    #[test]
    fn ssl_with_a_client_certificate_and_no_sasl() {
        let k = kafka(&[
            ("CHAT__KAFKA__SECURITY_PROTOCOL", "ssl"),
            ("CHAT__KAFKA__TLS__CERT_PATH", "/c.pem"),
            ("CHAT__KAFKA__TLS__KEY_PATH", "/k.pem"),
            // Ignored without SASL.
            ("CHAT__KAFKA__SASL__USERNAME", "chat"),
        ])
        .unwrap();
        let p = security_properties(&k);
        assert_eq!(property(&p, "security.protocol"), Some("ssl"));
        assert_eq!(property(&p, "ssl.certificate.location"), Some("/c.pem"));
        assert_eq!(property(&p, "ssl.key.location"), Some("/k.pem"));
        assert_eq!(property(&p, "sasl.username"), None);
        assert_eq!(property(&p, "ssl.ca.location"), None);
    }

    #[test]
    fn a_ca_given_as_pem_text_becomes_ssl_ca_pem_and_never_both() {
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let k = kafka(&[
            ("CHAT__KAFKA__SECURITY_PROTOCOL", "ssl"),
            ("CHAT__KAFKA__TLS__CA_PEM", pem),
        ])
        .unwrap();
        let p = security_properties(&k);
        assert_eq!(property(&p, "ssl.ca.pem"), Some(pem));
        assert_eq!(property(&p, "ssl.ca.location"), None);
        let err = kafka(&[
            ("CHAT__KAFKA__SECURITY_PROTOCOL", "ssl"),
            ("CHAT__KAFKA__TLS__CA_PEM", pem),
            ("CHAT__KAFKA__TLS__CA_PATH", "/etc/chat/ca.crt"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("set one"), "{err}");
        let err = kafka(&[
            ("CHAT__KAFKA__SECURITY_PROTOCOL", "ssl"),
            ("CHAT__KAFKA__TLS__CA_PEM", "/etc/chat/ca.crt"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("no PEM certificate"), "{err}");
    }

    #[test]
    fn sasl_without_credentials_or_with_an_unknown_mechanism_is_refused() {
        let err = kafka(&[
            ("CHAT__KAFKA__SECURITY_PROTOCOL", "sasl_ssl"),
            ("CHAT__KAFKA__SASL__MECHANISM", "SCRAM-SHA-512"),
            ("CHAT__KAFKA__SASL__USERNAME", "chat"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("kafka.sasl.password"), "{err}");
        let err = kafka(&[
            ("CHAT__KAFKA__SECURITY_PROTOCOL", "sasl_ssl"),
            ("CHAT__KAFKA__SASL__MECHANISM", "GSSAPI"),
            ("CHAT__KAFKA__SASL__USERNAME", "chat"),
            ("CHAT__KAFKA__SASL__PASSWORD", "pw"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("kafka.sasl.mechanism"), "{err}");
        assert!(kafka(&[("CHAT__KAFKA__SECURITY_PROTOCOL", "tls")]).is_err());
    }

    #[test]
    fn extra_properties_come_after_the_settings_and_win() {
        let mut k = kafka(&[("CHAT__KAFKA__SECURITY_PROTOCOL", "ssl")]).unwrap();
        k.extra.insert(
            "ssl.endpoint.identification.algorithm".into(),
            crate::config::Secret::new("none"),
        );
        let c = client_config(&k);
        assert_eq!(c.get("security.protocol"), Some("ssl"));
        assert_eq!(c.get("ssl.endpoint.identification.algorithm"), Some("none"));
    }
}
