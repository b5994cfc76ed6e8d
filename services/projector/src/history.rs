//! `--role history`: the log into the CQL history tables (`chat_store::history`).

use chat_store::history::apply::Record;
use chat_store::{Applier, HistoryStore, Rejection};

use crate::error::ProjectionError;
use crate::runner::Projection;

pub struct History {
    pub store: HistoryStore,
    /// `[groups] who_may_add`: additions are re-checked with the gateway's policy.
    pub who_may_add: chat_core::rules::WhoMayAdd,
}

impl Projection for History {
    type Event = chat_core::events::ConversationEvent;

    async fn apply(&self, records: Vec<Record>) -> Result<Vec<Rejection>, ProjectionError> {
        Ok(Applier::new(&self.store)
            .who_may_add(self.who_may_add)
            .apply(records)
            .await?)
    }
}
