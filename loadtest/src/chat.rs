//! Scenario `chat`: C group conversations of S members; every member holds a WebSocket
//! (spread over the gateways) and the members send R messages per second in total,
//! spread evenly. Measures send-to-ack (Kafka has it) and send-to-deliver (another
//! member's socket has it, through the fanout), and counts lost messages: acked, but
//! not delivered to every other member by the end of the drain.
//!
//! All clients live in this process, so one clock times both ends: each body carries
//! its client_msg_id, and receivers look up when it was sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::report::{Latency, Summary};

pub struct ChatArgs {
    pub gateways: Vec<String>,
    pub conversations: usize,
    pub members: usize,
    pub rate: u64,
    pub duration: Duration,
    pub out: std::path::PathBuf,
    pub scenario: String,
}

/// What all clients record into; one lock, held for microseconds.
struct Tracker {
    sent_at: HashMap<String, Instant>,
    acked: HashMap<String, ()>,
    /// Deliveries to members other than the sender, per client_msg_id.
    delivered: HashMap<String, u32>,
    sent: u64,
    errors: HashMap<String, u64>,
    ack: Histogram<u64>,
    deliver: Histogram<u64>,
}

fn lock(t: &Mutex<Tracker>) -> std::sync::MutexGuard<'_, Tracker> {
    t.lock().unwrap_or_else(|p| p.into_inner())
}

