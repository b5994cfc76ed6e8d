//! Connected members of group conversations, sending and receiving live: the engine of
//! the `chat` and `fanout` scenarios (and the senders of `reconnect`).
//!
//! Each member holds one WebSocket. Senders send at a fixed interval, staggered so
//! they do not send in lockstep; every member's reader applies the client's ordering
//! rule and records acks, deliveries, duplicates and gaps in the [`Tracker`]. Every
//! body carries its client_msg_id, so a receiver looks up when it was sent.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::json;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, Connector, Frame, Ws};
use crate::cost::{self, Mark};
use crate::gap_rule::{Positions, Verdict};
use crate::profile::Profiler;
use crate::report::{Latency, Report, Summary};
use crate::sample::{self, Sampler};
use crate::setup::Account;
use crate::tracker::{self, Tracker};
use crate::{verify, Ctx};

/// Open a socket (with its first pong) for each (gateway, token), at most
/// `concurrency` in flight and `rate` started per second. Failures are counted in the
/// tracker by code; the time to each open socket goes into the returned histogram.
pub async fn connect_all(
    connector: &Arc<Connector>,
    targets: Vec<(String, String)>,
    concurrency: usize,
    rate: u64,
    tracker: &Arc<Tracker>,
) -> (Vec<Option<Ws>>, Histogram<u64>) {
    let started = tokio::time::Instant::now();
    let step = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let total = targets.len();
    let results: Vec<(Option<Ws>, Duration)> =
        futures::stream::iter(targets.into_iter().enumerate())
            .map(|(i, (gateway, token))| {
                let connector = connector.clone();
                let tracker = tracker.clone();
                async move {
                    tokio::time::sleep_until(started + step.mul_f64(i as f64)).await;
                    let t = Instant::now();
                    match connector.open(&gateway, &token).await {
                        Ok(ws) => {
                            tracker.opened();
                            (Some(ws), t.elapsed())
                        }
                        Err(e) => {
                            tracker.error(&e.code());
                            (None, t.elapsed())
                        }
                    }
                }
            })
            .buffered(concurrency.max(1))
            .collect()
            .await;
    let mut hist = tracker::histogram(3);
    for (ws, d) in &results {
        if ws.is_some() {
            hist.saturating_record((d.as_micros() as u64).max(1));
        }
    }
    let open = results.iter().filter(|r| r.0.is_some()).count();
    eprintln!(
        "connected {open}/{total} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    (results.into_iter().map(|r| r.0).collect(), hist)
}

/// React to one server frame as a live client does; `me` is this connection's
/// client_msg_id prefix (its own messages are not deliveries).
pub fn on_frame(text: &str, me: &str, pos: &mut Positions, tracker: &Tracker) {
    let Ok(f) = serde_json::from_str::<Frame>(text) else {
        tracker.error("unparsable_frame");
        return;
    };
    match f.kind.as_ref() {
        "ack" => {
            if let Some(id) = f.client_msg_id.as_deref() {
                if is_reaction(id) {
                    tracker.reaction_acked();
                } else {
                    tracker.ack(id, f.seq, f.message_id.as_deref());
                }
            }
        }
        "event" => {
            let (Some(c), Some(seq)) = (f.conversation_id.as_deref(), f.seq) else {
                return;
            };
            let verdict = pos.check(c, seq, f.prev_seq);
            if verdict == Verdict::Duplicate {
                tracker.duplicate();
                return;
            }
            if verdict == Verdict::Gap {
                // A real client would sync here; live-only scenarios count it and go on
                // (the message itself still counts as delivered).
                tracker.gap();
            }
            pos.advance(c, seq);
            if let Some(key) = f.message_key() {
                if !key.starts_with(me) {
                    tracker.deliver(key, f.replayed);
                }
            }
        }
        "error" => tracker.error(f.code.as_deref().unwrap_or("unknown")),
        _ => {}
    }
}

/// A member's socket while it runs: its sending half and its reader task.
pub struct Running {
    pub tx: SplitSink<Ws, Message>,
    pub reader: JoinHandle<()>,
}

impl Running {
    /// Stop reading and close the socket.
    pub async fn close(mut self, tracker: &Tracker) {
        if !self.reader.is_finished() {
            self.reader.abort();
            tracker.closed();
        }
        let _ = self.tx.send(Message::Close(None)).await;
    }
}

fn spawn_reader(mut rx: SplitStream<Ws>, me: String, tracker: Arc<Tracker>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut pos = Positions::default();
        while let Some(msg) = rx.next().await {
            match msg {
                Ok(Message::Text(t)) => on_frame(&t, &me, &mut pos, &tracker),
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => {}
            }
        }
        tracker.error("closed_by_server");
        tracker.closed();
    })
}

