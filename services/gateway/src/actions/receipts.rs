//! Read and delivered pointers.

use chat_core::events::Payload;
use chat_core::ids::{ConversationId, UserId};
pub use chat_store::pointers::Pointer;

use super::{after_ack, event, require_member, ActionError};
use crate::state::AppState;

/// Move a read or delivered pointer forward. A pointer at or behind the one already
/// recorded appends nothing.
pub async fn mark(
    state: &AppState,
    user: UserId,
    c: ConversationId,
    pointer: Pointer,
    up_to_seq: i64,
) -> Result<(), ActionError> {
    if up_to_seq < 0 {
        return Err(ActionError::NegativePointer);
    }
    require_member(state, c, user).await?;
    let current = state.pointers.current(pointer, c, user).await?;
    if current.is_some_and(|cur| cur >= up_to_seq) {
        return Ok(());
    }
    let payload = match pointer {
        Pointer::Read => Payload::ReadUpTo { seq: up_to_seq },
        Pointer::Delivered => Payload::DeliveredUpTo { seq: up_to_seq },
    };
    state
        .appender
        .append(&event(state, c, user, payload))
        .await?;
    after_ack(
        "pointer",
        state.pointers.raise(pointer, c, user, up_to_seq).await,
    );
    Ok(())
}
