//! Live delivery over Redis pub/sub, routed by gateway.
//!
//! Every gateway has one channel ([`keys::gateway_channel`]) and, for each user whose
//! sockets it holds, its id in that user's route set (`live:route:{u}`). A publisher
//! renders a frame once and publishes it once per gateway holding any of its
//! recipients, prefixed with the list of those recipients ([`RoutedFrame`]): a frame for
//! a 1,000-member group whose members sit on 3 gateways is 3 publishes, not 1,000, and
//! each gateway copies it to its own sockets. A recipient with no socket anywhere costs
//! a set lookup and no publish.
//!
//! The routing is done inside one script call, so it is atomic with the gateways' route
//! changes: a gateway that added a user's route before the call gets the frame. A
//! gateway subscribes to its channel before it adds any route, so a route always leads
//! to a listener, except when that gateway is gone: a publish nobody received removes
//! the gateway from the routes of the users it was for. A gateway whose subscriber was
//! only disconnected adds all its routes again once it is back, then tells its sockets
//! to resync (frames published meanwhile are lost, as they were without routing).
//!
//! The fanout role also keeps the `prev_seq` chain here: the last seq published per
//! conversation (`fanout:last:{c}`). A chunk's publishes and its new `last` values are
//! written by one script that first checks the `last` values are still the ones the
//! chunk was planned from, so each event is published once even when a chunk is applied
//! twice (a crash before the offset commit, a rebalance, two fanout groups): the second
//! attempt finds `last` moved and publishes nothing.
//!
//! Not cluster-ready: the scripts touch the route sets of many users, which a Redis
//! Cluster would spread over slots.

use std::sync::{Arc, LazyLock};

use chat_core::ids::{ConversationId, UserId};
use redis::aio::ConnectionManager;
use redis::Script;

use crate::error::StoreError;
use crate::keys;

/// Shared by both scripts. ARGV[1] is the route key prefix, ARGV[2] the gateway
/// channel prefix. `deliver(frame, first, n)` publishes `frame` to the gateways of the
/// users `ARGV[first .. first + n - 1]`, once per gateway, and returns how many of them
/// it reached. Routes are read once per call, however many frames a user gets.
const ROUTING: &str = r#"
local route_prefix, channel_prefix = ARGV[1], ARGV[2]
local routes = {}
local function gateways_of(user)
  local r = routes[user]
  if r == nil then
    r = redis.call('SMEMBERS', route_prefix .. user)
    routes[user] = r
  end
  return r
end
local function deliver(frame, first, n)
  local users_of, order = {}, {}
  for j = first, first + n - 1 do
    local u = ARGV[j]
    for _, g in ipairs(gateways_of(u)) do
      local list = users_of[g]
      if list == nil then
        list = {}
        users_of[g] = list
        order[#order + 1] = g
      end
      list[#list + 1] = u
    end
  end
  local reached = 0
  for _, g in ipairs(order) do
    local list = users_of[g]
    if redis.call('PUBLISH', channel_prefix .. g, table.concat(list, ',') .. '\n' .. frame) > 0 then
      reached = reached + #list
    else
      -- Nobody listens on that gateway's channel: the gateway is gone.
      for _, u in ipairs(list) do
        redis.call('SREM', route_prefix .. u, g)
        routes[u] = nil
      end
    end
  end
  return reached
end
"#;

/// ARGV[3]: the frame; ARGV[4..]: the users it is for.
const PUBLISH: &str = r#"
return deliver(ARGV[3], 4, #ARGV - 3)
"#;

/// KEYS: the `last` key of each conversation. ARGV from 3: for each conversation, the
/// value it is expected to hold ('' for none), the new value, and how many events
/// follow; then each event as its frame, its number of recipients and their ids.
/// Conversations whose `last` moved are skipped whole. Returns how many recipients
/// were reached.
const PUBLISH_CHAIN: &str = r#"
local a = 3
local reached = 0
for i, key in ipairs(KEYS) do
  local expected = ARGV[a]
  local new = ARGV[a + 1]
  local events = tonumber(ARGV[a + 2])
  a = a + 3
  local current = redis.call('GET', key) or ''
  local apply = current == expected
  for e = 1, events do
    local frame = ARGV[a]
    local n = tonumber(ARGV[a + 1])
    a = a + 2
    if apply then
      reached = reached + deliver(frame, a, n)
    end
    a = a + n
  end
  if apply then
    redis.call('SET', key, new)
  end
end
return reached
"#;

static PUBLISH_SCRIPT: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("{ROUTING}{PUBLISH}")));
static CHAIN_SCRIPT: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("{ROUTING}{PUBLISH_CHAIN}")));

fn routed(script: &Script) -> redis::ScriptInvocation<'_> {
    let mut invocation = script.prepare_invoke();
    invocation
        .arg(keys::ROUTE_PREFIX)
        .arg(keys::GATEWAY_CHANNEL_PREFIX);
    invocation
}

/// Publish one rendered frame to each of `users` that has a socket somewhere, in one
/// round trip. Returns how many were reached.
pub async fn publish_to_users(
    redis: &ConnectionManager,
    users: impl IntoIterator<Item = UserId>,
    frame: &str,
) -> Result<i64, StoreError> {
    let mut invocation = routed(&PUBLISH_SCRIPT);
    invocation.arg(frame);
    let mut any = false;
    for u in users {
        invocation.arg(u.to_string());
        any = true;
    }
    if !any {
        return Ok(0);
    }
    Ok(invocation.invoke_async(&mut redis.clone()).await?)
}

