//! Topic names and their settings, derived from the configured prefix.
//!
//! Topics are created explicitly by `chatctl topics create` (brokers run with
//! auto-creation off), so every setting that matters is written down here.

use crate::config::KafkaSettings;

#[derive(Clone, Debug)]
pub struct Topics {
    /// Every state change of every conversation; key = conversation id. The source of
    /// truth: kept forever.
    pub conversation_events: String,
    /// Gateway connection lifecycle; key = user id.
    pub presence: String,
    /// NotificationRequested records for push sinks; key = recipient.
    pub notifications: String,
    /// Records a consumer could not decode or apply, with the reason in headers.
    pub dead_letter: String,
    /// AuditEvent records: security and administrative events; key = actor. Kept
    /// forever, like the conversation events: an audit trail that ages out is none.
    pub audit: String,
}

/// What `chatctl topics create` makes of one topic.
#[derive(Clone, Debug)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i32,
    pub configs: Vec<(&'static str, String)>,
}

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

impl Topics {
    pub fn new(prefix: &str) -> Self {
        Self {
            conversation_events: format!("{prefix}conversation-events"),
            presence: format!("{prefix}presence"),
            notifications: format!("{prefix}notifications"),
            dead_letter: format!("{prefix}dead-letter"),
            audit: format!("{prefix}audit"),
        }
    }

    pub fn from_settings(k: &KafkaSettings) -> Self {
        Self::new(&k.topic_prefix)
    }

    /// The registry subject of a topic's values (Confluent's TopicNameStrategy).
    pub fn value_subject(topic: &str) -> String {
        format!("{topic}-value")
    }

    pub fn specs(&self, k: &KafkaSettings) -> Vec<TopicSpec> {
        let spec = |name: &str, retention_ms: i64| TopicSpec {
            name: name.to_string(),
            partitions: k.partitions,
            replication_factor: k.replication_factor,
            configs: vec![
                ("min.insync.replicas", k.min_insync_replicas.to_string()),
                ("retention.ms", retention_ms.to_string()),
                // Time bounds retention; no size cap (a broker default must not cut the
                // source of truth short).
                ("retention.bytes", "-1".to_string()),
                ("cleanup.policy", "delete".to_string()),
                // Producers compress; keep their batches as they are.
                ("compression.type", "producer".to_string()),
            ],
        };
        vec![
            spec(&self.conversation_events, -1),
            spec(&self.presence, DAY_MS),
            spec(&self.notifications, 7 * DAY_MS),
            spec(&self.dead_letter, 30 * DAY_MS),
            spec(&self.audit, -1),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_prefix() {
        let t = Topics::new("chat.");
        assert_eq!(t.conversation_events, "chat.conversation-events");
        assert_eq!(Topics::value_subject(&t.presence), "chat.presence-value");
        assert_eq!(t.audit, "chat.audit");
    }

    #[test]
    fn the_audit_trail_is_kept_forever() {
        let t = Topics::new("chat.");
        let k = crate::config::Settings::load_from(&std::collections::BTreeMap::new())
            .expect("default settings")
            .kafka;
        let specs = t.specs(&k);
        let audit = specs
            .iter()
            .find(|s| s.name == "chat.audit")
            .expect("the audit topic is created");
        let setting = |key: &str| {
            audit
                .configs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(setting("retention.ms"), Some("-1"));
        assert_eq!(setting("cleanup.policy"), Some("delete"));
    }
}
