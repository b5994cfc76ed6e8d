//! Who may do what in a conversation: one set of rules over domain types.
//!
//! The gateway checks them before it appends an event (and answers a refusal with
//! `forbidden`); the history projection checks them again when it applies the event
//! (and dead-letters a refusal), because the log may hold events no gateway vetted: an
//! older build's, or a tool's. Both read the actor's standing from their own state, so
//! the rules take it as an argument and touch no storage.

use crate::events::{ConversationKind, MessageKind};
use crate::ids::UserId;

/// A member's standing in a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Membership {
    pub kind: ConversationKind,
    pub is_admin: bool,
}

impl Membership {
    fn is_group_admin(self) -> bool {
        self.kind == ConversationKind::Group && self.is_admin
    }
}

/// Why an action is not allowed. The text is written for people: the gateway sends it
/// to the client as the error message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("only the sender may edit a message")]
    EditByOther,
    #[error("only the sender or a group admin may delete a message")]
    DeleteByOther,
    #[error("a direct conversation has exactly two members")]
    DirectMembershipChange,
    #[error("only a group admin may make another member an admin")]
    PromotionByNonAdmin,
    #[error("only a group admin may remove another member")]
    RemovalByNonAdmin,
    #[error("kind \"system\" is reserved for the server")]
    ReservedKind,
    #[error("only a group admin may add members to this group")]
    AdditionByNonAdmin,
    #[error("a direct conversation has no name to change")]
    RenameDirect,
    #[error("a direct conversation has no retention of its own; only groups do")]
    RetentionDirect,
    #[error("only a group admin may set the conversation's retention")]
    RetentionByNonAdmin,
}

/// Most distinct emoji on one message (`too_many_reactions` beyond).
pub const MAX_REACTION_EMOJI: usize = 50;

/// Most messages pinned in one conversation at once.
pub const MAX_PINS: usize = 100;

/// A reaction: one Unicode emoji (a whole grapheme cluster that is an emoji: skin
/// tones, ZWJ sequences and flags included), or a `:shortcode:` of 1..=32 characters
/// `[a-z0-9_+-]` for custom ones. Parsed once, at the gateway and again by the
/// projection, so the log's reactions are all of this shape.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Emoji(String);

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "emoji must be one Unicode emoji or a :shortcode: of 1 to 32 characters a-z, 0-9, _, + or -"
)]
pub struct InvalidEmoji;

impl Emoji {
    pub fn parse(raw: &str) -> Result<Self, InvalidEmoji> {
        let shortcode = raw
            .strip_prefix(':')
            .and_then(|r| r.strip_suffix(':'))
            .filter(|code| {
                (1..=32).contains(&code.len())
                    && code.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"_+-".contains(&b)
                    })
            });
        if shortcode.is_some() || emojis::get(raw).is_some() {
            Ok(Self(raw.to_string()))
        } else {
            Err(InvalidEmoji)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether adding `emoji` to a message that has reactions with `existing` emoji (each
/// listed once per reactor, in any order) would go past [`MAX_REACTION_EMOJI`] distinct
/// ones. The gateway asks before appending and the projection again when applying, so
/// both count the same way.
pub fn exceeds_reaction_emoji<'a>(existing: impl Iterator<Item = &'a str>, emoji: &str) -> bool {
    let mut distinct: Vec<&str> = existing.collect();
    distinct.sort_unstable();
    distinct.dedup();
    !distinct.contains(&emoji) && distinct.len() >= MAX_REACTION_EMOJI
}

/// Any member renames a group; a direct conversation has no name.
pub fn may_rename(actor_standing: Membership) -> Result<(), Refusal> {
    match actor_standing.kind {
        ConversationKind::Direct => Err(Refusal::RenameDirect),
        ConversationKind::Group => Ok(()),
    }
}

/// A group admin sets a group's own retention (v1.3); a direct conversation has none.
/// The days are checked against the operator's limits by the gateway alone, since the
/// limits may change after the event was appended.
pub fn may_set_retention(actor_standing: Membership) -> Result<(), Refusal> {
    match actor_standing.kind {
        ConversationKind::Direct => Err(Refusal::RetentionDirect),
        ConversationKind::Group if actor_standing.is_admin => Ok(()),
        ConversationKind::Group => Err(Refusal::RetentionByNonAdmin),
    }
}

/// Who may add people to a group (`[groups] who_may_add`, `CHAT__GROUPS__WHO_MAY_ADD`).
/// The gateway and the history projection read the same setting, so an addition the
/// gateway would refuse is also refused when it is projected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WhoMayAdd {
    /// Any member (the original behaviour).
    #[default]
    Members,
    /// Only the group's admins.
    Admins,
}

