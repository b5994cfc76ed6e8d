//! Scenario `reconnect`: K clients (`--clients`) in groups of `--members` (one sender
//! per group that stays connected, the rest are the K) receive live; at a third of
//! `--duration` all K drop at once (their TCP connections closed without a goodbye,
//! as when a network goes away) while the senders keep sending; after `--outage` they
//! all come back at once, `sync` from the positions they had, and go on live until the
//! end. Each follows the client's rule (README, "Live delivery"): duplicates dropped,
//! a gap held and synced.
//!
//! Checks that every acked message reached every one of the K exactly once (live or
//! replayed), in particular those acked while they were away, and that history has
//! them; times the reconnect (socket open and first pong), the sync (sent to
//! `synced`), and both together.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::json;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{Connector, Frame, Ws};
use crate::gap_rule::{GapRule, Received};
use crate::live::{self, Member};
use crate::report::{Latency, Report, Summary};
use crate::sample::{self, Sampler};
use crate::tracker::{self, Tracker};
use crate::{setup, verify, Ctx};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Live,
    Away,
    Back,
    Stop,
}

enum Step {
    Nothing,
    /// A gap was found (or is still open): send `sync` from the current position.
    Sync,
    /// A `synced` answer closed every gap.
    Synced,
}

/// What a dropper keeps with an event: its message key and whether it was replayed.
type Item = (Option<String>, bool);

/// One client that drops and comes back.
struct Dropper {
    conversation: String,
    rule: GapRule<Item>,
    /// Message keys applied (live or replayed).
    applied: HashSet<String>,
    applied_twice: u64,
    /// Frames received per message key, before the rule drops duplicates.
    frames: HashMap<String, u32>,
    resyncs: u64,
}

impl Dropper {
    fn new(conversation: String) -> Self {
        Self {
            rule: GapRule::new(conversation.clone()),
            conversation,
            applied: HashSet::new(),
            applied_twice: 0,
            frames: HashMap::new(),
            resyncs: 0,
        }
    }

    fn apply(&mut self, (key, replayed): Item, tracker: &Tracker) {
        if let Some(key) = key {
            if self.applied.contains(&key) {
                self.applied_twice += 1;
            } else {
                tracker.deliver(&key, replayed);
                self.applied.insert(key);
            }
        }
    }

    fn on_frame(&mut self, text: &str, tracker: &Tracker) -> Step {
        let Ok(f) = serde_json::from_str::<Frame>(text) else {
            tracker.error("unparsable_frame");
            return Step::Nothing;
        };
        match f.kind.as_ref() {
            "event" => {
                let Some(seq) = f.seq else {
                    return Step::Nothing;
                };
                if f.conversation_id.as_deref() != Some(self.conversation.as_str()) {
                    return Step::Nothing;
                }
                let key = f.message_key().map(str::to_string);
                if let Some(k) = &key {
                    *self.frames.entry(k.clone()).or_default() += 1;
                }
                match self.rule.event(seq, f.prev_seq, (key, f.replayed)) {
                    Received::Duplicate => tracker.duplicate(),
                    Received::Apply(item) => self.apply(item, tracker),
                    Received::Held { sync } => {
                        tracker.gap();
                        if sync {
                            return Step::Sync;
                        }
                    }
                }
                Step::Nothing
            }
            "synced" => {
                let position = f
                    .positions
                    .as_ref()
                    .and_then(|p| p.get(&self.conversation))
                    .copied();
                let released = self.rule.synced(position);
                for item in released.apply {
                    self.apply(item, tracker);
                }
                for _ in 0..released.duplicates {
                    tracker.duplicate();
                }
                if released.sync_again {
                    self.resyncs += 1;
                    Step::Sync
                } else {
                    Step::Synced
                }
            }
            "error" => {
                tracker.error(f.code.as_deref().unwrap_or("unknown"));
                Step::Nothing
            }
            _ => Step::Nothing,
        }
    }

    fn sync_frame(&self) -> Message {
        sync_frame(&self.conversation, self.rule.position())
    }
}

fn sync_frame(conversation: &str, position: i64) -> Message {
    Message::text(json!({"type": "sync", "positions": {conversation: position}}).to_string())
}

/// What one dropper saw.
struct Outcome {
    conversation: usize,
    dropper: Dropper,
    position_at_drop: Option<i64>,
    /// Reconnect (socket and pong), sync (sent to closing `synced`), both.
    times: Option<(Duration, Duration, Duration)>,
    reconnect_error: Option<String>,
}

