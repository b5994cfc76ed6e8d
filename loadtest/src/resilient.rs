//! A client that follows every rule of the protocol (services/gateway/PROTOCOL.md) across
//! faults, for the `faults` scenario: one member of one conversation on one socket.
//!
//! - The gap rule ([`GapRule`]): duplicates dropped, a gap held and `sync`ed, released on
//!   `synced`; a `synced` that falls short is followed by another `sync` after a short
//!   delay.
//! - An outbox ([`Outbox`]): every send stays pending until its `ack`. An `unavailable`
//!   answer is counted and the send is retried after a backoff with the same
//!   client_msg_id; after a reconnect every pending send goes again with its id (the
//!   gateway answers a retry with the first ack). Any other error is a failure.
//! - When the socket closes or fails (a gateway killed, close 1012 after Redis was lost,
//!   1001 on shutdown), it reconnects with a jittered backoff to the next gateway in
//!   turn, waits for the first `pong`, `sync`s from its position, then resends.
//! - It records every event it applies (by message key) and whether the applied seqs
//!   ever went backwards.
//!
//! The outbox and the record of what was applied are pure and unit-tested; the loop
//! around them only moves frames.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, ConnectError, Connector, Frame, Ws};
use crate::gap_rule::{GapRule, Received};
use crate::tracker::Tracker;

/// A send in flight with no answer for this long is sent again (same client_msg_id): the
/// gateway may have refused it without saying which (`rate_limited`), or the frame went
/// down with a socket that has not noticed yet.
pub const STALE_AFTER: Duration = Duration::from_secs(15);
/// A `sync` with no `synced` for this long is sent again.
const SYNC_STALE_AFTER: Duration = Duration::from_secs(30);
/// A `synced` that did not close every gap is followed by another `sync` after this.
const SYNC_AGAIN_AFTER: Duration = Duration::from_secs(1);
/// Resends put on the socket per 100 ms housekeeping tick at most (the gateway allows
/// 50 frames/s per connection on average).
const RESENDS_PER_TICK: usize = 4;
/// A write that does not complete in this time counts as a dead socket.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// One send waiting for its ack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// Times it was put on a socket.
    pub attempts: u32,
    /// When it was last put on a socket.
    pub last_sent: Option<Instant>,
    /// When to send it (again); None while an attempt is in flight.
    pub retry_at: Option<Instant>,
}

/// The client's sends until their acks, keyed by the number in `<client>-<n>`.
#[derive(Default, Debug)]
pub struct Outbox {
    pending: BTreeMap<u64, Pending>,
    /// Sends that got their ack.
    pub acked: u64,
    /// `unavailable` answers to our sends.
    pub unavailable: u64,
    /// Sends given up on because of another error code.
    pub failed: u64,
    /// Acks for nothing pending (an answer to a retry that raced the first ack).
    pub extra_acks: u64,
}

impl Outbox {
    /// A new send, to go out at once.
    pub fn add(&mut self, n: u64, now: Instant) {
        self.pending.insert(
            n,
            Pending {
                attempts: 0,
                last_sent: None,
                retry_at: Some(now),
            },
        );
    }

    /// `n` is being put on the socket. True on its first attempt.
    pub fn sent(&mut self, n: u64, now: Instant) -> bool {
        let Some(p) = self.pending.get_mut(&n) else {
            return false;
        };
        p.attempts += 1;
        p.last_sent = Some(now);
        p.retry_at = None;
        p.attempts == 1
    }

    /// Its ack came. True when it was pending.
    pub fn ack(&mut self, n: u64) -> bool {
        if self.pending.remove(&n).is_some() {
            self.acked += 1;
            true
        } else {
            self.extra_acks += 1;
            false
        }
    }

