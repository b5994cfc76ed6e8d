//! Scenario `stuck`: clients that stop reading. `--stuck` users, one socket each, in
//! groups with `--senders` normal members who send `--body-bytes` messages at `--rate`
//! for `--duration`. The stuck sockets complete the upgrade and answer one ping (so their
//! live subscription is in place), then are never read again: what is sent to them
//! piles up in the gateway. The gateway bounds each socket's outbound queue
//! (services/gateway/src/live/outbound.rs) and drops a socket whose next live frame does
//! not fit, so its memory should stay within about [`QUEUE_BOUND_BYTES`] per stuck socket
//! whatever is sent. The run samples the gateways' RSS, and afterwards reads each stuck
//! socket to its end to count those the gateway closed.
//!
//! Where the backlog lands: each stuck socket's kernel receive buffer is shrunk to
//! [`RECV_BUFFER_BYTES`] right after the TCP connect (the shared connector opens the
//! socket, so it cannot be set before; Linux then advertises no more room, but does not
//! take back the ~64 KiB window already advertised). The gateway's kernel send buffer
//! still holds some more per socket (kernel memory, not in its RSS), so a socket is
//! dropped only once it was sent that much beyond the 1 MiB queue.

use std::collections::BTreeMap;
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, ConnectError, Connector, Frame, Ws, PING};
use crate::gap_rule::Positions;
use crate::live::{self, Running};
use crate::report::{Latency, Report, Summary};
use crate::sample::{self, Sampler, Samples};
use crate::tracker::Tracker;
use crate::{setup, Ctx};

/// `--senders` for this scenario unless given.
pub const DEFAULT_SENDERS: usize = 5;
/// `--body-bytes` for this scenario unless given (the gateway's limit is 16 KiB).
pub const DEFAULT_BODY_BYTES: usize = 4000;
/// The gateway's per-socket queue (`outbound::MAX_QUEUED_BYTES`).
const QUEUE_BOUND_BYTES: u64 = 1024 * 1024;
/// Members a group may have at creation, its creator included (the gateway's
/// `MAX_INITIAL_MEMBERS`).
const MAX_GROUP: usize = 1000;
/// SO_RCVBUF asked for on a stuck socket (Linux doubles it for its bookkeeping).
const RECV_BUFFER_BYTES: libc::c_int = 4096;
/// After the run, a stuck socket with nothing more to read for this long is still open.
const QUIET: Duration = Duration::from_secs(3);
/// The longest a stuck socket is read after the run.
const PROBE_MAX: Duration = Duration::from_secs(60);

/// `n` stuck users (by index) in groups of at most `size`, as even as possible.
fn split_into_groups(n: usize, size: usize) -> Vec<Range<usize>> {
    let g = n.div_ceil(size.max(1)).max(1);
    (0..g).map(|k| k * n / g..(k + 1) * n / g).collect()
}

/// The group that sender `s` sends its `k`-th message to: together the senders go
/// round the groups in turn, so every group gets the same share of the rate.
fn target_group(s: usize, k: u64, senders: usize, groups: usize) -> usize {
    ((k as u128 * senders as u128 + s as u128) % groups.max(1) as u128) as usize
}

