//! The state changes a client can ask for, the same over REST and WebSocket: authorize
//! (membership from `chat_store::membership`, rules from `chat_core::rules`),
//! deduplicate, append to the log, then update the write-through record. Nothing here
//! knows about HTTP or frames: every action returns an [`ActionError`], which the edge
//! turns into a protocol error code (`crate::error`).
//!
//! - [`messages`]: send, edit, delete;
//! - [`receipts`]: read and delivered pointers;
//! - [`conversations`]: create (group, direct), add and remove members;
//! - [`reactions`]: v1.1 reactions;
//! - [`management`]: v1.1 renaming and pins;
//! - [`attachments`]: v1.1 uploads, their checks, and download links.

pub mod attachments;
pub mod conversations;
pub mod management;
pub mod messages;
pub mod reactions;
pub mod receipts;

use chat_core::events::{ConversationEvent, Payload};
use chat_core::ids::{ClientMsgId, ConversationId, MessageId, UserId};
use chat_core::rules::{Membership, Refusal};
use chat_core::time::UnixMillis;
use chat_store::dedup::Reservation;
use chat_store::StoreError;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::append::AppendError;
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// What a client is told once its action is in the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub client_msg_id: String,
    pub message_id: String,
    pub seq: i64,
    pub ts: String,
}

impl Ack {
    /// The ack of `event`, appended at `seq`, for the client's `client_msg_id` about
    /// `message_id`.
    pub(crate) fn of(
        client_msg_id: &ClientMsgId,
        message_id: MessageId,
        seq: i64,
        event: &ConversationEvent,
    ) -> Self {
        Ack {
            client_msg_id: client_msg_id.to_string(),
            message_id: message_id.to_string(),
            seq,
            ts: event.occurred_at.to_rfc3339(),
        }
    }
}