    /// An `unavailable` answer: counted; the send (when still pending) goes again after
    /// `backoff`.
    pub fn unavailable(&mut self, n: u64, now: Instant, backoff: Duration) -> bool {
        self.unavailable += 1;
        match self.pending.get_mut(&n) {
            Some(p) => {
                p.retry_at = Some(now + backoff);
                true
            }
            None => false,
        }
    }

    /// Another error: the send is given up.
    pub fn failed(&mut self, n: u64) -> bool {
        let was = self.pending.remove(&n).is_some();
        self.failed += u64::from(was);
        was
    }

    /// The socket is new: every pending send goes again now.
    pub fn reconnected(&mut self, now: Instant) {
        for p in self.pending.values_mut() {
            p.retry_at = Some(now);
        }
    }

    /// What to put on the socket now, oldest first: sends whose time has come, and sends
    /// in flight for `stale` with no answer.
    pub fn due(&self, now: Instant, stale: Duration) -> Vec<u64> {
        self.pending
            .iter()
            .filter(|(_, p)| match p.retry_at {
                Some(t) => t <= now,
                None => p
                    .last_sent
                    .is_none_or(|s| now.saturating_duration_since(s) >= stale),
            })
            .map(|(&n, _)| n)
            .collect()
    }

    pub fn attempts(&self, n: u64) -> u32 {
        self.pending.get(&n).map_or(0, |p| p.attempts)
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Pending sends never put on a socket.
    pub fn never_sent(&self) -> usize {
        self.pending.values().filter(|p| p.attempts == 0).count()
    }
}

/// What one member applied in its conversation, after the gap rule.
#[derive(Default, Debug)]
pub struct Applied {
    /// Times each message key was applied: more than once is a duplicate.
    pub keys: HashMap<String, u32>,
    /// The highest seq applied.
    pub max_seq: Option<i64>,
    /// Events applied at or below a seq applied before them.
    pub out_of_order: u64,
    pub events: u64,
    /// Message keys the rule dropped as duplicates (seq at or below the position), with
    /// the seq they came with: a key here that was never applied shows the position
    /// passed it without it.
    pub dropped: HashMap<String, i64>,
}

impl Applied {
    /// Apply one event; true when it is the first time this message key is applied.
    pub fn apply(&mut self, key: Option<&str>, seq: i64) -> bool {
        self.events += 1;
        match self.max_seq {
            Some(m) if seq <= m => self.out_of_order += 1,
            _ => self.max_seq = Some(seq),
        }
        let Some(key) = key else { return false };
        let n = self.keys.entry(key.to_string()).or_insert(0);
        *n += 1;
        *n == 1
    }
}

/// Where the run is; every client watches it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Phase {
    /// New messages are sent.
    Sending,
    /// No new messages; pending sends are retried, gaps repaired.
    Settling,
    /// Every client sends one last `sync` and stops once it is answered with no gap open.
    FinalSync,
    Stop,
}

pub struct Spec {
    /// Client number: its client_msg_ids are `<index>-<n>`.
    pub index: usize,
    pub conversation: usize,
    pub conversation_id: String,
    pub token: String,
    pub gateways: Vec<String>,
    /// Index into `gateways` of the socket it starts with; reconnects go to the next.
    pub gateway: usize,
    /// Interval between its new messages.
    pub every: Duration,
    pub first_send: Instant,
    pub until: Instant,
    pub body_bytes: usize,
    /// Discard the frames that come before a new socket's pong.
    pub drop_before_pong: bool,
}

