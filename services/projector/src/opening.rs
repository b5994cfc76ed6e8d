//! Opening sealed content in the roles that need it in the clear (fanout frames,
//! notification mentions, the search index): one rule for what a failure means.

use chat_core::events::ConversationEvent;
use chat_store::keyring::{Keyring, Opened};

use crate::error::ProjectionError;

/// Open `event` in place. Content whose key is destroyed stays empty (`Erased`).
/// Content that can never open (tampered or truncated bytes) is treated the same, with a
/// warning and a counter, so one bad record never stops a role; a store or KMS that
/// does not answer is an error, and the chunk is applied again.
pub async fn open(
    keyring: &Keyring,
    event: &mut ConversationEvent,
) -> Result<Opened, ProjectionError> {
    match keyring.open_event(event).await {
        Ok(opened) => Ok(opened),
        Err(e) if e.is_permanent() => {
            tracing::warn!(event_id = %event.event_id, error = %e, "sealed content does not open; handled as erased");
            metrics::counter!("sealed_content_unreadable_total").increment(1);
            Ok(Opened::Erased)
        }
        Err(e) => Err(e.into()),
    }
}