pub async fn run(args: ChatArgs) -> Result<()> {
    let http = reqwest::Client::new();
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let total_clients = args.conversations * args.members;
    eprintln!(
        "signing up {total_clients} users over {} gateway(s)",
        args.gateways.len()
    );
    let mut clients = Vec::with_capacity(total_clients);
    for i in 0..total_clients {
        clients
            .push(crate::sign_up(&http, &args.gateways[i % args.gateways.len()], &run, i).await?);
    }
    // Conversation k: members k*S .. (k+1)*S, created by the first.
    let mut conversation_of = vec![String::new(); total_clients];
    for k in 0..args.conversations {
        let group = &clients[k * args.members..(k + 1) * args.members];
        let others: Vec<&str> = group[1..].iter().map(|c| c.user_id.as_str()).collect();
        let v: Value = http
            .post(format!("{}/api/v1/conversations", group[0].gateway))
            .bearer_auth(&group[0].token)
            .json(&json!({"kind": "group", "name": format!("load {k}"), "members": others}))
            .send()
            .await?
            .json()
            .await?;
        let id = v["conversation_id"]
            .as_str()
            .context("conversation_id")?
            .to_string();
        for slot in conversation_of
            .iter_mut()
            .skip(k * args.members)
            .take(args.members)
        {
            *slot = id.clone();
        }
    }

    let tracker = Arc::new(Mutex::new(Tracker {
        sent_at: HashMap::new(),
        acked: HashMap::new(),
        delivered: HashMap::new(),
        sent: 0,
        errors: HashMap::new(),
        ack: Histogram::new_with_bounds(1, 60_000_000, 3)?,
        deliver: Histogram::new_with_bounds(1, 60_000_000, 3)?,
    }));
    let per_client_interval =
        Duration::from_secs_f64(total_clients as f64 / args.rate.max(1) as f64);

    // Connect everyone first (and see each answer a ping, so its subscription is live).
    let mut sockets = Vec::with_capacity(total_clients);
    for client in &clients {
        let url = format!("{}/api/v1/ws", client.gateway.replacen("http", "ws", 1));
        let mut req = url.into_client_request()?;
        req.headers_mut()
            .insert("Authorization", format!("Bearer {}", client.token).parse()?);
        let (mut ws, _) = tokio_tungstenite::connect_async(req).await?;
        ws.send(Message::text(r#"{"type":"ping"}"#)).await?;
        while let Some(msg) = ws.next().await {
            if let Message::Text(t) = msg? {
                if t.contains("pong") {
                    break;
                }
            }
        }
        sockets.push(ws);
    }
    eprintln!(
        "running: {} msgs/s over {total_clients} connections for {:?}",
        args.rate, args.duration
    );
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, ws) in sockets.into_iter().enumerate() {
        let conversation = conversation_of[i].clone();
        let tracker = tracker.clone();
        let duration = args.duration;
        tasks.push(tokio::spawn(async move {
            let (mut tx, mut rx) = ws.split();
            let me = format!("{i}-");
            let reader = {
                let tracker = tracker.clone();
                tokio::spawn(async move {
                    while let Some(Ok(msg)) = rx.next().await {
                        let Message::Text(t) = msg else { continue };
                        let Ok(v) = serde_json::from_str::<Value>(&t) else {
                            continue;
                        };
                        let now = Instant::now();
                        match v["type"].as_str() {
                            Some("ack") => {
                                let id = v["client_msg_id"].as_str().unwrap_or_default();
                                let mut t = lock(&tracker);
                                if let Some(sent_at) = t.sent_at.get(id).copied() {
                                    if t.acked.insert(id.to_string(), ()).is_none() {
                                        let us = now.duration_since(sent_at).as_micros() as u64;
                                        let _ = t.ack.record(us.max(1));
                                    }
                                }
                            }
                            Some("event") if v["event"]["kind"] == "message_sent" => {
                                let body = v["event"]["body"].as_str().unwrap_or_default();
                                let Some(id) = body.strip_prefix("lt ") else {
                                    continue;
                                };
                                if id.starts_with(&me) {
                                    continue; // our own message echoed to this device
                                }
                                let mut t = lock(&tracker);
                                let Some(sent_at) = t.sent_at.get(id).copied() else {
                                    continue;
                                };
                                let us = now.duration_since(sent_at).as_micros() as u64;
                                let _ = t.deliver.record(us.max(1));
                                *t.delivered.entry(id.to_string()).or_default() += 1;
                            }
                            Some("error") => {
                                let code = v["code"].as_str().unwrap_or("?").to_string();
                                *lock(&tracker).errors.entry(code).or_default() += 1;
                            }
                            _ => {}
                        }
                    }
                })
            };
            // Stagger the start so clients do not send in lockstep.
            tokio::time::sleep(per_client_interval.mul_f64((i % 100) as f64 / 100.0)).await;
            let mut ticker = tokio::time::interval(per_client_interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut n = 0u64;
            while started.elapsed() < duration {
                ticker.tick().await;
                n += 1;
                let id = format!("{i}-{n}");
                {
                    let mut t = lock(&tracker);
                    t.sent_at.insert(id.clone(), Instant::now());
                    t.sent += 1;
                }
                let frame = json!({"type": "send", "conversation_id": conversation,
                    "client_msg_id": id, "body": format!("lt {id}")});
                if tx.send(Message::text(frame.to_string())).await.is_err() {
                    break;
                }
            }
            anyhow::Ok((tx, reader))
        }));
    }
    let mut open = Vec::new();
    for t in tasks {
        match t.await? {
            Ok(socket) => open.push(socket),
            Err(e) => eprintln!("client failed: {e:#}"),
        }
    }
    // Keep reading while the last acks and deliveries arrive: until nothing new came
    // for 5 s (at most 2 min), so late is told apart from lost.
    let drain_started = Instant::now();
    let mut quiet_since = Instant::now();
    let mut seen = 0u64;
    while quiet_since.elapsed() < Duration::from_secs(5)
        && drain_started.elapsed() < Duration::from_secs(120)
    {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now_seen = {
            let t = lock(&tracker);
            t.ack.len() + t.deliver.len()
        };
        if now_seen != seen {
            seen = now_seen;
            quiet_since = Instant::now();
        }
    }
    eprintln!("drained in {:?}", drain_started.elapsed());
    for (mut tx, reader) in open {
        let _ = tx.send(Message::Close(None)).await;
        reader.abort();
    }
    let elapsed = args.duration;
    let t = lock(&tracker);
    let others = (args.members - 1) as u32;
    let mut lost = 0u64;
    let mut delivered = 0u64;
    for id in t.acked.keys() {
        let got = t.delivered.get(id).copied().unwrap_or(0);
        delivered += u64::from(got.min(others));
        if got < others {
            lost += 1;
        }
    }
    // More deliveries than other members: someone got a message twice.
    let duplicates: u64 = t
        .delivered
        .values()
        .map(|n| u64::from(n.saturating_sub(others)))
        .sum();
    let summary = Summary {
        scenario: args.scenario.clone(),
        connections: total_clients,
        sent: t.sent,
        acked: t.acked.len() as u64,
        delivered,
        lost,
        duplicates,
        errors: t.errors.clone(),
        ack_ms: Latency::from_micros(&t.ack),
        deliver_ms: Latency::from_micros(&t.deliver),
        msgs_per_s: t.acked.len() as f64 / elapsed.as_secs_f64(),
        deliveries_per_s: delivered as f64 / elapsed.as_secs_f64(),
        elapsed_s: elapsed.as_secs_f64(),
    };
    std::fs::create_dir_all(&args.out)?;
    let path = args.out.join("summary.json");
    std::fs::write(&path, serde_json::to_string_pretty(&summary)?)?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    eprintln!("wrote {}", path.display());
    Ok(())
}