/// What one client saw, for the accounting.
#[derive(Debug)]
pub struct Outcome {
    pub index: usize,
    pub applied: Applied,
    pub outbox: Outbox,
    /// Distinct client_msg_ids put on a socket.
    pub sent: u64,
    /// Messages of others first applied through a `sync` (replayed).
    pub replayed: u64,
    /// ... of which by the final sync.
    pub by_final_sync: u64,
    pub reconnects: u64,
    /// Why sockets ended: `close_<code>`, `reset`, `eof`, `write_failed`.
    pub closes: BTreeMap<String, u64>,
    /// Failed reconnect attempts by code.
    pub connect_failures: BTreeMap<String, u64>,
    /// Error frames other than `unavailable` for a send, by code.
    pub failures: BTreeMap<String, u64>,
    pub syncs: u64,
    pub gaps: u64,
    pub final_synced: bool,
    /// Frames that came on a new socket before its first `pong`.
    pub early_frames: u64,
    /// What the client did, one line each (events with their verdicts, syncs, synced,
    /// reconnects), the last [`TRACE_LINES`]: written out for a member that missed a
    /// delivery.
    pub trace: std::collections::VecDeque<String>,
}

/// Lines of [`Outcome::trace`] kept per client.
pub const TRACE_LINES: usize = 20_000;

/// A new socket and the frames that came before its first `pong` (live events may:
/// the user's subscription is in place before the gateway reads the `ping`).
type Opened = (Ws, Vec<String>);
type Connecting = Pin<Box<dyn Future<Output = Result<Opened, ConnectError>> + Send>>;

/// Connect, `ping`, and read until the `pong`, keeping every frame before it.
async fn open(connector: &Connector, gateway: &str, token: &str) -> Result<Opened, ConnectError> {
    let fut = async {
        let mut ws = connector.connect(gateway, token).await?;
        ws.send(Message::text(client::PING))
            .await
            .map_err(|e| ConnectError::NoPong(e.to_string()))?;
        let mut early = Vec::new();
        while let Some(msg) = ws.next().await {
            let msg = msg.map_err(|e| ConnectError::NoPong(e.to_string()))?;
            if let Message::Text(t) = msg {
                if serde_json::from_str::<Frame>(&t).is_ok_and(|f| f.kind == "pong") {
                    return Ok((ws, early));
                }
                early.push(t.to_string());
            }
        }
        Err(ConnectError::NoPong("closed before the pong".into()))
    };
    tokio::time::timeout(Duration::from_secs(30), fut)
        .await
        .map_err(|_| ConnectError::Timeout)?
}

struct Client {
    spec: Spec,
    connector: Arc<Connector>,
    tracker: Arc<Tracker>,
    /// Sends not yet acked or failed, over all clients (the run waits for 0).
    outstanding: Arc<AtomicI64>,
    ws: Option<Ws>,
    connecting: Option<Connecting>,
    next_gateway: usize,
    reconnect_at: Option<Instant>,
    reconnect_attempt: u32,
    rule: GapRule<(Option<String>, i64, bool)>,
    sync_at: Option<Instant>,
    syncs_outstanding: u32,
    last_sync: Option<Instant>,
    final_sent: bool,
    next_n: u64,
    seed: u64,
    phase: Phase,
    out: Outcome,
    started: Instant,
}

