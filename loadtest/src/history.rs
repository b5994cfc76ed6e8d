//! Scenario `history`: fill one conversation with `--messages` messages (pipelined over
//! `--members` sockets), wait until the history projection has all of them, then time
//! `--pages` random 50-message pages (`GET .../messages?before=SEQ&limit=50`) from
//! `--readers` concurrent clients.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::report::Latency;
use crate::{sign_up, Client};

pub struct HistoryArgs {
    pub gateway: String,
    pub messages: usize,
    pub pages: usize,
    pub readers: usize,
    pub senders: usize,
    pub out: PathBuf,
}

#[derive(Serialize)]
struct HistorySummary {
    scenario: &'static str,
    messages: usize,
    fill_seconds: f64,
    fill_msgs_per_s: f64,
    projection_caught_up_after_fill_s: f64,
    pages: usize,
    page_size: usize,
    page_ms: Latency,
    pages_per_s: f64,
}

/// Send `n` messages over one socket, keeping up to 200 unacknowledged; the seqs acked.
async fn fill(client: &Client, conversation: &str, from: usize, n: usize) -> Result<Vec<i64>> {
    let url = format!("{}/api/v1/ws", client.gateway.replacen("http", "ws", 1));
    let mut req = url.into_client_request()?;
    req.headers_mut()
        .insert("Authorization", format!("Bearer {}", client.token).parse()?);
    let (ws, _) = tokio_tungstenite::connect_async(req).await?;
    let (mut tx, mut rx) = ws.split();
    let mut seqs = Vec::with_capacity(n);
    let mut sent = 0;
    while seqs.len() < n {
        while sent < n && sent - seqs.len() < 200 {
            let i = from + sent;
            let frame = json!({"type": "send", "conversation_id": conversation, "client_msg_id": format!("h-{i}"), "body": format!("history message {i} with some text to make it a realistic length")});
            tx.send(Message::text(frame.to_string())).await?;
            sent += 1;
        }
        let Some(msg) = rx.next().await else {
            bail!("socket closed while filling")
        };
        let Message::Text(t) = msg? else { continue };
        let v: Value = serde_json::from_str(&t)?;
        match v["type"].as_str() {
            Some("ack") => seqs.push(v["seq"].as_i64().context("seq")?),
            Some("error") => bail!("send refused: {v}"),
            _ => {}
        }
    }
    Ok(seqs)
}

pub async fn run(args: HistoryArgs) -> Result<()> {
    let http = reqwest::Client::new();
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let mut clients = Vec::new();
    for i in 0..args.senders {
        clients.push(sign_up(&http, &args.gateway, &run, i).await?);
    }
    let others: Vec<&str> = clients[1..].iter().map(|c| c.user_id.as_str()).collect();
    let v: Value = http
        .post(format!("{}/api/v1/conversations", args.gateway))
        .bearer_auth(&clients[0].token)
        .json(&json!({"kind": "group", "name": "history benchmark", "members": others}))
        .send()
        .await?
        .json()
        .await?;
    let conversation = v["conversation_id"]
        .as_str()
        .context("conversation_id")?
        .to_string();

    eprintln!(
        "filling {conversation} with {} messages over {} sockets",
        args.messages,
        clients.len()
    );
    let started = Instant::now();
    let per = args.messages.div_ceil(clients.len());
    let fills = clients.iter().enumerate().map(|(k, c)| {
        let n = per.min(args.messages.saturating_sub(k * per));
        fill(c, &conversation, k * per, n)
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
            .get(format!("{}/api/v1/conversations", args.gateway))
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

    eprintln!("timing {} pages from {} readers", args.pages, args.readers);
    let hist = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(
        1, 60_000_000, 3,
    )?));
    let seqs = Arc::new(seqs);
    let started = Instant::now();
    let per_reader = args.pages.div_ceil(args.readers);
    let readers = (0..args.readers).map(|r| {
        let (http, hist, seqs) = (http.clone(), hist.clone(), seqs.clone());
        let url = format!(
            "{}/api/v1/conversations/{conversation}/messages",
            args.gateway
        );
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
                hist.lock().await.record(us.max(1))?;
            }
            anyhow::Ok(())
        }
    });
    futures::future::try_join_all(readers).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let hist = hist.lock().await;
    let summary = HistorySummary {
        scenario: "history",
        messages: args.messages,
        fill_seconds,
        fill_msgs_per_s: args.messages as f64 / fill_seconds,
        projection_caught_up_after_fill_s: projection_lag,
        pages: hist.len() as usize,
        page_size: 50,
        page_ms: Latency::from_micros(&hist),
        pages_per_s: hist.len() as f64 / elapsed,
    };
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(
        args.out.join("summary.json"),
        serde_json::to_string_pretty(&summary)?,
    )?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
