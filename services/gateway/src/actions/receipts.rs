//! Read and delivered pointers.

use chat_core::events::Payload;
use chat_core::ids::{ConversationId, UserId};
pub use chat_store::pointers::Pointer;

use super::{after_ack, event, require_member, ActionError};
use crate::state::AppState;

/// Move a read or delivered pointer forward. A pointer at or behind the one already
/// recorded appends nothing; one beyond the log's end counts as the end (see below).
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
    let seq = state
        .appender
        .append(&event(state, c, user, payload))
        .await?;
    // Nothing after this receipt's own place in the log can have been read or delivered
    // yet; a pointer claimed beyond it is recorded at it (as history and the live frame
    // render it), so a claim of the maximum i64 cannot silence later real receipts.
    after_ack(
        "pointer",
        state
            .pointers
            .raise(pointer, c, user, up_to_seq.min(seq))
            .await,
    );
    Ok(())
}
