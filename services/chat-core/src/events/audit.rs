//! `chat.audit`: security and administrative events (sign-ins, tokens, membership
//! changes by admins, mutes, operator actions), keyed by actor and kept forever. Its Avro
//! form is `avro::audit`; writing one is [`crate::audit::AuditLog`].
//!
//! On the wire `actor_id`, `action`, `subject_kind` and `outcome` are plain strings, not
//! Avro enums: a new action written by a newer build must never make an older reader
//! fail. Here they are typed, each with an `Other` branch that keeps a value this build
//! does not know as it was read.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use uuid::Uuid;

use crate::ids::{ConversationId, UserId};
use crate::time::UnixMillis;

#[derive(Clone, Debug, PartialEq)]
pub struct AuditEvent {
    pub event_id: Uuid,
    pub occurred_at: UnixMillis,
    /// Who acted (also the record key).
    pub actor: Actor,
    pub action: AuditAction,
    /// What was acted on.
    pub subject: Subject,
    pub outcome: Outcome,
    /// Which process wrote the record: a gateway's id, or `chatctl`.
    pub origin: String,
    /// The client's address, when a client made the request.
    pub source_ip: Option<IpAddr>,
    /// Facts particular to the action (never secrets: no passwords, no tokens).
    pub details: BTreeMap<String, String>,
}

impl AuditEvent {
    /// An event that happens now, with a fresh id, no address and no details.
    pub fn new(
        actor: Actor,
        action: AuditAction,
        subject: Subject,
        outcome: Outcome,
        origin: impl Into<String>,
    ) -> Self {
        Self {
            event_id: Uuid::new_v4(),
            occurred_at: UnixMillis::now(),
            actor,
            action,
            subject,
            outcome,
            origin: origin.into(),
            source_ip: None,
            details: BTreeMap::new(),
        }
    }

    /// The client's address. The unspecified address (what the gateway reports when a
    /// request carried no peer) is no address.
    pub fn with_source_ip(mut self, ip: Option<IpAddr>) -> Self {
        self.source_ip = ip.filter(|ip| !ip.is_unspecified());
        self
    }

    /// Add one detail (`key` in snake_case).
    pub fn detail(mut self, key: &str, value: impl fmt::Display) -> Self {
        self.details.insert(key.to_string(), value.to_string());
        self
    }

    /// The record key: the actor as written in `actor_id`.
    pub fn key(&self) -> String {
        self.actor.to_string()
    }
}

/// Who acted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in (or signing-in) user.
    User(UserId),
    /// An operator running `chatctl`: `operator:<name>`.
    Operator(String),
    /// Nobody known: a failed sign-in with a username that has no account.
    Anonymous,
    /// A form this build does not know, kept as read.
    Other(String),
}

const OPERATOR_PREFIX: &str = "operator:";
const ANONYMOUS: &str = "anonymous";

impl Actor {
    /// The operator running this process, by login name (`$USER`, else `$LOGNAME`), or
    /// `operator:unknown`. Only a label: chatctl's access to the deployment's secrets is
    /// what authorizes it, not this name.
    pub fn operator_from_env() -> Self {
        let name = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .ok()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "unknown".to_string());
        Actor::Operator(name)
    }

    /// The actor written as `s` (`actor_id`).
    pub fn parse(s: &str) -> Self {
        if s == ANONYMOUS {
            return Actor::Anonymous;
        }
        if let Some(name) = s.strip_prefix(OPERATOR_PREFIX) {
            return Actor::Operator(name.to_string());
        }
        match Uuid::parse_str(s) {
            Ok(u) => Actor::User(UserId(u)),
            Err(_) => Actor::Other(s.to_string()),
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::User(u) => write!(f, "{u}"),
            Actor::Operator(name) => write!(f, "{OPERATOR_PREFIX}{name}"),
            Actor::Anonymous => f.write_str(ANONYMOUS),
            Actor::Other(s) => f.write_str(s),
        }
    }
}

/// What was done. The wire form is [`AuditAction::as_str`]; schemas/README.md lists
/// each action with its subject and details.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AuditAction {
    SignIn,
    SignInFailed,
    TokenIssued,
    TokenRevoked,
    PasswordChanged,
    UserCreated,
    ConversationCreated,
    MemberAdded,
    MemberRemoved,
    AdminGranted,
    ConversationMuted,
    ConversationUnmuted,
    UserDeactivated,
    UserReactivated,
    UserErased,
    LegalHoldPlaced,
    LegalHoldReleased,
    RetentionApplied,
    ExportWritten,
    ConfigChanged,
    /// v1.3: a group admin set or cleared the conversation's own retention.
    ConversationRetentionSet,
    /// An action this build does not know, kept as read.
    Other(String),
}

/// Every action this build knows (parsing goes through it; a test keeps it complete).
pub const KNOWN_ACTIONS: [AuditAction; 21] = [
    AuditAction::SignIn,
    AuditAction::SignInFailed,
    AuditAction::TokenIssued,
    AuditAction::TokenRevoked,
    AuditAction::PasswordChanged,
    AuditAction::UserCreated,
    AuditAction::ConversationCreated,
    AuditAction::MemberAdded,
    AuditAction::MemberRemoved,
    AuditAction::AdminGranted,
    AuditAction::ConversationMuted,
    AuditAction::ConversationUnmuted,
    AuditAction::UserDeactivated,
    AuditAction::UserReactivated,
    AuditAction::UserErased,
    AuditAction::LegalHoldPlaced,
    AuditAction::LegalHoldReleased,
    AuditAction::RetentionApplied,
    AuditAction::ExportWritten,
    AuditAction::ConfigChanged,
    AuditAction::ConversationRetentionSet,
];

