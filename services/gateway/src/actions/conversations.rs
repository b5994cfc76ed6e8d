//! Creating conversations and changing who is in them.
//!
//! Group creation and every change of a group's members or admins is audited
//! (`chat.audit`) once its event is in the log: actor = the acting user, subject = the
//! conversation, `user_id` in the details. An addition or removal the rules refuse is
//! audited too, with outcome `denied`. A direct conversation's creation is not an
//! administrative act and is not audited.

use std::net::IpAddr;

use chat_core::audit::{Actor, AuditAction, Outcome, Subject};
use chat_core::events::{AuditEvent, ConversationCreated, ConversationKind, Payload};
use chat_core::ids::{ConversationId, UserId};
use chat_core::rules;
use chat_store::membership::CREATION_POLL;

use super::{event, require_member, ActionError};
use crate::domain::ConversationName;
use crate::state::AppState;

/// Looks at a direct conversation being created by someone else before giving up.
const CREATION_WAITS: usize = 100;

pub async fn create_group(
    state: &AppState,
    creator: UserId,
    name: Option<ConversationName>,
    invited: Vec<UserId>,
    from: IpAddr,
) -> Result<ConversationId, ActionError> {
    let mut members = vec![creator];
    for u in invited {
        if !members.contains(&u) {
            members.push(u);
        }
    }
    let most = state.settings.max_group_members;
    if members.len() > most {
        // `invalid_members`, as v1 always answered an oversized creation.
        return Err(ActionError::InvalidMembers(format!(
            "a group has at most {most} members"
        )));
    }
    for u in &members[1..] {
        if !state.accounts.exists(*u).await? {
            return Err(ActionError::InvalidMembers(format!("no user {u}")));
        }
    }
    let c = ConversationId::new_random();
    let admins = vec![creator];
    let ev = event(
        state,
        c,
        creator,
        Payload::ConversationCreated(ConversationCreated {
            kind: ConversationKind::Group,
            name: name.map(ConversationName::into_inner),
            members: members.clone(),
            admins: admins.clone(),
        }),
    );
    state.appender.append(&ev).await?;
    // In the log: audited whether or not the write-through below succeeds.
    let member_list: Vec<String> = members.iter().map(UserId::to_string).collect();
    state.audit(
        audited(
            state,
            creator,
            c,
            AuditAction::ConversationCreated,
            Outcome::Ok,
            from,
        )
        .detail("kind", "group")
        .detail("member_count", members.len())
        .detail("members", member_list.join(","))
        .detail("admins", creator),
    );
    // Not best effort: "a send right after the create call returned must succeed", so the
    // create fails (and the client retries) if the record cannot be written.
    state
        .membership
        .created(c, ConversationKind::Group, creator, &members, &admins)
        .await?;
    Ok(c)
}

/// The direct conversation of `creator` and `other`: (id, whether this call created it).
pub async fn create_direct(
    state: &AppState,
    creator: UserId,
    other: UserId,
) -> Result<(ConversationId, bool), ActionError> {
    if other == creator {
        return Err(ActionError::InvalidMembers(
            "a direct conversation needs another user".into(),
        ));
    }
    let c = ConversationId::direct(creator, other);
    if state.membership.exists(c).await? {
        return Ok((c, false));
    }
    if !state.accounts.exists(other).await? {
        return Err(ActionError::InvalidMembers(format!("no user {other}")));
    }
    // Both users may ask at once, on two gateways: one appends, the other waits for it.
    for _ in 0..CREATION_WAITS {
        if state.membership.lock_creation(c).await? {
            let result = append_direct(state, c, creator, other).await;
            state.membership.unlock_creation(c).await;
            return result;
        }
        tokio::time::sleep(CREATION_POLL).await;
        if state.membership.exists(c).await? {
            return Ok((c, false));
        }
    }
    Err(ActionError::InFlight(
        "the conversation is being created; try again",
    ))
}

/// Append the creation of a direct conversation, under its creation lock.
async fn append_direct(
    state: &AppState,
    c: ConversationId,
    creator: UserId,
    other: UserId,
) -> Result<(ConversationId, bool), ActionError> {
    if state.membership.exists(c).await? {
        return Ok((c, false));
    }
    let members = vec![creator, other];
    let ev = event(
        state,
        c,
        creator,
        Payload::ConversationCreated(ConversationCreated {
            kind: ConversationKind::Direct,
            name: None,
            members: members.clone(),
            admins: vec![],
        }),
    );
    state.appender.append(&ev).await?;
    state
        .membership
        .created(c, ConversationKind::Direct, creator, &members, &[])
        .await?;
    Ok((c, true))
}

