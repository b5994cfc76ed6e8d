//! Who is in a conversation, as the roles that address members need it: the gateways'
//! write-through set in Redis (`conv:{c}:members`, current as soon as Kafka acked the
//! membership change), and the CQL projection for conversations Redis has no record of.

use std::collections::HashSet;
use std::sync::Arc;

use chat_core::ids::{ConversationId, UserId};
use chat_core::live;
use chat_history::HistoryStore;
use redis::aio::ConnectionManager;

#[derive(Clone)]
pub struct Members {
    pub redis: ConnectionManager,
    pub history: Arc<HistoryStore>,
}

impl Members {
    /// The members of each conversation, in the order given.
    pub async fn of(
        &self,
        conversations: &[ConversationId],
    ) -> Result<Vec<HashSet<UserId>>, String> {
        if conversations.is_empty() {
            return Ok(vec![]);
        }
        let mut redis = self.redis.clone();
        let mut pipe = redis::pipe();
        for c in conversations {
            pipe.smembers(live::members_key(*c));
        }
        let sets: Vec<Vec<String>> = pipe
            .query_async(&mut redis)
            .await
            .map_err(|e| format!("redis: {e}"))?;
        let mut out = Vec::with_capacity(sets.len());
        for (c, set) in conversations.iter().zip(sets) {
            let mut members: HashSet<UserId> = live::user_ids(&set).collect();
            if members.is_empty() {
                members = self
                    .history
                    .members(c.0)
                    .await
                    .map_err(|e| format!("cql: {e}"))?
                    .into_iter()
                    .map(|m| UserId(m.user_id))
                    .collect();
            }
            out.push(members);
        }
        Ok(out)
    }
}
