//! Scenario `idle`: open `--connections` WebSockets (over `--users` accounts, spread
//! over the gateways and over source addresses), each pinging every `--heartbeat`
//! (PROTOCOL.md's `ping` / `pong`), hold them for `--duration` once all are open, then
//! close. Reports how many were established and why others failed, ping round trips,
//! and what the gateways spent per socket: RSS at peak minus RSS before, per socket.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::json;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{Frame, Ws, PING};
use crate::report::{Latency, Report, Summary};
use crate::sample::{self, Sampler};
use crate::tracker::{self, Tracker};
use crate::Ctx;

#[derive(Default)]
struct Pings {
    sent: AtomicU64,
    answered: AtomicU64,
}

pub async fn run(ctx: &Ctx) -> Result<()> {
    let a = &ctx.args;
    let n = a.connections.max(1);
    let users = a.users.unwrap_or(n.min(1000)).clamp(1, n);
    if (n as u64) + 256 > ctx.nofile {
        eprintln!(
            "warning: {n} sockets need more than the open-files limit ({}) allows",
            ctx.nofile
        );
    }
    let accounts = ctx.accounts(users).await?;
    let tracker = Arc::new(Tracker::new());
    let sampler = Sampler::start(
        sample::discover(&ctx.connector.ports(), &a.watch),
        tracker.clone(),
        Duration::from_secs(1),
    );
    // A second or two of baseline before the first socket.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let (stop_tx, stop_rx) = watch::channel(false);
    let pings = Arc::new(Pings::default());
    let pong_hist = Arc::new(Mutex::new(tracker::histogram(3)));
    let mut connect_hist = tracker::histogram(3);
    let step = Duration::from_secs_f64(1.0 / a.connect_rate.max(1) as f64);
    let ramp_started = tokio::time::Instant::now();
    eprintln!(
        "opening {n} sockets for {users} users over {} gateway(s), {} per second at most",
        a.gateways.len(),
        a.connect_rate
    );
    let mut opens = futures::stream::iter(0..n)
        .map(|i| {
            let gateway = a.gateways[i % a.gateways.len()].clone();
            let token = accounts[i % users].token.clone();
            let connector = ctx.connector.clone();
            async move {
                tokio::time::sleep_until(ramp_started + step.mul_f64(i as f64)).await;
                let t = Instant::now();
                (i, connector.open(&gateway, &token).await, t.elapsed())
            }
        })
        .buffer_unordered(a.connect_concurrency.max(1));
    let mut holders = Vec::with_capacity(n);
    let mut last_log = Instant::now();
    while let Some((i, r, took)) = opens.next().await {
        match r {
            Ok(ws) => {
                tracker.opened();
                connect_hist.saturating_record((took.as_micros() as u64).max(1));
                holders.push(tokio::spawn(hold(
                    ws,
                    i,
                    a.heartbeat,
                    stop_rx.clone(),
                    tracker.clone(),
                    pings.clone(),
                    pong_hist.clone(),
                )));
            }
            Err(e) => tracker.error(&e.code()),
        }
        if last_log.elapsed() > Duration::from_secs(5) {
            last_log = Instant::now();
            eprintln!(
                "  {} open, {} failed",
                tracker.open.load(Ordering::Relaxed),
                tracker.lock().errors.values().sum::<u64>()
            );
        }
    }
    let ramp = ramp_started.elapsed();
    let established = holders.len();
    eprintln!(
        "{established}/{n} open after {:.1} s; holding for {:?}",
        ramp.as_secs_f64(),
        a.duration()
    );
    tokio::time::sleep(a.duration()).await;
    let still_open = tracker.open.load(Ordering::Relaxed);
    let _ = stop_tx.send(true);
    for h in holders {
        let _ = h.await;
    }
    // Let the gateways notice the closes, so the charts show memory coming back.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let samples = sampler.stop().await;

    let t = tracker.lock();
    let mut summary = Summary::new("idle", a.params());
    summary.connections = samples
        .points
        .iter()
        .map(|p| p.connections)
        .max()
        .unwrap_or(0);
    summary.errors = t.errors.clone();
    summary.elapsed_s = (ramp + a.duration()).as_secs_f64();
    summary.set("requested", n);
    summary.set("users", users);
    summary.set("established", established);
    summary.set("failed", n - established);
    summary.set("open_at_end_of_hold", still_open);
    summary.set("ramp_s", ramp.as_secs_f64());
    summary.set("hold_s", a.duration().as_secs_f64());
    summary.set("source_addresses", ctx.connector.source_count());
    summary.set("connect_ms", Latency::from_micros(&connect_hist));
    summary.set("pings", pings.sent.load(Ordering::Relaxed));
    summary.set("pongs", pings.answered.load(Ordering::Relaxed));
    let pong_hist = pong_hist.lock().unwrap_or_else(|p| p.into_inner());
    summary.set("pong_ms", Latency::from_micros(&pong_hist));
    summary.resources = samples.resources();
    summary.rss_bytes_per_connection = summary.resources.rss_bytes_per_connection;
    summary.set(
        "aim",
        json!({"connections": 50000, "rss_bytes_per_connection_max": 16384}),
    );
    let mut report = Report::default();
    report.resources(&samples);
    if !connect_hist.is_empty() {
        report.chart(
            "connect_histogram.svg",
            "Time to open a socket (TCP, upgrade, first pong)",
            crate::chart::histogram("connect", &connect_hist),
        );
    }
    report.write(&a.out, &summary)
}

/// Hold one socket: ping every `heartbeat` (the first after a per-socket offset, so
/// pings are spread evenly), time the pongs, until told to stop or the server closes.
async fn hold(
    ws: Ws,
    i: usize,
    heartbeat: Duration,
    mut stop: watch::Receiver<bool>,
    tracker: Arc<Tracker>,
    pings: Arc<Pings>,
    pong_hist: Arc<Mutex<Histogram<u64>>>,
) {
    let (mut tx, mut rx) = ws.split();
    let offset = heartbeat.mul_f64((i % 1000) as f64 / 1000.0);
    let mut next = tokio::time::Instant::now() + offset;
    let mut outstanding: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = tokio::time::sleep_until(next) => {
                next += heartbeat;
                if tx.send(Message::text(PING)).await.is_err() {
                    tracker.error("send_failed");
                    break;
                }
                outstanding = Some(Instant::now());
                pings.sent.fetch_add(1, Ordering::Relaxed);
            }
            msg = rx.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    let Ok(f) = serde_json::from_str::<Frame>(&t) else { continue };
                    match f.kind.as_ref() {
                        "pong" => {
                            if let Some(at) = outstanding.take() {
                                pings.answered.fetch_add(1, Ordering::Relaxed);
                                let us = (at.elapsed().as_micros() as u64).max(1);
                                pong_hist
                                    .lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .saturating_record(us);
                            }
                        }
                        "error" => tracker.error(f.code.as_deref().unwrap_or("unknown")),
                        _ => {}
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    tracker.error("closed_by_server");
                    tracker.closed();
                    return;
                }
                Some(Ok(_)) => {}
            },
        }
    }
    tracker.closed();
    let _ = tx.send(Message::Close(None)).await;
}
