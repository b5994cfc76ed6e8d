//! The projector's roles: one consumer group each, so each scales and fails on its own.

use std::fmt;

use chat_core::topics::Topics;

/// What a projector process does; `--role` on the command line, `role` in metric labels
/// and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Role {
    /// The CQL history tables.
    History,
    /// Live delivery over Redis pub/sub.
    Fanout,
    /// Online state in Redis, and presence frames.
    Presence,
    /// Push notifications owed to offline members, coalesced.
    Notifications,
    /// Those notifications POSTed, signed, to a receiver.
    Webhook,
    /// A full-text index of message bodies, one per partition, queried by the gateways.
    Search,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::History,
        Role::Fanout,
        Role::Presence,
        Role::Notifications,
        Role::Webhook,
        Role::Search,
    ];

    /// The name on the command line, in metric labels and in the default group.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::History => "history",
            Role::Fanout => "fanout",
            Role::Presence => "presence",
            Role::Notifications => "notifications",
            Role::Webhook => "webhook",
            Role::Search => "search",
        }
    }

    /// The topic this role consumes.
    pub fn topic(self, topics: &Topics) -> &str {
        match self {
            Role::History | Role::Fanout | Role::Notifications | Role::Search => {
                &topics.conversation_events
            }
            Role::Presence => &topics.presence,
            Role::Webhook => &topics.notifications,
        }
    }

    /// The consumer group when `--group` is not given: one per role, shared by the
    /// processes of that role so they split its partitions.
    pub fn default_group(self) -> String {
        format!("chat-projector-{}", self.as_str())
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn the_command_line_spelling_is_the_name() {
        for role in Role::ALL {
            let parsed = Role::from_str(role.as_str(), false).expect("parses");
            assert_eq!(parsed, role);
            assert_eq!(role.to_string(), role.as_str());
        }
        assert!(Role::from_str("rebuild", false).is_err());
    }

    #[test]
    fn each_role_reads_its_topic_with_its_own_group() {
        let topics = Topics::new("chat.");
        assert_eq!(Role::History.topic(&topics), "chat.conversation-events");
        assert_eq!(Role::Fanout.topic(&topics), "chat.conversation-events");
        assert_eq!(
            Role::Notifications.topic(&topics),
            "chat.conversation-events"
        );
        assert_eq!(Role::Presence.topic(&topics), "chat.presence");
        assert_eq!(Role::Webhook.topic(&topics), "chat.notifications");
        assert_eq!(Role::Webhook.default_group(), "chat-projector-webhook");
    }
}