/// Run one client until the phase is `Stop` (or, in `FinalSync`, until its last sync is
/// answered with every gap closed).
pub async fn run(
    spec: Spec,
    ws: Option<Ws>,
    connector: Arc<Connector>,
    tracker: Arc<Tracker>,
    outstanding: Arc<AtomicI64>,
    mut phase: watch::Receiver<Phase>,
) -> Outcome {
    let now = Instant::now();
    // Wrapping: a hash of the index, not arithmetic (debug builds check overflow).
    let seed = 0x9e37_79b9_7f4a_7c15
        ^ (spec.index as u64)
            .wrapping_add(1)
            .wrapping_mul(0x2545_f491_4f6c_dd1d);
    let mut c = Client {
        out: Outcome {
            index: spec.index,
            applied: Applied::default(),
            outbox: Outbox::default(),
            sent: 0,
            replayed: 0,
            by_final_sync: 0,
            reconnects: 0,
            closes: BTreeMap::new(),
            connect_failures: BTreeMap::new(),
            failures: BTreeMap::new(),
            syncs: 0,
            gaps: 0,
            final_synced: false,
            early_frames: 0,
            trace: std::collections::VecDeque::new(),
        },
        started: now,
        rule: GapRule::new(spec.conversation_id.clone()),
        next_gateway: spec.gateway + 1,
        reconnect_at: if ws.is_some() { None } else { Some(now) },
        ws,
        connecting: None,
        reconnect_attempt: 0,
        sync_at: None,
        syncs_outstanding: 0,
        last_sync: None,
        final_sent: false,
        next_n: 0,
        seed,
        phase: *phase.borrow(),
        spec,
        connector,
        tracker,
        outstanding,
    };
    let mut tick = tokio::time::interval_at(c.spec.first_send.into(), c.spec.every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut house = tokio::time::interval(Duration::from_millis(100));
    loop {
        c.phase = *phase.borrow();
        if c.phase == Phase::Stop || (c.phase == Phase::FinalSync && c.out.final_synced) {
            break;
        }
        let sending = c.phase == Phase::Sending && Instant::now() < c.spec.until;
        tokio::select! {
            _ = tick.tick(), if sending => c.new_message().await,
            _ = house.tick() => c.housekeeping().await,
            r = poll_connecting(&mut c.connecting) => {
                c.connecting = None;
                c.connected(r).await;
            }
            m = next_message(&mut c.ws) => c.on_message(m).await,
            changed = phase.changed() => {
                if changed.is_err() {
                    break;
                }
                c.phase = *phase.borrow();
                if c.phase == Phase::FinalSync && c.ws.is_some() && !c.final_sent {
                    c.final_sent = true;
                    c.send_sync().await;
                }
            }
        }
    }
    if let Some(mut ws) = c.ws.take() {
        let _ = tokio::time::timeout(Duration::from_secs(2), ws.send(Message::Close(None))).await;
        c.tracker.closed();
    }
    c.out
}

async fn poll_connecting(f: &mut Option<Connecting>) -> Result<Opened, ConnectError> {
    match f {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

type WsItem = Option<Result<Message, tokio_tungstenite::tungstenite::Error>>;

async fn next_message(ws: &mut Option<Ws>) -> WsItem {
    match ws {
        Some(ws) => ws.next().await,
        None => std::future::pending().await,
    }
}

impl Client {
    fn trace(&mut self, line: std::fmt::Arguments) {
        if self.out.trace.len() >= TRACE_LINES {
            self.out.trace.pop_front();
        }
        let t = self.started.elapsed().as_secs_f64();
        self.out.trace.push_back(format!("{t:8.3} {line}"));
    }

    fn id(&self, n: u64) -> String {
        format!("{}-{n}", self.spec.index)
    }

    /// The `n` of one of this client's client_msg_ids.
    fn own(&self, id: &str) -> Option<u64> {
        let (prefix, n) = id.split_once('-')?;
        if prefix != self.spec.index.to_string() {
            return None;
        }
        n.parse().ok()
    }

    /// A pseudo-random factor in [0.5, 1.5) (xorshift), so clients do not retry in step.
    fn jitter(&mut self, d: Duration) -> Duration {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        d.mul_f64(0.5 + (self.seed % 1000) as f64 / 1000.0)
    }

    async fn new_message(&mut self) {
        self.next_n += 1;
        self.out.outbox.add(self.next_n, Instant::now());
        self.outstanding.fetch_add(1, Ordering::Relaxed);
        self.flush(usize::MAX).await;
    }

    /// Put due sends on the socket (at most `max`).
    async fn flush(&mut self, max: usize) {
        if self.ws.is_none() {
            return;
        }
        let now = Instant::now();
        for n in self.out.outbox.due(now, STALE_AFTER).into_iter().take(max) {
            let id = self.id(n);
            if self.out.outbox.sent(n, now) {
                self.out.sent += 1;
                self.tracker.sent(id.clone(), self.spec.conversation);
            }
            let frame = json!({"type": "send", "conversation_id": self.spec.conversation_id,
                "client_msg_id": id, "body": client::body(&id, self.spec.body_bytes)});
            if !self.write(frame.to_string()).await {
                return;
            }
        }
    }

    async fn write(&mut self, text: String) -> bool {
        let Some(ws) = self.ws.as_mut() else {
            return false;
        };
        match tokio::time::timeout(WRITE_TIMEOUT, ws.send(Message::text(text))).await {
            Ok(Ok(())) => true,
            _ => {
                self.dropped("write_failed");
                false
            }
        }
    }

    async fn send_sync(&mut self) {
        let frame = json!({"type": "sync",
            "positions": {self.spec.conversation_id.as_str(): self.rule.position()}});
        self.sync_at = None;
        self.last_sync = Some(Instant::now());
        self.syncs_outstanding += 1;
        self.out.syncs += 1;
        let p = self.rule.position();
        self.trace(format_args!("sync sent from {p}"));
        self.write(frame.to_string()).await;
    }

    /// The socket is gone: reconnect after a jittered backoff.
    fn dropped(&mut self, why: &str) {
        self.trace(format_args!("socket ended: {why}"));
        if self.ws.take().is_some() {
            self.tracker.closed();
        }
        *self.out.closes.entry(why.to_string()).or_default() += 1;
        self.syncs_outstanding = 0;
        self.sync_at = None;
        self.reconnect_attempt = 0;
        let wait = self.jitter(Duration::from_millis(250));
        self.reconnect_at = Some(Instant::now() + wait);
    }

    async fn connected(&mut self, r: Result<Opened, ConnectError>) {
        match r {
            Ok((ws, early)) => {
                let n = early.len();
                self.trace(format_args!("reconnected ({n} frames before the pong)"));
                self.ws = Some(ws);
                self.tracker.opened();
                self.out.reconnects += 1;
                self.reconnect_attempt = 0;
                self.reconnect_at = None;
                // The pong came (Connector::open): live delivery is on. Sync from the
                // position, then resend every pending send with its id.
                self.rule.reconnected();
                if self.phase >= Phase::FinalSync {
                    self.final_sent = true;
                }
                self.send_sync().await;
                // Live events that came before the pong go through the rule like any other.
                self.out.early_frames += early.len() as u64;
                let early = if self.spec.drop_before_pong {
                    Vec::new()
                } else {
                    early
                };
                for t in early {
                    self.on_frame(&t).await;
                }
                self.out.outbox.reconnected(Instant::now());
                self.flush(RESENDS_PER_TICK * 10).await;
            }
            Err(e) => {
                *self.out.connect_failures.entry(e.code()).or_default() += 1;
                self.reconnect_attempt += 1;
                let base = Duration::from_millis(250)
                    .saturating_mul(1 << self.reconnect_attempt.min(5))
                    .min(Duration::from_secs(5));
                let wait = self.jitter(base);
                self.reconnect_at = Some(Instant::now() + wait);
            }
        }
    }

    async fn housekeeping(&mut self) {
        let now = Instant::now();
        if self.ws.is_none() && self.connecting.is_none() {
            if self.reconnect_at.is_some_and(|t| t <= now) {
                let g = self.spec.gateways[self.next_gateway % self.spec.gateways.len()].clone();
                self.next_gateway += 1;
                let (connector, token) = (self.connector.clone(), self.spec.token.clone());
                self.connecting = Some(Box::pin(async move { open(&connector, &g, &token).await }));
            }
            return;
        }
        if self.ws.is_none() {
            return;
        }
        let sync_due = self.sync_at.is_some_and(|t| t <= now)
            || (self.syncs_outstanding > 0
                && self
                    .last_sync
                    .is_some_and(|t| now.duration_since(t) >= SYNC_STALE_AFTER));
        if sync_due {
            self.send_sync().await;
        }
        self.flush(RESENDS_PER_TICK).await;
    }

    async fn on_message(&mut self, m: WsItem) {
        match m {
            Some(Ok(Message::Text(t))) => self.on_frame(&t).await,
            Some(Ok(Message::Close(f))) => {
                let why = f.map_or("close_none".to_string(), |f| {
                    format!("close_{}", u16::from(f.code))
                });
                self.dropped(&why);
            }
            Some(Ok(_)) => {}
            Some(Err(_)) => self.dropped("reset"),
            None => self.dropped("eof"),
        }
    }

    fn apply(&mut self, (key, seq, replayed): (Option<String>, i64, bool)) {
        let first = self.out.applied.apply(key.as_deref(), seq);
        let Some(key) = key else { return };
        if !first || key.starts_with(&format!("{}-", self.spec.index)) {
            return;
        }
        if replayed {
            self.out.replayed += 1;
            if self.phase >= Phase::FinalSync {
                self.out.by_final_sync += 1;
            }
        }
        self.tracker.deliver(&key, replayed);
    }

    async fn on_frame(&mut self, text: &str) {
        let Ok(f) = serde_json::from_str::<Frame>(text) else {
            self.tracker.error("unparsable_frame");
            return;
        };
        let now = Instant::now();
        match f.kind.as_ref() {
            "ack" => {
                let Some(id) = f.client_msg_id.as_deref() else {
                    return;
                };
                if let Some(n) = self.own(id) {
                    if self.out.outbox.ack(n) {
                        self.outstanding.fetch_sub(1, Ordering::Relaxed);
                    }
                    self.tracker.ack(id, f.seq, f.message_id.as_deref());
                }
            }
            "event" => {
                let Some(seq) = f.seq else { return };
                if f.conversation_id.as_deref() != Some(self.spec.conversation_id.as_str()) {
                    return;
                }
                let item = (f.message_key().map(str::to_string), seq, f.replayed);
                let (key, prev, replayed) = (item.0.clone(), f.prev_seq, f.replayed);
                let verdict = self.rule.event(seq, prev, item);
                let v = match &verdict {
                    Received::Apply(_) => "apply",
                    Received::Duplicate => "duplicate",
                    Received::Held { .. } => "held",
                };
                let src = if replayed { "replayed" } else { "live" };
                self.trace(format_args!(
                    "{src} seq {seq} prev {prev:?} key {} -> {v}",
                    key.as_deref().unwrap_or("-")
                ));
                match verdict {
                    Received::Duplicate => {
                        self.tracker.duplicate();
                        if let Some(k) = f.message_key() {
                            self.out.applied.dropped.entry(k.to_string()).or_insert(seq);
                        }
                    }
                    Received::Apply(item) => self.apply(item),
                    Received::Held { sync } => {
                        self.out.gaps += 1;
                        self.tracker.gap();
                        if sync {
                            self.send_sync().await;
                        }
                    }
                }
            }
            "synced" => {
                self.syncs_outstanding = self.syncs_outstanding.saturating_sub(1);
                let position = f
                    .positions
                    .as_ref()
                    .and_then(|p| p.get(&self.spec.conversation_id))
                    .copied();
                let released = self.rule.synced(position);
                let (a, d, again) = (
                    released.apply.len(),
                    released.dropped.len(),
                    released.sync_again,
                );
                let p = self.rule.position();
                self.trace(format_args!(
                    "synced {position:?}: position now {p}; released {a} applied, {d} dropped; sync again {again}"
                ));
                for item in released.apply {
                    self.apply(item);
                }
                for (key, seq, _) in released.dropped {
                    self.tracker.duplicate();
                    if let Some(k) = key {
                        self.out.applied.dropped.entry(k).or_insert(seq);
                    }
                }
                if released.sync_again {
                    self.sync_at = Some(now + SYNC_AGAIN_AFTER);
                } else if position.is_none() {
                    // The conversation was left out (a store failed before the replay):
                    // nothing is known to be complete; ask again.
                    self.sync_at = Some(now + SYNC_AGAIN_AFTER);
                } else if self.final_sent && self.syncs_outstanding == 0 && self.sync_at.is_none() {
                    self.out.final_synced = true;
                }
            }
            "error" => {
                let code = f.code.as_deref().unwrap_or("unknown").to_string();
                let reference = f.reference.as_deref().unwrap_or("unknown");
                if let Some(n) = self.own(reference) {
                    if code == "unavailable" {
                        let attempts = self.out.outbox.attempts(n).clamp(1, 6);
                        let base = Duration::from_millis(250).saturating_mul(1 << attempts);
                        let wait = self.jitter(base.min(Duration::from_secs(5)));
                        self.out.outbox.unavailable(n, now, wait);
                        self.tracker.error("unavailable");
                        return;
                    }
                    if self.out.outbox.failed(n) {
                        self.outstanding.fetch_sub(1, Ordering::Relaxed);
                    }
                } else if reference == "sync" {
                    // The replay failed part way; `synced` still ends it. Ask again.
                    self.sync_at = Some(now + SYNC_AGAIN_AFTER);
                }
                *self.out.failures.entry(code.clone()).or_default() += 1;
                self.tracker.error(&code);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outbox_keeps_a_send_until_its_ack() {
        let t0 = Instant::now();
        let s = |n| t0 + Duration::from_secs(n);
        let mut o = Outbox::default();
        o.add(1, t0);
        o.add(2, t0);
        assert_eq!(o.due(t0, STALE_AFTER), vec![1, 2]);
        assert!(o.sent(1, t0));
        assert!(o.sent(2, t0));
        // In flight: nothing due until it goes stale.
        assert!(o.due(s(1), STALE_AFTER).is_empty());
        assert_eq!(o.due(s(15), STALE_AFTER), vec![1, 2]);
        assert!(o.ack(1));
        assert!(!o.ack(1), "a second ack finds nothing pending");
        assert_eq!((o.acked, o.extra_acks, o.len()), (1, 1, 1));
        // unavailable: counted, retried after the backoff with the same number.
        assert!(o.unavailable(2, s(2), Duration::from_secs(1)));
        assert!(o.due(s(2), STALE_AFTER).is_empty());
        assert_eq!(o.due(s(3), STALE_AFTER), vec![2]);
        assert!(!o.sent(2, s(3)), "a retry is not a first attempt");
        assert_eq!(o.attempts(2), 2);
        assert!(!o.unavailable(9, s(3), Duration::ZERO));
        assert_eq!(o.unavailable, 2);
    }

    #[test]
    fn outbox_resends_everything_after_a_reconnect_and_drops_failures() {
        let t0 = Instant::now();
        let mut o = Outbox::default();
        for n in 1..=3 {
            o.add(n, t0);
            o.sent(n, t0);
        }
        o.add(4, t0); // made while disconnected, never sent
        assert_eq!(o.never_sent(), 1);
        let t1 = t0 + Duration::from_secs(1);
        o.reconnected(t1);
        assert_eq!(o.due(t1, STALE_AFTER), vec![1, 2, 3, 4]);
        assert!(o.failed(2));
        assert!(!o.failed(2));
        assert_eq!((o.failed, o.len()), (1, 3));
    }

    #[test]
    fn applied_counts_duplicates_and_seqs_going_back() {
        let mut a = Applied::default();
        assert!(a.apply(Some("1-1"), 10));
        assert!(!a.apply(None, 12));
        assert!(a.apply(Some("2-1"), 15));
        assert!(!a.apply(Some("1-1"), 20), "the same message applied twice");
        assert_eq!(a.keys["1-1"], 2);
        assert_eq!(a.out_of_order, 0);
        a.apply(Some("3-1"), 14);
        assert_eq!((a.out_of_order, a.max_seq, a.events), (1, Some(20), 5));
    }
}
