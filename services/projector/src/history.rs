//! `--role history`: the log into the CQL history tables (see the `chat-history` crate).

use chat_history::apply::Record;
use chat_history::{Applier, HistoryStore, Rejection};

use crate::runner::Projection;

pub struct History {
    pub store: HistoryStore,
}

impl Projection for History {
    type Event = chat_core::events::ConversationEvent;

    async fn apply(&self, records: Vec<Record>) -> Result<Vec<Rejection>, String> {
        Applier::new(&self.store)
            .apply(records)
            .await
            .map_err(|e| e.to_string())
    }
}