/// Add `user` to a group (as an admin when `as_admin`, which only admins may ask). Adding
/// a member again is a no-op, except that an admin may promote an existing member.
///
/// Audited: a new member is `member_added` (details `user_id`, `as_admin`); whoever
/// becomes an admin by it, new member or promoted one, is also `admin_granted`. A no-op
/// is not audited.
pub async fn add_member(
    state: &AppState,
    caller: UserId,
    c: ConversationId,
    user: UserId,
    as_admin: bool,
    from: IpAddr,
) -> Result<(), ActionError> {
    let standing = require_member(state, c, caller).await?;
    if let Err(refusal) = rules::may_add_member(standing, as_admin, state.who_may_add) {
        let action = if refusal == rules::Refusal::PromotionByNonAdmin {
            AuditAction::AdminGranted
        } else {
            AuditAction::MemberAdded
        };
        state.audit(
            audited(state, caller, c, action, Outcome::Denied, from)
                .detail("user_id", user)
                .detail("as_admin", as_admin)
                .detail("reason", refusal),
        );
        return Err(refusal.into());
    }
    let already_member = match state.membership.membership(c, user).await? {
        Some(existing) => {
            if existing.is_admin || !as_admin {
                return Ok(());
            }
            true
        }
        None => {
            if !state.accounts.exists(user).await? {
                return Err(ActionError::NotFound("user"));
            }
            // Checked before appending, so concurrent additions to a nearly full group
            // may overshoot by as many as race; each later addition is refused.
            let most = state.settings.max_group_members;
            if state.membership.member_count(c).await? >= most {
                return Err(ActionError::GroupFull(most));
            }
            false
        }
    };
    let added = Payload::MemberAdded {
        user_id: user,
        as_admin,
    };
    state
        .appender
        .append(&event(state, c, caller, added))
        .await?;
    // In the log: audited whether or not the write-through below succeeds.
    if !already_member {
        state.audit(
            audited(
                state,
                caller,
                c,
                AuditAction::MemberAdded,
                Outcome::Ok,
                from,
            )
            .detail("user_id", user)
            .detail("as_admin", as_admin),
        );
    }
    if as_admin {
        state.audit(
            audited(
                state,
                caller,
                c,
                AuditAction::AdminGranted,
                Outcome::Ok,
                from,
            )
            .detail("user_id", user)
            .detail("new_member", !already_member),
        );
    }
    Ok(state.membership.member_added(c, user, as_admin).await?)
}

/// Remove `user` from a group (a member leaving is `user` = `caller`). Audited as
/// `member_removed` (details `user_id`), or `denied` when the rules refuse it.
pub async fn remove_member(
    state: &AppState,
    caller: UserId,
    c: ConversationId,
    user: UserId,
    from: IpAddr,
) -> Result<(), ActionError> {
    let standing = require_member(state, c, caller).await?;
    if let Err(refusal) = rules::may_remove_member(caller, user, standing) {
        state.audit(
            audited(
                state,
                caller,
                c,
                AuditAction::MemberRemoved,
                Outcome::Denied,
                from,
            )
            .detail("user_id", user)
            .detail("reason", refusal),
        );
        return Err(refusal.into());
    }
    if state.membership.membership(c, user).await?.is_none() {
        return Err(ActionError::NotFound("member"));
    }
    state
        .appender
        .append(&event(
            state,
            c,
            caller,
            Payload::MemberRemoved { user_id: user },
        ))
        .await?;
    state.audit(
        audited(
            state,
            caller,
            c,
            AuditAction::MemberRemoved,
            Outcome::Ok,
            from,
        )
        .detail("user_id", user),
    );
    Ok(state.membership.member_removed(c, user).await?)
}

/// The audit record of `actor` doing `action` to conversation `c` from `from`.
pub(crate) fn audited(
    state: &AppState,
    actor: UserId,
    c: ConversationId,
    action: AuditAction,
    outcome: Outcome,
    from: IpAddr,
) -> AuditEvent {
    state
        .audit_log
        .event(
            Actor::User(actor),
            action,
            Subject::conversation(c),
            outcome,
        )
        .with_source_ip(Some(from))
}