pub async fn run(ctx: &Ctx) -> Result<()> {
    let a = &ctx.args;
    let n = a.stuck.max(1);
    let s = a.senders.clamp(1, MAX_GROUP - 1);
    let size = a.members_or(MAX_GROUP - s).min(MAX_GROUP - s);
    let groups = split_into_groups(n, size);
    let g = groups.len();
    let largest = groups.iter().map(|r| r.len()).max().unwrap_or(0);
    if (n + s) as u64 + 256 > ctx.nofile {
        eprintln!(
            "warning: {} sockets need more than the open-files limit ({}) allows",
            n + s,
            ctx.nofile
        );
    }
    // Accounts 0..s send; s + i is stuck user i.
    let accounts = ctx.accounts(s + n).await?;
    let lists: Vec<Vec<usize>> = groups
        .iter()
        .map(|r| (0..s).chain(r.clone().map(|i| s + i)).collect())
        .collect();
    eprintln!("creating {g} groups of {s} senders and up to {largest} stuck users");
    let ids = setup::create_groups(&ctx.http, &a.gateways[0], &accounts, &lists).await?;
    let ids = Arc::new(ids);
    let group_of: Vec<usize> = groups
        .iter()
        .enumerate()
        .flat_map(|(k, r)| r.clone().map(move |_| k))
        .collect();

    let tracker = Arc::new(Tracker::new());
    let t0 = Instant::now();
    let sampler = Sampler::start(
        sample::discover(&ctx.connector.ports(), &a.watch),
        tracker.clone(),
        Duration::from_secs(1),
    );
    // A second or two of baseline before the first socket.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let gateway = |i: usize| a.gateways[i % a.gateways.len()].clone();
    let targets = (0..s).map(|i| (gateway(i), accounts[i].token.clone()));
    // Connect failures (of senders and stuck sockets alike) are kept apart from what
    // the senders meet while running.
    let connecting = Arc::new(Tracker::new());
    let (senders, connect_hist) = live::connect_all(
        &ctx.connector,
        targets.collect(),
        a.connect_concurrency,
        a.connect_rate,
        &connecting,
    )
    .await;
    let mut connect_errors = connecting.lock().errors.clone();
    if senders.iter().all(Option::is_none) {
        bail!("no sender could connect: {connect_errors:?}");
    }
    for _ in senders.iter().flatten() {
        tracker.opened();
    }

    eprintln!("opening {n} stuck sockets");
    let step = Duration::from_secs_f64(1.0 / a.connect_rate.max(1) as f64);
    let ramp = tokio::time::Instant::now();
    let mut opens = futures::stream::iter(0..n)
        .map(|i| {
            let (gw, token) = (gateway(s + i), accounts[s + i].token.clone());
            let connector = ctx.connector.clone();
            async move {
                tokio::time::sleep_until(ramp + step.mul_f64(i as f64)).await;
                (i, open_stuck(&connector, &gw, &token).await)
            }
        })
        .buffer_unordered(a.connect_concurrency.max(1));
    let mut stuck: Vec<(usize, Ws)> = Vec::with_capacity(n);
    while let Some((i, r)) = opens.next().await {
        match r {
            Ok(ws) => {
                tracker.opened();
                stuck.push((i, ws));
            }
            Err(e) => *connect_errors.entry(e.code()).or_default() += 1,
        }
    }
    drop(opens);
    if stuck.is_empty() {
        bail!("no stuck socket could connect: {connect_errors:?}");
    }
    eprintln!(
        "{}/{n} stuck sockets open in {:.1} s",
        stuck.len(),
        ramp.elapsed().as_secs_f64()
    );
    let connected_at = t0.elapsed().as_secs_f64();
    let connected = stuck.len();
    let stuck_groups: Vec<usize> = stuck.iter().map(|(i, _)| group_of[*i]).collect();

    let live_senders = senders.iter().flatten().count();
    let every = Duration::from_secs_f64(live_senders as f64 / a.rate_or(50) as f64);
    eprintln!(
        "sending {} msgs/s of {} bytes from {live_senders} senders to {g} groups for {:?}",
        a.rate_or(50),
        a.body_bytes,
        a.duration()
    );
    let frame_bytes = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let until = started + a.duration();
    let mut tasks = Vec::new();
    for (i, ws) in senders.into_iter().enumerate() {
        let Some(ws) = ws else { continue };
        tasks.push(tokio::spawn(send(
            ws,
            Sender {
                index: i,
                senders: s,
                conversations: ids.clone(),
                every,
                until,
                body_bytes: a.body_bytes,
            },
            tracker.clone(),
            frame_bytes.clone(),
        )));
    }
    let mut running = Vec::new();
    for t in tasks {
        if let Ok(r) = t.await {
            running.push(r);
        }
    }
    let sending = started.elapsed();
    let drained = tracker
        .drain(Duration::from_secs(3), Duration::from_secs(60))
        .await;
    eprintln!("acks drained in {:.1} s", drained.as_secs_f64());
    // Let a sample land before the stuck sockets are read.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let end_at = t0.elapsed().as_secs_f64();

    eprintln!("reading the stuck sockets to see which the gateway closed");
    let probes: Vec<JoinHandle<(End, u64)>> = stuck
        .into_iter()
        .map(|(_, ws)| tokio::spawn(probe(ws)))
        .collect();
    let (mut dropped, mut open, mut drained_max) = (0u64, 0usize, 0u64);
    let mut close_frames: BTreeMap<String, u64> = BTreeMap::new();
    for p in probes {
        let (end, bytes) = p.await.unwrap_or((End::Open, 0));
        tracker.closed();
        drained_max = drained_max.max(bytes);
        match end {
            End::Dropped => dropped += 1,
            End::CloseFrame(code) => *close_frames.entry(code.to_string()).or_default() += 1,
            End::Open => open += 1,
        }
    }
    for r in running {
        r.close(&tracker).await;
    }
    // Let the gateways notice the closes, so the charts show memory coming back.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let samples = sampler.stop().await;

    let t = tracker.lock();
    let frame = frame_bytes.load(Ordering::Relaxed) as u64;
    let want = (live_senders as u32).saturating_sub(1);
    let (mut delivered, mut lost) = (0u64, 0u64);
    let mut acked_in = vec![0u64; g];
    for m in t.msgs.values().filter(|m| m.ack.is_some()) {
        acked_in[m.conversation] += 1;
        delivered += u64::from(m.deliveries.min(want));
        lost += u64::from(m.deliveries < want);
    }
    let acked: u64 = acked_in.iter().sum();
    let offered: u64 = stuck_groups.iter().map(|&k| acked_in[k] * frame).sum();
    let rss = gateway_rss(&samples, connected_at, end_at);
    let closed = dropped + close_frames.values().sum::<u64>();

    let mut summary = Summary::new("stuck", a.params());
    summary.connections = samples
        .points
        .iter()
        .map(|p| p.connections)
        .max()
        .unwrap_or(0);
    summary.sent = t.sent;
    summary.acked = acked;
    summary.delivered = delivered;
    summary.lost = lost;
    summary.errors = t.errors.clone();
    for (k, v) in &connect_errors {
        *summary.errors.entry(k.clone()).or_default() += v;
    }
    summary.ack_ms = Latency::from_micros(&t.ack);
    summary.deliver_ms = Latency::from_micros(&t.deliver);
    summary.msgs_per_s = summary.acked as f64 / sending.as_secs_f64();
    summary.deliveries_per_s = delivered as f64 / sending.as_secs_f64();
    summary.elapsed_s = sending.as_secs_f64();
    summary.set(
        "stuck",
        json!({
            "requested": n,
            "connected": connected,
            "groups": g,
            "stuck_per_group": largest,
            "senders": live_senders,
            "frame_bytes": frame,
            "offered_bytes_per_socket": offered / connected.max(1) as u64,
            "gateway_rss_start_bytes": rss.start,
            "gateway_rss_connected_bytes": rss.connected,
            "gateway_rss_max_bytes": rss.max,
            "gateway_rss_end_bytes": rss.end,
            "rss_growth_bytes": rss.max.zip(rss.connected).map(|(m, c)| m.saturating_sub(c)),
            "bound_bytes": connected as u64 * QUEUE_BOUND_BYTES,
            "closed": closed,
            "closed_dropped": dropped,
            "closed_with_close_frame": close_frames,
            "still_open": open,
            "drained_bytes_max": drained_max,
            "senders_sent": t.sent,
            "senders_acked": acked,
            "sender_errors": t.errors,
            "connect_errors": connect_errors,
            "recv_buffer_bytes": RECV_BUFFER_BYTES,
        }),
    );
    summary.set("connect_ms", Latency::from_micros(&connect_hist));
    summary.resources = samples.resources();
    let mut report = Report::default();
    report.latency(&t.seconds, &t.ack, &t.deliver);
    report.resources(&samples);
    report.write(&a.out, &summary)?;
    append_markdown(&a.out, &summary)
}