/// Read until the phase moves past `until`; answer gaps with `sync`. Returns when
/// synced first closed every gap after `sync_sent` (if given), or None if the socket
/// ended.
async fn read_until(
    ws: &mut Ws,
    d: &mut Dropper,
    phase: &mut watch::Receiver<Phase>,
    until: Phase,
    tracker: &Tracker,
    mut sync_sent: Option<Instant>,
) -> Result<Option<Instant>, ()> {
    let mut synced_at = None;
    loop {
        if *phase.borrow() > until {
            return Ok(synced_at);
        }
        tokio::select! {
            changed = phase.changed() => {
                if changed.is_err() {
                    return Ok(synced_at);
                }
            }
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(t))) => match d.on_frame(&t, tracker) {
                    Step::Sync => {
                        if ws.send(d.sync_frame()).await.is_err() {
                            return Err(());
                        }
                    }
                    Step::Synced => {
                        if sync_sent.take().is_some() {
                            synced_at = Some(Instant::now());
                        }
                    }
                    Step::Nothing => {}
                },
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return Err(()),
                Some(Ok(_)) => {}
            },
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn dropper(
    mut ws: Ws,
    conversation: usize,
    conversation_id: String,
    gateway: String,
    token: String,
    connector: Arc<Connector>,
    mut phase: watch::Receiver<Phase>,
    tracker: Arc<Tracker>,
) -> Outcome {
    let mut d = Dropper::new(conversation_id);
    let live_ok = read_until(&mut ws, &mut d, &mut phase, Phase::Live, &tracker, None)
        .await
        .is_ok();
    // Away: the socket goes without a close frame, as when a network drops.
    drop(ws);
    tracker.closed();
    if !live_ok {
        tracker.error("closed_by_server");
    }
    let position_at_drop = d.rule.seen();
    while *phase.borrow() < Phase::Back {
        if phase.changed().await.is_err() {
            break;
        }
    }
    let t0 = Instant::now();
    let mut ws = match connector.open(&gateway, &token).await {
        Ok(ws) => ws,
        Err(e) => {
            tracker.error(&e.code());
            return Outcome {
                conversation,
                dropper: d,
                position_at_drop,
                times: None,
                reconnect_error: Some(e.code()),
            };
        }
    };
    tracker.opened();
    let t1 = Instant::now();
    let from = d.rule.reconnected();
    let ok = ws.send(sync_frame(&d.conversation, from)).await.is_ok();
    let t2 = Instant::now();
    let r = if ok {
        read_until(&mut ws, &mut d, &mut phase, Phase::Back, &tracker, Some(t2)).await
    } else {
        Err(())
    };
    let mut times = None;
    match r {
        Ok(synced) => {
            times = synced.map(|at| (t1 - t0, at - t2, at - t0));
            let _ = ws.send(Message::Close(None)).await;
        }
        Err(()) => tracker.error("closed_by_server"),
    }
    tracker.closed();
    Outcome {
        conversation,
        dropper: d,
        position_at_drop,
        times,
        reconnect_error: None,
    }
}