/// Why an action was not done.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// Not a member, or no such conversation (answered alike, so non-members learn
    /// nothing about which conversations exist).
    #[error("not a member")]
    NotMember,
    /// What the action refers to does not exist (a message, a user, a member).
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The members asked for cannot make this conversation.
    #[error("{0}")]
    InvalidMembers(String),
    /// The group already has `gateway.max_group_members` members.
    #[error("the group is full: at most {0} members")]
    GroupFull(usize),
    /// A pointer below zero.
    #[error("up_to_seq must not be negative")]
    NegativePointer,
    /// A thread root that is itself a reply in a thread.
    #[error("thread_root is itself a reply in a thread; reply in its thread's root instead")]
    InvalidThread,
    /// A new emoji on a message that has the most distinct emoji already.
    #[error(
        "a message has at most {} distinct reactions",
        chat_core::rules::MAX_REACTION_EMOJI
    )]
    TooManyReactions,
    /// Attachments are not configured on this gateway.
    #[error("attachments are not configured on this server")]
    AttachmentsOff,
    #[error("an upload is at most {0} bytes")]
    UploadTooLarge(i64),
    #[error("this content type may not be uploaded")]
    InvalidContentType,
    #[error("{0}")]
    InvalidAttachment(String),
    #[error(transparent)]
    Storage(#[from] crate::attachments::StorageError),
    /// A pin beyond the most a conversation holds.
    #[error(
        "a conversation has at most {} pins; unpin one first",
        chat_core::rules::MAX_PINS
    )]
    TooManyPins,
    /// A conversation retention outside the operator's limits (v1.3).
    #[error("{0}")]
    InvalidRetention(String),
    /// Another attempt at the same thing is in flight; retrying later succeeds.
    #[error("{0}")]
    InFlight(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Append(#[from] AppendError),
}

/// The one place actions' errors become protocol codes.
impl From<ActionError> for ApiError {
    fn from(e: ActionError) -> Self {
        match e {
            ActionError::NotMember => ApiError::not_member(),
            ActionError::NotFound(what) => ApiError::not_found(what),
            ActionError::Refused(r @ Refusal::RetentionDirect) => {
                ApiError::new(ErrorCode::InvalidRetention, r.to_string())
            }
            ActionError::Refused(r) => r.into(),
            ActionError::InvalidRetention(why) => ApiError::new(ErrorCode::InvalidRetention, why),
            ActionError::InvalidMembers(m) => ApiError::new(ErrorCode::InvalidMembers, m),
            ActionError::GroupFull(_) => ApiError::new(ErrorCode::GroupFull, e.to_string()),
            ActionError::NegativePointer => ApiError::bad_frame(e.to_string()),
            ActionError::InvalidThread => ApiError::new(ErrorCode::InvalidThread, e.to_string()),
            ActionError::TooManyReactions => {
                ApiError::new(ErrorCode::TooManyReactions, e.to_string())
            }
            ActionError::TooManyPins => ApiError::new(ErrorCode::TooLarge, e.to_string()),
            ActionError::AttachmentsOff => ApiError::unavailable(e.to_string()),
            ActionError::UploadTooLarge(_) => ApiError::new(ErrorCode::TooLarge, e.to_string()),
            ActionError::InvalidContentType => {
                ApiError::new(ErrorCode::InvalidContentType, e.to_string())
            }
            ActionError::InvalidAttachment(why) => ApiError::new(ErrorCode::InvalidAttachment, why),
            ActionError::Storage(e) => {
                tracing::warn!(error = %e, "object storage");
                ApiError::unavailable("object storage cannot be reached; retry later")
            }
            ActionError::InFlight(what) => ApiError::unavailable(what),
            ActionError::Store(e) => e.into(),
            ActionError::Append(AppendError::Unencodable) => ApiError::internal(),
            ActionError::Append(AppendError::Erased) => {
                ApiError::new(ErrorCode::Forbidden, e.to_string())
            }
            ActionError::Append(e) => ApiError::unavailable(e),
        }
    }
}

fn event(
    state: &AppState,
    c: ConversationId,
    actor: UserId,
    payload: Payload,
) -> ConversationEvent {
    ConversationEvent {
        event_id: Uuid::new_v4(),
        conversation_id: c,
        actor_id: actor,
        occurred_at: UnixMillis::now(),
        gateway_id: state.settings.gateway_id.clone(),
        payload,
        sealed: None,
    }
}

async fn require_member(
    state: &AppState,
    c: ConversationId,
    u: UserId,
) -> Result<Membership, ActionError> {
    state
        .membership
        .membership(c, u)
        .await?
        .ok_or(ActionError::NotMember)
}

/// After Kafka acknowledged: failures to update Redis are logged, never reported, since
/// the event *is* in the log and the client must get its ack.
fn after_ack(what: &str, result: Result<(), StoreError>) {
    if let Err(e) = result {
        tracing::warn!(what, error = %e, "write-through after append failed");
    }
}

/// Run `append` under the dedup reservation of `action`, answering a retry with the
/// first attempt's ack. When the reservation was taken over from an attempt that never
/// finished, `earlier` looks for that attempt's result in the projections first (it
/// may have reached the log before its gateway died): found, it is the answer.
async fn deduplicated<F, Fut, E, EFut>(
    state: &AppState,
    action: MessageId,
    earlier: E,
    append: F,
) -> Result<Ack, ActionError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Ack, ActionError>>,
    E: FnOnce() -> EFut,
    EFut: std::future::Future<Output = Result<Option<Ack>, ActionError>>,
{
    let claim = match state.dedup.reserve::<Ack>(action).await? {
        Reservation::Done(ack) => {
            metrics::counter!("gateway_dedup_hits_total").increment(1);
            return Ok(ack);
        }
        Reservation::InFlight => {
            return Err(ActionError::InFlight(
                "an earlier attempt with this client_msg_id is still in flight",
            ))
        }
        Reservation::Acquired(claim) => claim,
        Reservation::Retaken(claim) => {
            metrics::counter!("gateway_dedup_retaken_total").increment(1);
            match earlier().await {
                Ok(Some(ack)) => {
                    metrics::counter!("gateway_dedup_hits_total").increment(1);
                    after_ack("dedup", state.dedup.complete(action, &ack).await);
                    return Ok(ack);
                }
                Ok(None) => claim,
                Err(e) => {
                    // Still unknown whether the earlier attempt is in the log.
                    state.dedup.mark_uncertain(action, claim).await;
                    return Err(e);
                }
            }
        }
    };
    match append().await {
        Ok(ack) => {
            after_ack("dedup", state.dedup.complete(action, &ack).await);
            metrics::counter!("gateway_acks_total").increment(1);
            Ok(ack)
        }
        // Kafka did not answer in time: the record may be in the log all the same (a
        // leader that appended it and died before acknowledging). The retry must look.
        Err(e @ ActionError::Append(AppendError::LogUnreachable)) => {
            state.dedup.mark_uncertain(action, claim).await;
            Err(e)
        }
        Err(e) => {
            state.dedup.release(action, claim).await;
            Err(e)
        }
    }
}

/// For actions whose earlier attempt cannot be found in a projection (edits, deletes:
/// applying one twice changes nothing), a retaken reservation appends again.
async fn nothing_earlier() -> Result<Option<Ack>, ActionError> {
    Ok(None)
}
