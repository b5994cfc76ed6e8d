//! `--role history`: the log into the CQL history tables (`chat_store::history`).

use chat_store::history::apply::Record;
use chat_store::{Applier, HistoryStore, Rejection};

use crate::error::ProjectionError;
use crate::runner::Projection;

pub struct History {
    pub store: HistoryStore,
}

impl Projection for History {
    type Event = chat_core::events::ConversationEvent;

    async fn apply(&self, records: Vec<Record>) -> Result<Vec<Rejection>, ProjectionError> {
        Ok(Applier::new(&self.store).apply(records).await?)
    }
}
