//! Scenario `history`: fill one conversation with `--messages` messages (pipelined over
//! `--members` sockets), wait until the history projection has all of them, then time
//! `--pages` random 50-message pages (`GET .../messages?before=SEQ&limit=50`) from
//! `--readers` concurrent clients.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{Connector, Frame};
use crate::report::{Latency, Report, Summary};
use crate::sample::{self, Sampler};
use crate::tracker::{self, Tracker};
use crate::{setup, Ctx};

/// The body of history message `i`.
pub fn history_body(i: usize) -> String {
    format!("history message {i} with some text to make it a realistic length")
}

/// Send `n` messages (bodies `body(from..from + n)`) over one socket, keeping up to 200
/// unacknowledged; the seqs acked.
#[allow(clippy::too_many_arguments)]
pub async fn fill(
    connector: &Connector,
    gateway: &str,
    token: &str,
    conversation: &str,
    from: usize,
    n: usize,
    tracker: &Tracker,
    body: &(dyn Fn(usize) -> String + Sync),
) -> Result<Vec<i64>> {
    let ws = connector
        .open(gateway, token)
        .await
        .map_err(|e| anyhow::anyhow!("connect: {e}"))?;
    tracker.opened();
    let (mut tx, mut rx) = ws.split();
    let mut seqs = Vec::with_capacity(n);
    let mut sent = 0;
    while seqs.len() < n {
        while sent < n && sent - seqs.len() < 200 {
            let i = from + sent;
            let id = format!("h-{i}");
            let frame = json!({"type": "send", "conversation_id": conversation, "client_msg_id": id, "body": body(i)});
            tracker.sent(id, 0);
            tx.send(Message::text(frame.to_string())).await?;
            sent += 1;
        }
        let Some(msg) = rx.next().await else {
            bail!("socket closed while filling")
        };
        let Message::Text(t) = msg? else { continue };
        let f: Frame = serde_json::from_str(&t).context("unparsable frame")?;
        match f.kind.as_ref() {
            "ack" => {
                let seq = f.seq.context("ack without seq")?;
                if let Some(id) = f.client_msg_id.as_deref() {
                    tracker.ack(id, Some(seq), f.message_id.as_deref());
                }
                seqs.push(seq);
            }
            "error" => {
                let code = f.code.as_deref().unwrap_or("unknown");
                tracker.error(code);
                bail!("send refused: {code}");
            }
            _ => {}
        }
    }
    let _ = tx.send(Message::Close(None)).await;
    tracker.closed();
    Ok(seqs)
}

pub async fn run(ctx: &Ctx) -> Result<()> {
    let a = &ctx.args;
    let http = &ctx.http;
    let gateway = a.gateways[0].clone();
    let senders = a.members_or(5);
    let clients = ctx.accounts(senders).await?;
    let others: Vec<&str> = clients[1..].iter().map(|c| c.user_id.as_str()).collect();
    let conversation =
        setup::create_group(http, &gateway, &clients[0], &others, "history benchmark").await?;
    let tracker = Arc::new(Tracker::new());
    let sampler = Sampler::start(
        sample::discover(&ctx.connector.ports(), &a.watch),
        tracker.clone(),
        Duration::from_secs(1),
    );

    eprintln!(
        "filling {conversation} with {} messages over {} sockets",
        a.messages,
        clients.len()
    );
    let started = Instant::now();
    let per = a.messages.div_ceil(clients.len());
    let fills = clients.iter().enumerate().map(|(k, c)| {
        let n = per.min(a.messages.saturating_sub(k * per));
        let gateway = &a.gateways[k % a.gateways.len()];
        fill(
            &ctx.connector,
            gateway,
            &c.token,
            &conversation,
            k * per,
            n,
            &tracker,
            &history_body,
        )
    });
    let mut seqs: Vec<i64> = futures::future::try_join_all(fills)
        .await?
        .into_iter()
        .flatten()
        .collect();
    let fill_seconds = started.elapsed().as_secs_f64();
    seqs.sort_unstable();
    let last = *seqs.last().context("no messages")?;
    eprintln!("filled in {fill_seconds:.1} s; waiting for the projection to reach seq {last}");

    let caught = Instant::now();
    loop {
        let v: Value = http
            .get(format!("{gateway}/api/v1/conversations"))
            .bearer_auth(&clients[0].token)
            .send()
            .await?
            .json()
            .await?;
        let done = v["conversations"]
            .as_array()
            .and_then(|cs| {
                cs.iter()
                    .find(|c| c["conversation_id"] == conversation.as_str())
            })
            .and_then(|c| c["last_seq"].as_i64())
            .is_some_and(|s| s >= last);
        if done {
            break;
        }
        if caught.elapsed() > Duration::from_secs(600) {
            bail!("the projection did not catch up within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let projection_lag = caught.elapsed().as_secs_f64();

    eprintln!("timing {} pages from {} readers", a.pages, a.readers);
    let hist = Arc::new(Mutex::new(tracker::histogram(3)));
    let seqs = Arc::new(seqs);
    let started = Instant::now();
    let per_reader = a.pages.div_ceil(a.readers.max(1));
    let readers = (0..a.readers.max(1)).map(|r| {
        let (http, hist, seqs) = (http.clone(), hist.clone(), seqs.clone());
        let url = format!("{gateway}/api/v1/conversations/{conversation}/messages");
        let token = clients[r % clients.len()].token.clone();
        async move {
            for i in 0..per_reader {
                // A spread of positions, deterministic per reader.
                let idx = (i * 7919 + r * 104_729) % seqs.len();
                let before = seqs[idx.max(50)];
                let t = Instant::now();
                let resp = http
                    .get(format!("{url}?before={before}&limit=50"))
                    .bearer_auth(&token)
                    .send()
                    .await?;
                let status = resp.status();
                let page: Value = resp.json().await?;
                let us = t.elapsed().as_micros() as u64;
                if !status.is_success() || page["messages"].as_array().map_or(0, Vec::len) != 50 {
                    bail!(
                        "bad page ({status}): {}",
                        page.to_string().chars().take(200).collect::<String>()
                    );
                }
                hist.lock().await.saturating_record(us.max(1));
            }
            anyhow::Ok(())
        }
    });
    futures::future::try_join_all(readers).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let samples = sampler.stop().await;
    let hist = hist.lock().await;
    let t = tracker.lock();
    let mut summary = Summary::new("history", a.params());
    summary.connections = clients.len();
    summary.sent = t.sent;
    summary.acked = t.msgs.values().filter(|m| m.ack.is_some()).count() as u64;
    summary.errors = t.errors.clone();
    summary.ack_ms = Latency::from_micros(&t.ack);
    summary.msgs_per_s = a.messages as f64 / fill_seconds;
    summary.elapsed_s = fill_seconds + elapsed;
    summary.set("messages", a.messages);
    summary.set("fill_seconds", fill_seconds);
    summary.set("fill_msgs_per_s", a.messages as f64 / fill_seconds);
    summary.set("projection_caught_up_after_fill_s", projection_lag);
    summary.set("pages", hist.len());
    summary.set("page_size", 50);
    summary.set("page_ms", Latency::from_micros(&hist));
    summary.set("pages_per_s", hist.len() as f64 / elapsed);
    summary.resources = samples.resources();
    let mut report = Report::default();
    report.latency(&t.seconds, &t.ack, &t.deliver);
    report.chart(
        "page_histogram.svg",
        "History page (50 messages) latency histogram",
        crate::chart::histogram("history page", &hist),
    );
    report.resources(&samples);
    report.write(&a.out, &summary)
}
