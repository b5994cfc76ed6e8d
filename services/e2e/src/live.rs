//! Live-delivery harness: a private stack per test and a client that follows the
//! protocol's gap rules.
//!
//! Each [`LiveStack`] gets its own topic prefix (its own topics, created by `chatctl
//! init`), so its fanout and presence roles see only its own traffic: stopping one
//! test's fanout really stops delivery for that test, whatever else runs at the time.
//! The CQL keyspace and Redis are shared; every test uses fresh users and conversations.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{chatctl_with, settings, Api, Gateway, Projector, User, Ws};

pub struct LiveStack {
    pub env: Vec<(String, String)>,
    pub gateways: Vec<Gateway>,
    pub history: Projector,
    pub fanout: Option<Projector>,
    pub presence: Projector,
    pub tag: String,
}

impl LiveStack {
    /// Topics, the three projector roles and `gateways` gateways; presence sessions
    /// expire after `presence_ttl_secs`, the fanout skips events older than
    /// `stale_after_secs`; presence frames go through conversations of at most two.
    pub async fn start(gateways: usize, presence_ttl_secs: u64, stale_after_secs: u64) -> Self {
        Self::start_with(gateways, presence_ttl_secs, stale_after_secs, &[]).await
    }

    /// [`LiveStack::start`] with extra environment for every process (another Redis,
    /// say).
    pub async fn start_with(
        gateways: usize,
        presence_ttl_secs: u64,
        stale_after_secs: u64,
        extra_env: &[(&str, &str)],
    ) -> Self {
        let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
        let mut env: Vec<(String, String)> = vec![
            ("CHAT__KAFKA__TOPIC_PREFIX".into(), format!("t{tag}.")),
            ("CHAT__KAFKA__PARTITIONS".into(), "3".into()),
            (
                "CHAT__PRESENCE__TTL_SECS".into(),
                presence_ttl_secs.to_string(),
            ),
            // Small, so a three-person group already carries no presence frames.
            ("CHAT__PRESENCE__MAX_GROUP_MEMBERS".into(), "2".into()),
            ("CHAT__CQL__KEYSPACE".into(), settings().cql.keyspace),
            (
                "CHAT__FANOUT__STALE_AFTER_SECS".into(),
                stale_after_secs.to_string(),
            ),
        ];
        env.extend(
            extra_env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        chatctl_with(&pairs, &["init"]);
        let mut stack = LiveStack {
            history: Projector::start_with("history", &format!("h-{tag}"), &pairs, &[]),
            presence: Projector::start_with("presence", &format!("p-{tag}"), &pairs, &[]),
            fanout: None,
            gateways: Vec::new(),
            env: env.clone(),
            tag,
        };
        stack.start_fanout();
        for i in 0..gateways {
            stack
                .gateways
                .push(Gateway::start_with(&format!("live{}", i + 1), &pairs).await);
        }
        stack
    }

    /// The stack's environment as the `(name, value)` pairs the harness takes.
    pub fn env_pairs(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    pub fn start_fanout(&mut self) {
        let fanout =
            Projector::start_with("fanout", &format!("f-{}", self.tag), &self.env_pairs(), &[]);
        self.fanout = Some(fanout);
    }

    pub fn stop_fanout(&mut self) {
        if let Some(mut f) = self.fanout.take() {
            f.stop();
        }
    }

    pub fn api(&self, gateway: usize) -> Api {
        Api::new(&self.gateways[gateway])
    }
}

/// A WebSocket client that keeps a position per conversation and applies the
/// protocol's rules: drop what it already has, apply what follows, and on a gap hold
/// the event back and `sync`.
pub struct Client {
    pub ws: Ws,
    pub name: String,
    positions: HashMap<String, i64>,
    /// Applied events per conversation, in the order applied.
    pub events: HashMap<String, Vec<Value>>,
    pub typing: Vec<Value>,
    pub presence: Vec<Value>,
    /// Acks, errors and anything else not covered above.
    pub other: Vec<Value>,
    pub gaps: usize,
    pub duplicates: usize,
    held: Vec<Value>,
    syncing: bool,
}

impl Client {
    /// Connect and wait for the first answer, so the live subscription is in place.
    pub async fn connect(g: &Gateway, user: &User, name: &str) -> Client {
        let mut ws = Ws::connect(g, &user.token).await;
        let pong = ws.request(json!({"type": "ping"})).await;
        assert_eq!(pong["type"], "pong", "{name}: {pong}");
        Client {
            ws,
            name: name.to_string(),
            positions: HashMap::new(),
            events: HashMap::new(),
            typing: Vec::new(),
            presence: Vec::new(),
            other: Vec::new(),
            gaps: 0,
            duplicates: 0,
            held: Vec::new(),
            syncing: false,
        }
    }

    async fn handle(&mut self, frame: Value) {
        match frame["type"].as_str() {
            Some("event") => self.on_event(frame).await,
            Some("synced") => {
                if let Some(p) = frame["positions"].as_object() {
                    for (c, pos) in p {
                        let pos = pos.as_i64().unwrap_or(-1);
                        let at = self.positions.entry(c.clone()).or_insert(pos);
                        *at = (*at).max(pos);
                    }
                }
                self.syncing = false;
                let held = std::mem::take(&mut self.held);
                if !held.is_empty() {
                    // History may still trail the event that showed the gap.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                for e in held {
                    Box::pin(self.on_event(e)).await;
                }
            }
            Some("typing") => self.typing.push(frame),
            Some("presence") => self.presence.push(frame),
            _ => self.other.push(frame),
        }
    }

    async fn on_event(&mut self, e: Value) {
        let c = e["conversation_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let seq = e["seq"].as_i64().expect("event seq");
        let prev = e["prev_seq"].as_i64();
        let replayed = e["replayed"].as_bool().unwrap_or(false);
        let position = self.positions.get(&c).copied();
        if position.is_some_and(|p| seq <= p) {
            self.duplicates += 1;
            return;
        }
        let follows = match (position, prev) {
            (None, _) | (_, None) => true,
            (Some(p), Some(prev)) => prev <= p,
        };
        if follows || replayed {
            self.positions.insert(c.clone(), seq);
            self.events.entry(c).or_default().push(e);
            return;
        }
        self.gaps += 1;
        self.held.push(e);
        if !self.syncing {
            self.syncing = true;
            let from = position.unwrap_or(-1);
            self.ws
                .send(json!({"type": "sync", "positions": {c: from}}))
                .await;
        }
    }

    /// Read and handle frames until `done` holds (panics after `within`).
    pub async fn until(&mut self, what: &str, within: Duration, done: impl Fn(&Client) -> bool) {
        let deadline = Instant::now() + within;
        while !done(self) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "{}: timed out waiting for {what}",
                self.name
            );
            let frame = match tokio::time::timeout(left, self.ws.next()).await {
                Ok(f) => f,
                Err(_) => panic!("{}: timed out waiting for {what}", self.name),
            };
            self.handle(frame).await;
        }
    }

    /// Handle whatever arrives for `quiet` (to see that nothing more comes).
    pub async fn drain(&mut self, quiet: Duration) {
        let deadline = Instant::now() + quiet;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            match tokio::time::timeout(left, self.ws.next()).await {
                Ok(f) => self.handle(f).await,
                Err(_) => return,
            }
        }
    }