impl AuditAction {
    /// The wire name (snake_case).
    pub fn as_str(&self) -> &str {
        match self {
            AuditAction::SignIn => "sign_in",
            AuditAction::SignInFailed => "sign_in_failed",
            AuditAction::TokenIssued => "token_issued",
            AuditAction::TokenRevoked => "token_revoked",
            AuditAction::PasswordChanged => "password_changed",
            AuditAction::UserCreated => "user_created",
            AuditAction::ConversationCreated => "conversation_created",
            AuditAction::MemberAdded => "member_added",
            AuditAction::MemberRemoved => "member_removed",
            AuditAction::AdminGranted => "admin_granted",
            AuditAction::ConversationMuted => "conversation_muted",
            AuditAction::ConversationUnmuted => "conversation_unmuted",
            AuditAction::UserDeactivated => "user_deactivated",
            AuditAction::UserReactivated => "user_reactivated",
            AuditAction::UserErased => "user_erased",
            AuditAction::LegalHoldPlaced => "legal_hold_placed",
            AuditAction::LegalHoldReleased => "legal_hold_released",
            AuditAction::RetentionApplied => "retention_applied",
            AuditAction::ExportWritten => "export_written",
            AuditAction::ConfigChanged => "config_changed",
            AuditAction::ConversationRetentionSet => "conversation_retention_set",
            AuditAction::Other(s) => s,
        }
    }

    /// The action named `s`; a name this build does not know is kept as `Other`.
    pub fn parse(s: &str) -> Self {
        KNOWN_ACTIONS
            .into_iter()
            .find(|a| a.as_str() == s)
            .unwrap_or_else(|| AuditAction::Other(s.to_string()))
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of thing was acted on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubjectKind {
    User,
    Conversation,
    /// A setting, named by `subject_id`.
    Config,
    /// An e-discovery export, named by `subject_id`.
    Export,
    Other(String),
}

impl SubjectKind {
    pub fn as_str(&self) -> &str {
        match self {
            SubjectKind::User => "user",
            SubjectKind::Conversation => "conversation",
            SubjectKind::Config => "config",
            SubjectKind::Export => "export",
            SubjectKind::Other(s) => s,
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "user" => SubjectKind::User,
            "conversation" => SubjectKind::Conversation,
            "config" => SubjectKind::Config,
            "export" => SubjectKind::Export,
            other => SubjectKind::Other(other.to_string()),
        }
    }
}

/// What was acted on: `subject_kind` and `subject_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    pub kind: SubjectKind,
    pub id: String,
}

impl Subject {
    pub fn user(u: UserId) -> Self {
        Self {
            kind: SubjectKind::User,
            id: u.to_string(),
        }
    }

    pub fn conversation(c: ConversationId) -> Self {
        Self {
            kind: SubjectKind::Conversation,
            id: c.to_string(),
        }
    }

    /// A setting, by its name (e.g. `retention.default_days`).
    pub fn config(name: impl Into<String>) -> Self {
        Self {
            kind: SubjectKind::Config,
            id: name.into(),
        }
    }

    /// An export, by its id.
    pub fn export(id: impl Into<String>) -> Self {
        Self {
            kind: SubjectKind::Export,
            id: id.into(),
        }
    }
}

/// How it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Done.
    Ok,
    /// Refused: wrong credentials, or not allowed.
    Denied,
    /// Attempted, and it did not complete.
    Failed,
    Other(String),
}

impl Outcome {
    pub fn as_str(&self) -> &str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
            Outcome::Other(s) => s,
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "ok" => Outcome::Ok,
            "denied" => Outcome::Denied,
            "failed" => Outcome::Failed,
            other => Outcome::Other(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_read_back_as_written() {
        for actor in [
            Actor::User(UserId(Uuid::from_u128(7))),
            Actor::Operator("alice".into()),
            Actor::Anonymous,
            Actor::Other("service:sweeper".into()),
        ] {
            assert_eq!(Actor::parse(&actor.to_string()), actor);
        }
        assert_eq!(Actor::Operator("bob".into()).to_string(), "operator:bob");
    }

    #[test]
    fn every_action_has_its_own_name_and_unknown_ones_survive() {
        let mut names = std::collections::HashSet::new();
        for action in KNOWN_ACTIONS {
            let name = action.as_str().to_string();
            assert_eq!(AuditAction::parse(&name), action);
            assert!(names.insert(name.clone()), "{name} twice");
        }
        let later = AuditAction::parse("key_rotated");
        assert_eq!(later, AuditAction::Other("key_rotated".into()));
        assert_eq!(later.as_str(), "key_rotated");
    }

    #[test]
    fn an_unspecified_address_is_no_address() {
        let e = AuditEvent::new(
            Actor::Anonymous,
            AuditAction::SignInFailed,
            Subject::user(UserId(Uuid::nil())),
            Outcome::Denied,
            "gw",
        );
        let e = e.with_source_ip(Some("0.0.0.0".parse().unwrap()));
        assert_eq!(e.source_ip, None);
        let e = e.with_source_ip(Some("192.0.2.7".parse().unwrap()));
        assert_eq!(e.source_ip, Some("192.0.2.7".parse().unwrap()));
    }
}