/// The `stuck` object as a table at the end of report.md (the shared report leaves
/// objects out).
fn append_markdown(out: &std::path::Path, summary: &Summary) -> Result<()> {
    use std::io::Write;
    let Some(serde_json::Value::Object(st)) = summary.extra.get("stuck") else {
        return Ok(());
    };
    let mut md = String::from("\n## Stuck readers\n\n| field | value |\n|---|---|\n");
    for (k, v) in st {
        let shown = match v.as_u64() {
            Some(b) if k.contains("bytes") && b >= 1 << 20 => {
                format!("{:.1} MiB ({b})", b as f64 / 1048576.0)
            }
            _ => v.to_string(),
        };
        md.push_str(&format!("| {k} | {shown} |\n"));
    }
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(out.join("report.md"))?;
    f.write_all(md.as_bytes())?;
    Ok(())
}

/// Connect, shrink the receive buffer, then ping and wait for the pong (the gateway
/// reads frames only once the user's live subscription is in place). Never read after.
async fn open_stuck(connector: &Connector, gateway: &str, token: &str) -> Result<Ws, ConnectError> {
    let fut = async {
        let mut ws = connector.connect(gateway, token).await?;
        shrink_recv_buffer(ws.get_ref().get_ref()).map_err(ConnectError::Tcp)?;
        ws.send(Message::text(PING))
            .await
            .map_err(|e| ConnectError::NoPong(e.to_string()))?;
        while let Some(msg) = ws.next().await {
            let msg = msg.map_err(|e| ConnectError::NoPong(e.to_string()))?;
            if let Message::Text(t) = msg {
                if serde_json::from_str::<Frame>(&t).is_ok_and(|f| f.kind == "pong") {
                    return Ok(ws);
                }
            }
        }
        Err(ConnectError::NoPong("closed before the pong".into()))
    };
    tokio::time::timeout(Duration::from_secs(30), fut)
        .await
        .map_err(|_| ConnectError::Timeout)?
}

