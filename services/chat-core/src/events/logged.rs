//! An event together with where it sits in the log, as consumers handle it.

/// A decoded record: its partition, its offset (the `seq` of conversation events) and
/// the event.
#[derive(Clone, Debug)]
pub struct Logged<E> {
    pub partition: i32,
    pub offset: i64,
    pub event: E,
}

/// A record a consumer refused, and why (it goes to the dead-letter topic).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub partition: i32,
    pub offset: i64,
    pub reason: String,
}

/// The record key an event must be written under (its conversation, its user, ...):
/// consumers refuse records whose key disagrees, since ordering depends on it.
pub trait Keyed {
    fn log_key(&self) -> String;
}

impl Keyed for super::ConversationEvent {
    fn log_key(&self) -> String {
        self.conversation_id.to_string()
    }
}

impl Keyed for super::NotificationRequested {
    fn log_key(&self) -> String {
        self.user_id.to_string()
    }
}

impl Keyed for super::PresenceEvent {
    fn log_key(&self) -> String {
        self.user_id.to_string()
    }
}
