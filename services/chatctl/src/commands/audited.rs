//! Operator actions are audited fail-closed: the action is done first (each is
//! idempotent), then its record is written and acknowledged; if that fails the command
//! fails, saying the action happened but is not recorded, and running it again records
//! it.

use anyhow::{Context, Result};
use chat_core::audit::AuditLog;
use chat_core::events::AuditEvent;

pub async fn record(audit: &AuditLog, event: AuditEvent, done: &str) -> Result<()> {
    audit.record(event).await.with_context(|| {
        format!(
            "{done}; but its audit record could not be written to {}: run the command \
             again once Kafka and the registry answer, to record it",
            audit.topic()
        )
    })
}