/// A client may send any kind of message but `system`, which only the server writes.
pub fn may_send_kind(kind: MessageKind) -> Result<(), Refusal> {
    match kind {
        MessageKind::System => Err(Refusal::ReservedKind),
        _ => Ok(()),
    }
}

/// Only the sender edits a message.
pub fn may_edit(actor: UserId, sender: UserId) -> Result<(), Refusal> {
    if actor == sender {
        Ok(())
    } else {
        Err(Refusal::EditByOther)
    }
}

/// The sender deletes a message, and so does an admin of a group.
pub fn may_delete(
    actor: UserId,
    sender: UserId,
    actor_standing: Membership,
) -> Result<(), Refusal> {
    if actor == sender || actor_standing.is_group_admin() {
        Ok(())
    } else {
        Err(Refusal::DeleteByOther)
    }
}

/// Members (or, with [`WhoMayAdd::Admins`], only admins) add people to a group; only an
/// admin adds (or promotes) an admin. A direct conversation's members never change.
pub fn may_add_member(
    actor_standing: Membership,
    as_admin: bool,
    who_may_add: WhoMayAdd,
) -> Result<(), Refusal> {
    if actor_standing.kind == ConversationKind::Direct {
        return Err(Refusal::DirectMembershipChange);
    }
    if as_admin && !actor_standing.is_admin {
        return Err(Refusal::PromotionByNonAdmin);
    }
    if who_may_add == WhoMayAdd::Admins && !actor_standing.is_admin {
        return Err(Refusal::AdditionByNonAdmin);
    }
    Ok(())
}