pub async fn run(ctx: &Ctx) -> Result<()> {
    let a = &ctx.args;
    let k = a.clients.max(1);
    let s = a.members_or(5).max(2);
    let per_group = s - 1;
    let groups = k.div_ceil(per_group);
    let rate = a.rate_or(100);
    // Accounts 0..groups are the senders; then the K droppers, per_group to a group.
    let accounts = ctx.accounts(groups + k).await?;
    let group_of = |j: usize| j / per_group;
    let member_lists: Vec<Vec<usize>> = (0..groups)
        .map(|g| {
            std::iter::once(g)
                .chain((0..k).filter(|&j| group_of(j) == g).map(|j| groups + j))
                .collect()
        })
        .collect();
    eprintln!("creating {groups} groups: 1 sender and up to {per_group} reconnecting clients each");
    let ids = setup::create_groups(&ctx.http, &a.gateways[0], &accounts, &member_lists).await?;

    let tracker = Arc::new(Tracker::new());
    let sampler = Sampler::start(
        sample::discover(&ctx.connector.ports(), &a.watch),
        tracker.clone(),
        Duration::from_secs(1),
    );
    let gateway_of = |i: usize| a.gateways[i % a.gateways.len()].clone();
    let targets: Vec<(String, String)> = (0..groups + k)
        .map(|i| (gateway_of(i), accounts[i].token.clone()))
        .collect();
    let (mut sockets, connect_hist) = live::connect_all(
        &ctx.connector,
        targets,
        a.connect_concurrency,
        a.connect_rate,
        &tracker,
    )
    .await;
    let (phase_tx, phase_rx) = watch::channel(Phase::Live);
    let senders_online = sockets[..groups].iter().flatten().count();
    let every = Duration::from_secs_f64(senders_online.max(1) as f64 / rate as f64);
    let started = Instant::now();
    let until = started + a.duration();
    let mut sender_tasks = Vec::new();
    for (g, ws) in sockets.drain(..groups).enumerate() {
        let Some(ws) = ws else { continue };
        let m = Member {
            index: g,
            account: g,
            conversation: g,
            sends: true,
        };
        sender_tasks.push(live::start(
            ws,
            m,
            ids[g].clone(),
            every,
            until,
            a.body_bytes,
            live::Mix::default(),
            tracker.clone(),
        ));
    }
    let mut dropper_tasks = Vec::new();
    for (j, ws) in sockets.into_iter().enumerate() {
        let Some(ws) = ws else { continue };
        let g = group_of(j);
        dropper_tasks.push(tokio::spawn(dropper(
            ws,
            g,
            ids[g].clone(),
            gateway_of(groups + j),
            accounts[groups + j].token.clone(),
            ctx.connector.clone(),
            phase_rx.clone(),
            tracker.clone(),
        )));
    }
    eprintln!(
        "running: {rate} msgs/s from {senders_online} senders to {} reconnecting clients",
        dropper_tasks.len()
    );
    tokio::time::sleep_until((started + a.duration() / 3).into()).await;
    let _ = phase_tx.send(Phase::Away);
    let away_at = Instant::now();
    eprintln!(
        "all {} dropped; away for {:?}",
        dropper_tasks.len(),
        a.outage
    );
    tokio::time::sleep(a.outage).await;
    let back_at = Instant::now();
    let _ = phase_tx.send(Phase::Back);
    eprintln!("reconnecting");
    let mut running = Vec::new();
    for t in sender_tasks {
        if let Ok(r) = t.await {
            running.push(r);
        }
    }
    let sending = started.elapsed();
    let drained = tracker
        .drain(Duration::from_secs(5), Duration::from_secs(120))
        .await;
    let _ = phase_tx.send(Phase::Stop);
    let mut outcomes = Vec::new();
    for t in dropper_tasks {
        if let Ok(o) = t.await {
            outcomes.push(o);
        }
    }
    for r in running {
        r.close(&tracker).await;
    }
    let samples = sampler.stop().await;

    let acked = tracker::acked_by_conversation(&tracker.lock(), groups);
    let history = if a.no_history_check {
        None
    } else {
        eprintln!("checking history");
        let tokens: Vec<String> = (0..groups).map(|g| accounts[g].token.clone()).collect();
        let convs = verify::conversations(&ids, &tokens, acked);
        Some(verify::check(&ctx.http, &a.gateways[0], convs, a.history_wait).await?)
    };

    let t = tracker.lock();
    // Acked messages per conversation: (key, seq, sent_at).
    let mut by_conv: Vec<Vec<(&str, i64, Instant)>> = vec![Vec::new(); groups];
    for (key, m) in &t.msgs {
        if let Some(ack) = &m.ack {
            by_conv[m.conversation].push((key.as_str(), ack.seq, m.sent_at));
        }
    }
    let mut lost_keys: HashSet<&str> = HashSet::new();
    let (mut pairs, mut missing_pairs, mut delivered) = (0u64, 0u64, 0u64);
    let (mut outage_pairs, mut outage_missing, mut outage_extra_frames) = (0u64, 0u64, 0u64);
    let (mut resyncs, mut applied_twice) = (0u64, 0u64);
    let mut reconnect_hist = tracker::histogram(3);
    let mut sync_hist = tracker::histogram(3);
    let mut total_hist = tracker::histogram(3);
    let mut not_synced = 0u64;
    let mut reconnect_failed = 0u64;
    let rec = |h: &mut Histogram<u64>, d: Duration| {
        h.saturating_record((d.as_micros() as u64).max(1));
    };
    for o in &outcomes {
        let d = &o.dropper;
        resyncs += d.resyncs;
        applied_twice += d.applied_twice;
        match (&o.reconnect_error, o.times) {
            (Some(_), _) => reconnect_failed += 1,
            (None, Some((r, s, total))) => {
                rec(&mut reconnect_hist, r);
                rec(&mut sync_hist, s);
                rec(&mut total_hist, total);
            }
            (None, None) => not_synced += 1,
        }
        for &(key, seq, sent_at) in &by_conv[o.conversation] {
            pairs += 1;
            let got = d.applied.contains(key);
            if got {
                delivered += 1;
            } else {
                missing_pairs += 1;
                lost_keys.insert(key);
            }
            // Acked while this client was away: after its position at the drop, sent
            // before the clients came back.
            if seq > o.position_at_drop.unwrap_or(-1) && sent_at < back_at {
                outage_pairs += 1;
                outage_missing += u64::from(!got);
                let frames = d.frames.get(key).copied().unwrap_or(0);
                outage_extra_frames += u64::from(frames.saturating_sub(1));
            }
        }
    }
    let mut lost_history = 0u64;
    if let Some(h) = &history {
        for (key, m) in &t.msgs {
            if m.ack
                .as_ref()
                .is_some_and(|a| h.missing.contains(&a.message_id))
            {
                lost_history += 1;
                lost_keys.insert(key.as_str());
            }
        }
    }

    let secs = sending.as_secs_f64();
    let mut summary = Summary::new("reconnect", a.params());
    summary.connections = senders_online + outcomes.len();
    summary.sent = t.sent;
    summary.acked = t.msgs.values().filter(|m| m.ack.is_some()).count() as u64;
    summary.delivered = delivered;
    summary.lost = lost_keys.len() as u64;
    summary.errors = t.errors.clone();
    summary.ack_ms = Latency::from_micros(&t.ack);
    summary.deliver_ms = Latency::from_micros(&t.deliver);
    summary.msgs_per_s = summary.acked as f64 / secs;
    summary.deliveries_per_s = delivered as f64 / secs;
    summary.elapsed_s = secs;
    let extra: BTreeMap<&str, serde_json::Value> = BTreeMap::from([
        ("clients", json!(outcomes.len())),
        ("groups", json!(groups)),
        ("offered_rate", json!(rate)),
        (
            "outage_s",
            json!(back_at.duration_since(away_at).as_secs_f64()),
        ),
        ("expected_deliveries", json!(pairs)),
        ("missing_deliveries", json!(missing_pairs)),
        ("outage_deliveries", json!(outage_pairs)),
        ("outage_missing", json!(outage_missing)),
        ("outage_duplicate_frames", json!(outage_extra_frames)),
        ("applied_twice", json!(applied_twice)),
        ("replayed", json!(t.replayed)),
        ("duplicates", json!(t.duplicates)),
        ("gaps", json!(t.gaps)),
        ("resyncs", json!(resyncs)),
        ("reconnect_failed", json!(reconnect_failed)),
        ("not_synced", json!(not_synced)),
        ("lost_history", json!(lost_history)),
        ("drain_s", json!(drained.as_secs_f64())),
        ("connect_ms", json!(Latency::from_micros(&connect_hist))),
        ("reconnect_ms", json!(Latency::from_micros(&reconnect_hist))),
        ("sync_ms", json!(Latency::from_micros(&sync_hist))),
        (
            "reconnect_sync_ms",
            json!(Latency::from_micros(&total_hist)),
        ),
    ]);
    for (key, v) in extra {
        summary.set(key, v);
    }
    if let Some(h) = &history {
        summary.set("history_checked", h.checked);
        summary.set("history_not_caught_up", h.not_caught_up);
    }
    summary.resources = samples.resources();
    summary.rss_bytes_per_connection = summary.resources.rss_bytes_per_connection;
    let mut report = Report::default();
    report.latency(&t.seconds, &t.ack, &t.deliver);
    if !total_hist.is_empty() {
        report.chart(
            "reconnect_sync_histogram.svg",
            "Reconnect and sync: from coming back to the closing `synced`",
            crate::chart::histogram("reconnect + sync", &total_hist),
        );
    }
    report.resources(&samples);
    report.write(&a.out, &summary)
}
