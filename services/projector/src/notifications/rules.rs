//! Who is notified of a message, and why. Pure functions: the projection gathers the
//! facts (members, who is online, who muted, usernames) and these decide.
//!
//! The rules:
//! - every member but the sender who has no live session is a candidate (an online
//!   member sees the message live; a push would be noise);
//! - a candidate named in the body as `@username` is notified with reason MENTION, even
//!   when they muted the conversation;
//! - otherwise a candidate who muted the conversation is not notified;
//! - otherwise the reason is DM in a direct conversation and GROUP in a group;
//! - a reaction (v1.1) notifies the author of the message reacted to, with reason
//!   REACTION, only in a direct conversation, only when the author is offline, has not
//!   muted it and is not the one who reacted: in a group, reactions would be noise.
//!   Thread replies are messages, so they follow the rules above (mentions included).

use std::collections::{HashMap, HashSet};

use chat_core::events::NotificationReason;
use chat_core::ids::UserId;

/// Most characters of a body a notification carries.
pub const PREVIEW_CHARS: usize = 140;

/// What is known about one message when deciding.
pub struct Facts<'a> {
    pub sender: UserId,
    pub body: &'a str,
    pub direct: bool,
    pub members: &'a HashSet<UserId>,
    pub online: &'a HashSet<UserId>,
    pub muted: &'a HashSet<UserId>,
    pub usernames: &'a HashMap<UserId, String>,
}

/// The recipients to notify and each one's reason, ordered by user id (deterministic).
pub fn recipients(f: &Facts<'_>) -> Vec<(UserId, NotificationReason)> {
    let mentioned = mentions(f.body);
    let mut out: Vec<(UserId, NotificationReason)> = f
        .members
        .iter()
        .filter(|u| **u != f.sender && !f.online.contains(u))
        .filter_map(|u| {
            let named = f
                .usernames
                .get(u)
                .is_some_and(|name| mentioned.contains(name.as_str()));
            if named {
                Some((*u, NotificationReason::Mention))
            } else if f.muted.contains(u) {
                None
            } else if f.direct {
                Some((*u, NotificationReason::Dm))
            } else {
                Some((*u, NotificationReason::Group))
            }
        })
        .collect();
    out.sort_by_key(|(u, _)| u.0);
    out
}

/// Who hears about a reaction by `reactor` to a message of `author` (see the module's
/// rules).
pub fn reaction_recipient(
    reactor: UserId,
    author: UserId,
    direct: bool,
    online: &HashSet<UserId>,
    muted: &HashSet<UserId>,
) -> Option<UserId> {
    (direct && author != reactor && !online.contains(&author) && !muted.contains(&author))
        .then_some(author)
}

/// Usernames mentioned in a body, lowercased. A mention is `@` at the start or after a
/// character that cannot be part of a username (so `a@b.com` mentions nobody),
/// followed by username characters (`a-z 0-9 . _ -`, any case); a trailing `.`, `-` or
/// `_` is punctuation, not part of the name ("thanks @bob.").
pub fn mentions(body: &str) -> HashSet<String> {
    fn name_char(c: char) -> bool {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
    }
    let mut out = HashSet::new();
    let mut prev: Option<char> = None;
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '@' && !prev.is_some_and(name_char) {
            let start = i + 1;
            let mut end = start;
            while let Some(&(j, n)) = chars.peek() {
                if !name_char(n) {
                    break;
                }
                end = j + n.len_utf8();
                chars.next();
            }
            let name = body[start..end].trim_end_matches(['.', '-', '_']);
            if !name.is_empty() {
                out.insert(name.to_ascii_lowercase());
            }
            prev = body[..end].chars().next_back();
            continue;
        }
        prev = Some(c);
    }
    out
}

/// The start of a body for the notification: at most [`PREVIEW_CHARS`] characters,
/// cut at a character boundary, with an ellipsis when cut.
pub fn preview(body: &str) -> String {
    match body.char_indices().nth(PREVIEW_CHARS) {
        None => body.to_string(),
        Some((cut, _)) => format!("{}…", &body[..cut]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn u(n: u128) -> UserId {
        UserId(Uuid::from_u128(n))
    }

    fn set(names: &[&str]) -> HashSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn finds_mentions() {
        assert_eq!(
            mentions("hi @Bob, and @carol.smith."),
            set(&["bob", "carol.smith"])
        );
        assert_eq!(mentions("@dave"), set(&["dave"]));
        assert_eq!(mentions("mail me at a@b.com"), set(&[]));
        assert_eq!(mentions("@ alone and @@x"), set(&["x"]));
        assert_eq!(mentions("(@erin) é@frank"), set(&["erin", "frank"]));
        assert_eq!(mentions("no mentions"), set(&[]));
    }

    #[test]
    fn previews_cut_on_characters() {
        assert_eq!(preview("short"), "short");
        let long = "é".repeat(200);
        let p = preview(&long);
        assert_eq!(p.chars().count(), PREVIEW_CHARS + 1);
        assert!(p.ends_with('…'));
    }

    #[test]
    fn applies_the_rules() {
        let members: HashSet<UserId> = [u(1), u(2), u(3), u(4), u(5)].into();
        let online: HashSet<UserId> = [u(2)].into();
        let muted: HashSet<UserId> = [u(3), u(4)].into();
        let usernames: HashMap<UserId, String> = [
            (u(1), "ann".to_string()),
            (u(2), "ben".to_string()),
            (u(3), "cat".to_string()),
            (u(4), "dan".to_string()),
            (u(5), "eve".to_string()),
        ]
        .into();
        let facts = Facts {
            sender: u(1),
            body: "@ben @cat look",
            direct: false,
            members: &members,
            online: &online,
            muted: &muted,
            usernames: &usernames,
        };
        // 1 sent it; 2 is online (mention or not); 3 is muted but mentioned; 4 is muted;
        // 5 gets the group notification.
        assert_eq!(
            recipients(&facts),
            vec![
                (u(3), NotificationReason::Mention),
                (u(5), NotificationReason::Group)
            ]
        );
        let direct_members: HashSet<UserId> = [u(1), u(5)].into();
        let dm = Facts {
            direct: true,
            members: &direct_members,
            body: "hey",
            ..facts
        };
        assert_eq!(recipients(&dm), vec![(u(5), NotificationReason::Dm)]);
    }

    #[test]
    fn a_reaction_notifies_an_offline_author_in_a_direct_conversation_only() {
        let none = HashSet::new();
        assert_eq!(
            reaction_recipient(u(1), u(2), true, &none, &none),
            Some(u(2))
        );
        assert_eq!(
            reaction_recipient(u(1), u(2), false, &none, &none),
            None,
            "group"
        );
        assert_eq!(
            reaction_recipient(u(2), u(2), true, &none, &none),
            None,
            "own"
        );
        let online: HashSet<UserId> = [u(2)].into();
        assert_eq!(
            reaction_recipient(u(1), u(2), true, &online, &none),
            None,
            "online"
        );
        assert_eq!(
            reaction_recipient(u(1), u(2), true, &none, &online),
            None,
            "muted"
        );
    }
}