    /// Send and wait for this frame's ack (handling whatever else arrives meanwhile).
    pub async fn send_and_ack(&mut self, frame: Value) -> Value {
        let reference = frame["client_msg_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        self.ws.send(frame).await;
        let mut found = None;
        let deadline = Instant::now() + Duration::from_secs(15);
        while found.is_none() {
            assert!(
                Instant::now() < deadline,
                "{}: no ack for {reference}",
                self.name
            );
            let f = self.ws.next().await;
            let is_answer = matches!(f["type"].as_str(), Some("ack") | Some("error"))
                && (f["client_msg_id"] == reference.as_str() || f["ref"] == reference.as_str());
            if is_answer {
                found = Some(f);
            } else {
                self.handle(f).await;
            }
        }
        let answer = found.unwrap_or(Value::Null);
        assert_eq!(answer["type"], "ack", "{}: {answer}", self.name);
        answer
    }

    /// The applied events of a conversation of one kind.
    pub fn of_kind(&self, c: &str, kind: &str) -> Vec<&Value> {
        self.events
            .get(c)
            .map(|es| es.iter().filter(|e| e["event"]["kind"] == kind).collect())
            .unwrap_or_default()
    }

    /// message_id -> how many times it was applied as message_sent.
    pub fn message_counts(&self, c: &str) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for e in self.of_kind(c, "message_sent") {
            let id = e["event"]["message_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            *counts.entry(id).or_insert(0) += 1;
        }
        counts
    }

    /// The seqs of the applied events of a conversation, in the order applied.
    pub fn seqs(&self, c: &str) -> Vec<i64> {
        self.events
            .get(c)
            .map(|es| es.iter().filter_map(|e| e["seq"].as_i64()).collect())
            .unwrap_or_default()
    }
}

pub fn send(conversation: &str, client_msg_id: &str, body: &str) -> Value {
    json!({"type": "send", "conversation_id": conversation, "client_msg_id": client_msg_id, "body": body})
}