/// What a sender's ticks send besides plain messages (`--thread-percent`,
/// `--react-percent`): thread replies (messages, delivered and checked like any other)
/// in the thread of the member's first message, and reactions to it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mix {
    pub thread_percent: u8,
    pub react_percent: u8,
}

/// Reactions' client_msg_ids are `<index>-r<n>`, messages' `<index>-<n>`.
fn is_reaction(id: &str) -> bool {
    id.split_once('-')
        .is_some_and(|(_, rest)| rest.starts_with('r'))
}

/// What tick `n` of member `index` sends: spread evenly, the same in every run.
#[derive(Debug, PartialEq, Eq)]
enum Tick {
    Message,
    ThreadReply,
    Reaction,
}

fn tick(mix: Mix, index: usize, n: u64) -> Tick {
    let slot = ((n as usize).wrapping_mul(37).wrapping_add(index)) % 100;
    let react = usize::from(mix.react_percent);
    let thread = usize::from(mix.thread_percent);
    if n <= 1 {
        Tick::Message // the first message is the thread root and the reaction target
    } else if slot < react {
        Tick::Reaction
    } else if slot < react + thread {
        Tick::ThreadReply
    } else {
        Tick::Message
    }
}

const EMOJI: [&str; 4] = ["👍", "🎉", "❤️", ":ship_it:"];

/// One member of a conversation.
#[derive(Clone)]
pub struct Member {
    /// Connection number; its messages' client_msg_ids are `<index>-<n>`.
    pub index: usize,
    pub account: usize,
    pub conversation: usize,
    pub sends: bool,
}