fn shrink_recv_buffer(stream: &TcpStream) -> std::io::Result<()> {
    let size = RECV_BUFFER_BYTES;
    // SAFETY: the descriptor is open while `stream` lives; setsockopt reads `size`
    // through the pointer, for the length given.
    let r = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// How a stuck socket ended, read after the run.
enum End {
    /// The connection ended without a close frame: the gateway dropped it as stuck.
    Dropped,
    /// The gateway closed it with this close code (not the stuck rule: e.g. 1012, live
    /// delivery interrupted, or 1001, shutting down).
    CloseFrame(u16),
    /// Still open: everything queued for it was read and nothing more came.
    Open,
}

/// Read what is left on a stuck socket until it ends or goes quiet; the bytes read (the
/// payloads of what was queued for it, in the kernels or in the gateway).
async fn probe(mut ws: Ws) -> (End, u64) {
    let mut bytes = 0u64;
    let deadline = Instant::now() + PROBE_MAX;
    while Instant::now() < deadline {
        let Ok(next) = tokio::time::timeout(QUIET, ws.next()).await else {
            break;
        };
        match next {
            Some(Ok(Message::Close(f))) => {
                return (End::CloseFrame(f.map_or(1005, |f| f.code.into())), bytes)
            }
            Some(Ok(m)) => bytes += m.len() as u64,
            Some(Err(_)) | None => return (End::Dropped, bytes),
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
    (End::Open, bytes)
}

struct Sender {
    index: usize,
    senders: usize,
    conversations: Arc<Vec<String>>,
    every: Duration,
    until: Instant,
    body_bytes: usize,
}

/// A normal member: reads everything (acks, the other senders' messages), and sends one
/// message every `every` to the groups in turn until `until`. Notes the size of a
/// message event frame in `frame_bytes`.
async fn send(ws: Ws, me: Sender, tracker: Arc<Tracker>, frame_bytes: Arc<AtomicUsize>) -> Running {
    let (mut tx, mut rx) = ws.split();
    let prefix = format!("{}-", me.index);
    let reader = {
        let tracker = tracker.clone();
        tokio::spawn(async move {
            let mut pos = Positions::default();
            while let Some(msg) = rx.next().await {
                match msg {
                    Ok(Message::Text(t)) => {
                        if t.contains("\"message_sent\"") {
                            frame_bytes.fetch_max(t.len(), Ordering::Relaxed);
                        }
                        live::on_frame(&t, &prefix, &mut pos, &tracker);
                    }
                    Ok(Message::Close(f)) => {
                        if let Some(f) = f {
                            tracker.error(&format!("closed_by_server_{}", u16::from(f.code)));
                        }
                        break;
                    }
                    Err(_) => break,
                    Ok(_) => {}
                }
            }
            tracker.error("closed_by_server");
            tracker.closed();
        })
    };
    let groups = me.conversations.len();
    tokio::time::sleep(me.every.mul_f64(me.index as f64 / me.senders as f64)).await;
    let mut ticker = tokio::time::interval(me.every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut k = 0u64;
    loop {
        ticker.tick().await;
        if Instant::now() >= me.until {
            break;
        }
        let group = target_group(me.index, k, me.senders, groups);
        k += 1;
        let id = format!("{}-{k}", me.index);
        let frame = json!({"type": "send", "conversation_id": me.conversations[group],
            "client_msg_id": id, "body": client::body(&id, me.body_bytes)});
        tracker.sent(id, group);
        if tx.send(Message::text(frame.to_string())).await.is_err() {
            tracker.error("send_failed");
            break;
        }
    }
    Running { tx, reader }
}

/// The gateways' RSS (summed): first sample, last sample once the stuck sockets were
/// open (`connected_at`, seconds into the sampling), the most from then to `end_at`,
/// and the last sample by `end_at`.
#[derive(Debug, PartialEq)]
struct GatewayRss {
    start: Option<u64>,
    connected: Option<u64>,
    max: Option<u64>,
    end: Option<u64>,
}

fn gateway_rss(s: &Samples, connected_at: f64, end_at: f64) -> GatewayRss {
    let g: Vec<usize> = (0..s.procs.len())
        .filter(|&i| s.procs[i].label.starts_with("chat-gateway"))
        .collect();
    let sum = |p: &sample::Point| -> Option<u64> {
        let v: Vec<u64> = g.iter().filter_map(|&i| p.rss[i]).collect();
        (!v.is_empty()).then(|| v.iter().sum())
    };
    let upto = |t: f64| s.points.iter().filter(move |p| p.t <= t);
    GatewayRss {
        start: s.points.first().and_then(sum),
        connected: upto(connected_at).filter_map(sum).next_back(),
        max: upto(end_at)
            .filter(|p| p.t >= connected_at)
            .filter_map(sum)
            .max(),
        end: upto(end_at).filter_map(sum).next_back(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{Point, Watched};

    #[test]
    fn groups_are_even_and_bounded() {
        for (n, size) in [
            (1000usize, 995usize),
            (1000, 50),
            (1001, 50),
            (7, 3),
            (1, 995),
            (5, 1),
        ] {
            let gs = split_into_groups(n, size);
            assert_eq!(gs.len(), n.div_ceil(size));
            assert_eq!(gs.first().map(|r| r.start), Some(0));
            assert_eq!(gs.last().map(|r| r.end), Some(n));
            assert!(gs.windows(2).all(|w| w[0].end == w[1].start));
            let lens: Vec<usize> = gs.iter().map(|r| r.len()).collect();
            let (lo, hi) = (lens.iter().min().unwrap(), lens.iter().max().unwrap());
            assert!(*hi <= size && hi - lo <= 1, "{n} {size}: {lens:?}");
        }
        assert_eq!(split_into_groups(1000, 995), vec![0..500, 500..1000]);
    }

    #[test]
    fn senders_share_the_groups_evenly() {
        let (senders, groups) = (5, 20);
        let mut hits = vec![0u32; groups];
        for k in 0..8 {
            for s in 0..senders {
                hits[target_group(s, k, senders, groups)] += 1;
            }
        }
        assert!(hits.iter().all(|&h| h == 2), "{hits:?}");
        assert_eq!(target_group(3, 0, 5, 1), 0);
    }

    #[test]
    fn rss_phases() {
        let procs = vec![
            Watched {
                pid: 1,
                label: "chat-gateway:8080".into(),
            },
            Watched {
                pid: 2,
                label: "chat-gateway:8082".into(),
            },
            Watched {
                pid: 3,
                label: "chat-loadtest (self)".into(),
            },
        ];
        let point = |t: f64, a: u64, b: Option<u64>| Point {
            t,
            connections: 0,
            rss: vec![Some(a), b, Some(999_999)],
            cpu: vec![None; 3],
        };
        let s = Samples {
            procs,
            points: vec![
                point(0.0, 10, Some(1)),
                point(1.0, 20, Some(2)),
                point(2.0, 50, None),
                point(3.0, 40, Some(5)),
                point(4.0, 5, Some(5)),
            ],
        };
        let r = gateway_rss(&s, 1.5, 3.5);
        assert_eq!(
            r,
            GatewayRss {
                start: Some(11),
                connected: Some(22),
                max: Some(50),
                end: Some(45)
            }
        );
    }
}