/// The gateways a user's route names (for diagnostics and tests).
pub async fn gateways_of(
    redis: &ConnectionManager,
    user: UserId,
) -> Result<Vec<String>, StoreError> {
    Ok(redis::cmd("SMEMBERS")
        .arg(keys::route(user))
        .query_async(&mut redis.clone())
        .await?)
}

/// A message on a gateway's channel: the users it is for, then the frame, verbatim.
#[derive(Debug, PartialEq)]
pub struct RoutedFrame<'a> {
    pub users: Vec<UserId>,
    pub frame: &'a str,
}

impl<'a> RoutedFrame<'a> {
    /// `user,user,...\nframe` (written by [`ROUTING`]); ids that do not parse are
    /// skipped, a message without the newline is not ours.
    pub fn decode(message: &'a str) -> Option<Self> {
        let (users, frame) = message.split_once('\n')?;
        let users = users
            .split(',')
            .filter_map(|u| u.parse::<uuid::Uuid>().ok())
            .map(UserId)
            .collect();
        Some(Self { users, frame })
    }
}

/// The gateway's side of the routing: its id in the route sets of the users whose
/// sockets it holds.
pub struct Routes {
    gateway_id: String,
}

impl Routes {
    pub fn new(gateway_id: impl Into<String>) -> Self {
        Self {
            gateway_id: gateway_id.into(),
        }
    }

    /// The channel to subscribe to before adding any route.
    pub fn channel(&self) -> String {
        keys::gateway_channel(&self.gateway_id)
    }

    /// Frames for `users` come here from now on.
    pub async fn add(
        &self,
        redis: &mut ConnectionManager,
        users: impl IntoIterator<Item = UserId>,
    ) -> Result<(), StoreError> {
        // Pipelines of bounded size: a gateway back from a Redis outage adds the routes
        // of every user it holds (tens of thousands) at once.
        let mut pipe = redis::pipe();
        let mut queued = 0;
        for u in users {
            pipe.sadd(keys::route(u), &self.gateway_id).ignore();
            queued += 1;
            if queued == 1000 {
                pipe.query_async::<()>(redis).await?;
                pipe = redis::pipe();
                queued = 0;
            }
        }
        if queued > 0 {
            pipe.query_async::<()>(redis).await?;
        }
        Ok(())
    }

    /// Frames for `user` no longer come here.
    pub async fn remove(
        &self,
        redis: &mut ConnectionManager,
        user: UserId,
    ) -> Result<(), StoreError> {
        redis::cmd("SREM")
            .arg(keys::route(user))
            .arg(&self.gateway_id)
            .query_async::<()>(redis)
            .await?;
        Ok(())
    }
}

/// A stretch of one conversation's chain: published if `last` still holds `expected`,
/// after which it holds `new`.
#[derive(Debug, PartialEq)]
pub struct ChainSegment {
    pub conversation: ConversationId,
    pub expected: Option<i64>,
    pub new: i64,
    /// Each event's frame and who it goes to.
    pub events: Vec<(Arc<str>, Vec<UserId>)>,
}

/// The `prev_seq` chain of live delivery.
#[derive(Clone)]
pub struct FanoutChain {
    redis: ConnectionManager,
}

impl FanoutChain {
    pub fn new(redis: ConnectionManager) -> Self {
        Self { redis }
    }

    /// The last seq published of each conversation, in the order given.
    pub async fn lasts(
        &self,
        conversations: &[ConversationId],
    ) -> Result<Vec<Option<i64>>, StoreError> {
        if conversations.is_empty() {
            return Ok(vec![]);
        }
        let keys: Vec<String> = conversations
            .iter()
            .map(|c| keys::fanout_last(*c))
            .collect();
        Ok(redis::cmd("MGET")
            .arg(keys)
            .query_async(&mut self.redis.clone())
            .await?)
    }

    /// One script call: each segment's publishes and its new `last`, if `last` still
    /// holds what the segment expects. Returns how many recipients were reached.
    pub async fn publish(&self, segments: &[ChainSegment]) -> Result<i64, StoreError> {
        let mut invocation = routed(&CHAIN_SCRIPT);
        for s in segments {
            invocation
                .key(keys::fanout_last(s.conversation))
                .arg(s.expected.map(|l| l.to_string()).unwrap_or_default())
                .arg(s.new)
                .arg(s.events.len());
            for (frame, recipients) in &s.events {
                invocation.arg(frame.as_ref()).arg(recipients.len());
                for u in recipients {
                    invocation.arg(u.to_string());
                }
            }
        }
        Ok(invocation.invoke_async(&mut self.redis.clone()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_routed_frame_names_its_users_then_carries_the_frame_verbatim() {
        let a = UserId(uuid::Uuid::from_u128(1));
        let b = UserId(uuid::Uuid::from_u128(2));
        let message = format!("{a},{b}\n{{\"type\":\"event\",\"text\":\"a\\nb\"}}");
        let routed = RoutedFrame::decode(&message).expect("routed");
        assert_eq!(routed.users, [a, b]);
        assert_eq!(routed.frame, "{\"type\":\"event\",\"text\":\"a\\nb\"}");
    }

    #[test]
    fn unreadable_ids_are_skipped_and_a_message_without_users_is_not_routed() {
        let a = UserId(uuid::Uuid::from_u128(1));
        let message = format!("nope,{a}\n{{}}");
        assert_eq!(RoutedFrame::decode(&message).expect("routed").users, [a]);
        assert_eq!(RoutedFrame::decode("{}"), None);
    }
}