/// Run a member: read until closed; if it sends, send every `every` until `until`.
#[allow(clippy::too_many_arguments)]
pub fn start(
    ws: Ws,
    m: Member,
    conversation_id: String,
    every: Duration,
    until: Instant,
    body_bytes: usize,
    mix: Mix,
    tracker: Arc<Tracker>,
) -> JoinHandle<Running> {
    tokio::spawn(async move {
        let (mut tx, rx) = ws.split();
        let me = format!("{}-", m.index);
        let reader = spawn_reader(rx, me, tracker.clone());
        if m.sends {
            // Stagger the start so clients do not send in lockstep.
            tokio::time::sleep(every.mul_f64((m.index % 100) as f64 / 100.0)).await;
            let mut ticker = tokio::time::interval(every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut n = 0u64;
            loop {
                ticker.tick().await;
                if Instant::now() >= until {
                    break;
                }
                n += 1;
                let first = tracker.acked_message_id(&format!("{}-1", m.index));
                let kind = match (tick(mix, m.index, n), &first) {
                    (Tick::Message, _) | (_, None) => Tick::Message,
                    (t, Some(_)) => t,
                };
                let frame = if kind == Tick::Reaction {
                    tracker.reaction_sent();
                    json!({"type": "react", "conversation_id": conversation_id,
                        "message_id": first, "emoji": EMOJI[n as usize % EMOJI.len()],
                        "op": "add", "client_msg_id": format!("{}-r{n}", m.index)})
                } else {
                    let id = format!("{}-{n}", m.index);
                    let mut frame = json!({"type": "send", "conversation_id": conversation_id,
                        "client_msg_id": id, "body": client::body(&id, body_bytes)});
                    if kind == Tick::ThreadReply {
                        frame["thread_root"] = json!(first);
                    }
                    tracker.sent(id, m.conversation);
                    frame
                };
                if tx.send(Message::text(frame.to_string())).await.is_err() {
                    tracker.error("send_failed");
                    break;
                }
            }
        }
        Running { tx, reader }
    })
}

/// Everything `chat` and `fanout` share once accounts and conversations exist: connect
/// every member, send `rate` messages/s in total from the senders for `--duration`,
/// drain, check history, and write the results.
pub async fn run(
    ctx: &Ctx,
    accounts: &[Account],
    conversation_ids: &[String],
    members: Vec<Member>,
    rate: u64,
    extra: BTreeMap<&str, serde_json::Value>,
) -> Result<()> {
    let a = &ctx.args;
    let tracker = Arc::new(Tracker::new());
    let sampler = Sampler::start(
        sample::discover(&ctx.connector.ports(), &a.watch),
        tracker.clone(),
        Duration::from_secs(1),
    );
    let targets = members
        .iter()
        .map(|m| {
            (
                a.gateways[m.index % a.gateways.len()].clone(),
                accounts[m.account].token.clone(),
            )
        })
        .collect();
    let (sockets, connect_hist) = connect_all(
        &ctx.connector,
        targets,
        a.connect_concurrency,
        a.connect_rate,
        &tracker,
    )
    .await;
    // Who is online, per conversation: those are the members a message must reach.
    let mut online = vec![0u32; conversation_ids.len()];
    for (m, ws) in members.iter().zip(&sockets) {
        if ws.is_some() {
            online[m.conversation] += 1;
        }
    }
    let senders: Vec<&Member> = members
        .iter()
        .zip(&sockets)
        .filter(|(m, ws)| m.sends && ws.is_some())
        .map(|(m, _)| m)
        .collect();
    let every = Duration::from_secs_f64(senders.len().max(1) as f64 / rate as f64);
    eprintln!(
        "running: {rate} msgs/s from {} senders over {} connections for {:?}",
        senders.len(),
        sockets.iter().flatten().count(),
        a.duration()
    );
    let started = Instant::now();
    let until = started + a.duration();
    // The cost window is the sending phase: CPU times read now and when it ends.
    let window_start = Mark::take(sampler.procs());
    let profiler = a
        .profile
        .map(|secs| Profiler::start(sampler.procs(), &a.out, secs, a.duration()));
    let mut tasks = Vec::new();
    for (m, ws) in members.iter().zip(sockets) {
        let Some(ws) = ws else { continue };
        tasks.push(start(
            ws,
            m.clone(),
            conversation_ids[m.conversation].clone(),
            every,
            until,
            a.body_bytes,
            Mix {
                thread_percent: a.thread_percent,
                react_percent: a.react_percent,
            },
            tracker.clone(),
        ));
    }
    let mut running = Vec::new();
    for t in tasks {
        if let Ok(r) = t.await {
            running.push(r);
        }
    }
    let sending = started.elapsed();
    let window_end = Mark::take(sampler.procs());
    let drained = tracker
        .drain(Duration::from_secs(5), Duration::from_secs(120))
        .await;
    let after_drain = Mark::take(sampler.procs());
    eprintln!("drained in {:.1} s", drained.as_secs_f64());
    for r in running {
        r.close(&tracker).await;
    }
    let sampler_started = sampler.started();
    let samples = sampler.stop().await;
    // perf script and the drawing only now, outside every measured window.
    let profile = match profiler {
        Some(p) => Some(p.finish().await),
        None => None,
    };

    // A token per conversation (its first member's) for the history check.
    let mut tokens = vec![String::new(); conversation_ids.len()];
    for m in members.iter().rev() {
        tokens[m.conversation] = accounts[m.account].token.clone();
    }
    let acked = tracker::acked_by_conversation(&tracker.lock(), conversation_ids.len());
    let history = if a.no_history_check {
        None
    } else {
        eprintln!("checking history");
        let convs = verify::conversations(conversation_ids, &tokens, acked);
        Some(verify::check(&ctx.http, &a.gateways[0], convs, a.history_wait).await?)
    };

    let t = tracker.lock();
    let mut summary = Summary::new(&a.scenario, a.params());
    let (mut delivered, mut lost, mut lost_live, mut lost_history, mut expected) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    for m in t.msgs.values() {
        let Some(ack) = &m.ack else { continue };
        let want = online[m.conversation].saturating_sub(1);
        expected += u64::from(want);
        delivered += u64::from(m.deliveries.min(want));
        let live_missing = m.deliveries < want;
        let history_missing = history
            .as_ref()
            .is_some_and(|h| h.missing.contains(&ack.message_id));
        lost_live += u64::from(live_missing);
        lost_history += u64::from(history_missing);
        lost += u64::from(live_missing || history_missing);
    }
    let secs = sending.as_secs_f64();
    summary.connections = online.iter().map(|&n| n as usize).sum();
    summary.sent = t.sent;
    summary.acked = t.msgs.values().filter(|m| m.ack.is_some()).count() as u64;
    summary.delivered = delivered;
    summary.lost = lost;
    summary.errors = t.errors.clone();
    summary.ack_ms = Latency::from_micros(&t.ack);
    summary.deliver_ms = Latency::from_micros(&t.deliver);
    summary.msgs_per_s = summary.acked as f64 / secs;
    summary.deliveries_per_s = delivered as f64 / secs;
    summary.elapsed_s = secs;
    summary.set("offered_rate", rate);
    summary.set("senders", senders_count(&members));
    summary.set("expected_deliveries", expected);
    summary.set("lost_live", lost_live);
    summary.set("lost_history", lost_history);
    summary.set("duplicates", t.duplicates);
    if a.thread_percent > 0 || a.react_percent > 0 {
        summary.set("thread_percent", a.thread_percent);
        summary.set("react_percent", a.react_percent);
        summary.set("reactions_sent", t.reactions_sent);
        summary.set("reactions_acked", t.reactions_acked);
    }
    summary.set("gaps", t.gaps);
    summary.set("drain_s", drained.as_secs_f64());
    summary.set("connect_ms", Latency::from_micros(&connect_hist));
    if let Some(h) = &history {
        summary.set("history_checked", h.checked);
        summary.set("history_not_caught_up", h.not_caught_up);
        summary.set("history_check_s", h.seconds);
    }
    for (k, v) in extra {
        summary.set(k, v);
    }
    summary.resources = samples.resources();
    summary.rss_bytes_per_connection = summary.resources.rss_bytes_per_connection;
    let cost = cost::compute(
        &samples,
        sampler_started,
        &window_start,
        &window_end,
        Some(&after_drain),
        summary.acked,
        summary.delivered,
    );
    summary.set("cost", &cost);
    let mut report = Report::default();
    report.latency(&t.seconds, &t.ack, &t.deliver);
    report.resources(&samples);
    report.section(cost.markdown());
    if let Some(p) = &profile {
        summary.set("profile", p);
        report.section(p.markdown());
    }
    report.write(&a.out, &summary)
}

fn senders_count(members: &[Member]) -> usize {
    members.iter().filter(|m| m.sends).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_keeps_its_proportions_and_starts_with_a_message() {
        let mix = Mix {
            thread_percent: 20,
            react_percent: 10,
        };
        assert_eq!(tick(mix, 7, 1), Tick::Message);
        let ticks: Vec<Tick> = (2..=1001).map(|n| tick(mix, 7, n)).collect();
        let count = |t: Tick| ticks.iter().filter(|x| **x == t).count();
        assert_eq!(count(Tick::Reaction), 100);
        assert_eq!(count(Tick::ThreadReply), 200);
        assert_eq!(count(Tick::Message), 700);
        assert!((1..500).all(|n| tick(Mix::default(), 3, n) == Tick::Message));
    }

    #[test]
    fn reactions_are_told_from_messages_by_their_ids() {
        assert!(is_reaction("12-r5"));
        assert!(!is_reaction("12-5"));
        assert!(!is_reaction("r"));
    }
}