/// A member leaves a group; only an admin removes someone else. A direct conversation's
/// members never change.
pub fn may_remove_member(
    actor: UserId,
    removed: UserId,
    actor_standing: Membership,
) -> Result<(), Refusal> {
    if actor_standing.kind == ConversationKind::Direct {
        return Err(Refusal::DirectMembershipChange);
    }
    if removed != actor && !actor_standing.is_admin {
        return Err(Refusal::RemovalByNonAdmin);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(n: u128) -> UserId {
        UserId(uuid::Uuid::from_u128(n))
    }
    const MEMBER: Membership = Membership {
        kind: ConversationKind::Group,
        is_admin: false,
    };
    const ADMIN: Membership = Membership {
        kind: ConversationKind::Group,
        is_admin: true,
    };
    const DIRECT: Membership = Membership {
        kind: ConversationKind::Direct,
        is_admin: false,
    };

    #[test]
    fn only_the_sender_edits() {
        assert_eq!(may_edit(user(1), user(1)), Ok(()));
        assert_eq!(may_edit(user(2), user(1)), Err(Refusal::EditByOther));
    }

    #[test]
    fn the_sender_or_a_group_admin_deletes() {
        assert_eq!(may_delete(user(1), user(1), MEMBER), Ok(()));
        assert_eq!(may_delete(user(2), user(1), ADMIN), Ok(()));
        assert_eq!(
            may_delete(user(2), user(1), MEMBER),
            Err(Refusal::DeleteByOther)
        );
        // An "admin" flag means nothing in a direct conversation.
        let direct_admin = Membership {
            is_admin: true,
            ..DIRECT
        };
        assert_eq!(
            may_delete(user(2), user(1), direct_admin),
            Err(Refusal::DeleteByOther)
        );
    }

    #[test]
    fn members_add_members_and_only_admins_add_admins() {
        let anyone = WhoMayAdd::Members;
        assert_eq!(may_add_member(MEMBER, false, anyone), Ok(()));
        assert_eq!(
            may_add_member(MEMBER, true, anyone),
            Err(Refusal::PromotionByNonAdmin)
        );
        assert_eq!(may_add_member(ADMIN, true, anyone), Ok(()));
        assert_eq!(
            may_add_member(DIRECT, false, anyone),
            Err(Refusal::DirectMembershipChange)
        );
    }

    #[test]
    fn with_admins_only_a_member_adds_nobody() {
        let admins = WhoMayAdd::Admins;
        assert_eq!(
            may_add_member(MEMBER, false, admins),
            Err(Refusal::AdditionByNonAdmin)
        );
        assert_eq!(may_add_member(ADMIN, false, admins), Ok(()));
        assert_eq!(may_add_member(ADMIN, true, admins), Ok(()));
        assert_eq!(
            may_add_member(DIRECT, false, admins),
            Err(Refusal::DirectMembershipChange)
        );
    }

    #[test]
    fn members_leave_and_only_admins_remove_others() {
        assert_eq!(may_remove_member(user(1), user(1), MEMBER), Ok(()));
        assert_eq!(
            may_remove_member(user(1), user(2), MEMBER),
            Err(Refusal::RemovalByNonAdmin)
        );
        assert_eq!(may_remove_member(user(1), user(2), ADMIN), Ok(()));
        assert_eq!(
            may_remove_member(user(1), user(1), DIRECT),
            Err(Refusal::DirectMembershipChange)
        );
    }

    #[test]
    fn system_messages_are_the_servers() {
        assert_eq!(may_send_kind(MessageKind::Text), Ok(()));
        assert_eq!(
            may_send_kind(MessageKind::System),
            Err(Refusal::ReservedKind)
        );
    }

    #[test]
    fn reactions_are_one_emoji_or_a_shortcode() {
        for ok in [
            "👍",
            "👍🏽",
            "❤️",
            "👨‍👩‍👧",
            "🇫🇷",
            ":party_parrot:",
            ":+1:",
            ":a-b_9:",
        ] {
            assert!(Emoji::parse(ok).is_ok(), "{ok}");
        }
        let long = format!(":{}:", "a".repeat(33));
        for bad in [
            "",
            "a",
            "👍👍",
            "👍 ",
            "::",
            ":Upper:",
            ":a b:",
            ":x",
            "x:",
            "<b>",
            long.as_str(),
        ] {
            assert_eq!(Emoji::parse(bad), Err(InvalidEmoji), "{bad:?}");
        }
        assert!(Emoji::parse(&format!(":{}:", "a".repeat(32))).is_ok());
    }

    #[test]
    fn only_group_admins_set_retention() {
        let admin = Membership {
            kind: ConversationKind::Group,
            is_admin: true,
        };
        assert_eq!(may_set_retention(admin), Ok(()));
        let member = Membership {
            is_admin: false,
            ..admin
        };
        assert_eq!(may_set_retention(member), Err(Refusal::RetentionByNonAdmin));
        let direct = Membership {
            kind: ConversationKind::Direct,
            is_admin: true,
        };
        assert_eq!(may_set_retention(direct), Err(Refusal::RetentionDirect));
    }

    #[test]
    fn only_groups_are_renamed() {
        let group = Membership {
            kind: ConversationKind::Group,
            is_admin: false,
        };
        assert_eq!(may_rename(group), Ok(()));
        let direct = Membership {
            kind: ConversationKind::Direct,
            is_admin: true,
        };
        assert_eq!(may_rename(direct), Err(Refusal::RenameDirect));
    }

    #[test]
    fn the_fifty_first_distinct_emoji_is_one_too_many() {
        let fifty: Vec<String> = (0..50).map(|i| format!(":e{i}:")).collect();
        let twice = fifty.iter().chain(fifty.iter()).map(String::as_str);
        assert!(exceeds_reaction_emoji(twice.clone(), ":new:"));
        assert!(!exceeds_reaction_emoji(twice, ":e3:"), "one already there");
        let few = fifty.iter().take(49).map(String::as_str);
        assert!(!exceeds_reaction_emoji(few, ":new:"));
    }
}
