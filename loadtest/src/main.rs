//! `chat-loadtest`: a load generator that speaks the real client protocol
//! (../shared/PROTOCOL.md) to running gateways. Bounded in connections and time, it
//! stops by itself and writes `summary.json` to `--out`.
//!
//! Scenario `chat`: C group conversations of S members; every member holds a WebSocket
//! and the members send R messages per second in total, spread evenly. It measures
//! send-to-ack latency (the client's view of "Kafka has it").

mod history;
mod report;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser, Clone)]
#[command(name = "chat-loadtest", about = "Load generator for the chat gateways")]
struct Args {
    /// Scenario to run.
    #[arg(long, default_value = "chat")]
    scenario: String,
    /// How long to send for (e.g. 30s, 2m).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Gateway base URLs; clients are spread over them.
    #[arg(long, default_value = "http://127.0.0.1:8080", value_delimiter = ',')]
    gateways: Vec<String>,
    /// Conversations.
    #[arg(long, default_value_t = 10)]
    conversations: usize,
    /// Members per conversation (each a connection).
    #[arg(long, default_value_t = 5)]
    members: usize,
    /// Messages per second, in total.
    #[arg(long, default_value_t = 500)]
    rate: u64,
    /// Where to write summary.json.
    #[arg(long, default_value = "loadtest-output")]
    out: std::path::PathBuf,
    /// history: messages to fill the conversation with.
    #[arg(long, default_value_t = 100_000)]
    messages: usize,
    /// history: page requests to time.
    #[arg(long, default_value_t = 2000)]
    pages: usize,
    /// history: concurrent page readers.
    #[arg(long, default_value_t = 8)]
    readers: usize,
}

pub(crate) struct Client {
    pub(crate) user_id: String,
    pub(crate) token: String,
    pub(crate) gateway: String,
}

pub(crate) async fn sign_up(
    http: &reqwest::Client,
    gateway: &str,
    run: &str,
    i: usize,
) -> Result<Client> {
    let username = format!("lt-{run}-{i}");
    let password = "load-test-password";
    let r = http
        .post(format!("{gateway}/api/v1/users"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await?;
    if r.status().as_u16() != 201 {
        bail!("sign up failed: {}", r.text().await.unwrap_or_default());
    }
    let v: Value = http
        .post(format!("{gateway}/api/v1/auth"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await?
        .json()
        .await?;
    Ok(Client {
        user_id: v["user_id"].as_str().context("user_id")?.to_string(),
        token: v["token"].as_str().context("token")?.to_string(),
        gateway: gateway.to_string(),
    })
}

#[derive(Default)]
struct Totals {
    sent: u64,
    acked: u64,
    errors: HashMap<String, u64>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    match args.scenario.as_str() {
        "chat" => {}
        "history" => {
            return history::run(history::HistoryArgs {
                gateway: args.gateways[0].clone(),
                messages: args.messages,
                pages: args.pages,
                readers: args.readers,
                senders: args.members.max(1),
                out: args.out.clone(),
            })
            .await;
        }
        other => bail!("scenario {other} is not implemented yet (available: chat, history)"),
    }
    let http = reqwest::Client::new();
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let total_clients = args.conversations * args.members;
    eprintln!(
        "signing up {total_clients} users over {} gateway(s)",
        args.gateways.len()
    );
    let mut clients = Vec::with_capacity(total_clients);
    for i in 0..total_clients {
        clients.push(sign_up(&http, &args.gateways[i % args.gateways.len()], &run, i).await?);
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

    let ack_hist = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(
        1, 60_000_000, 3,
    )?));
    let totals = Arc::new(Mutex::new(Totals::default()));
    let per_client_interval =
        Duration::from_secs_f64(total_clients as f64 / args.rate.max(1) as f64);
    eprintln!(
        "running: {} msgs/s over {total_clients} connections for {:?}",
        args.rate, args.duration
    );
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, client) in clients.into_iter().enumerate() {
        let conversation = conversation_of[i].clone();
        let (ack_hist, totals) = (ack_hist.clone(), totals.clone());
        let duration = args.duration;
        tasks.push(tokio::spawn(async move {
            let url = format!("{}/api/v1/ws", client.gateway.replacen("http", "ws", 1));
            let mut req = url.into_client_request()?;
            req.headers_mut().insert("Authorization", format!("Bearer {}", client.token).parse()?);
            let (ws, _) = tokio_tungstenite::connect_async(req).await?;
            let (mut tx, mut rx) = ws.split();
            let pending: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
            let reader = {
                let (pending, ack_hist, totals) = (pending.clone(), ack_hist.clone(), totals.clone());
                tokio::spawn(async move {
                    while let Some(Ok(msg)) = rx.next().await {
                        let Message::Text(t) = msg else { continue };
                        let Ok(v) = serde_json::from_str::<Value>(&t) else { continue };
                        match v["type"].as_str() {
                            Some("ack") => {
                                let id = v["client_msg_id"].as_str().unwrap_or_default();
                                if let Some(sent_at) = pending.lock().await.remove(id) {
                                    let us = sent_at.elapsed().as_micros() as u64;
                                    let _ = ack_hist.lock().await.record(us.max(1));
                                    totals.lock().await.acked += 1;
                                }
                            }
                            Some("error") => {
                                let code = v["code"].as_str().unwrap_or("?").to_string();
                                *totals.lock().await.errors.entry(code).or_default() += 1;
                            }
                            _ => {}
                        }
                    }
                })
            };
            // Stagger the start so clients do not send in lockstep.
            tokio::time::sleep(per_client_interval.mul_f64((i % 100) as f64 / 100.0)).await;
            let mut ticker = tokio::time::interval(per_client_interval);
            let mut n = 0u64;
            while started.elapsed() < duration {
                ticker.tick().await;
                n += 1;
                let id = format!("{i}-{n}");
                pending.lock().await.insert(id.clone(), Instant::now());
                let frame = json!({"type": "send", "conversation_id": conversation, "client_msg_id": id, "body": format!("load message {n}")});
                if tx.send(Message::text(frame.to_string())).await.is_err() {
                    break;
                }
                totals.lock().await.sent += 1;
            }
            // Let the last acks arrive.
            let drain = Instant::now();
            while !pending.lock().await.is_empty() && drain.elapsed() < Duration::from_secs(10) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let _ = tx.send(Message::Close(None)).await;
            reader.abort();
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        if let Err(e) = t.await? {
            eprintln!("client failed: {e:#}");
        }
    }
    let elapsed = started.elapsed();
    let hist = ack_hist.lock().await;
    let totals = totals.lock().await;
    let summary = report::Summary::new(
        &args.scenario,
        total_clients,
        &totals.sent,
        &totals.acked,
        &totals.errors,
        &hist,
        elapsed,
    );
    std::fs::create_dir_all(&args.out)?;
    let path = args.out.join("summary.json");
    std::fs::write(&path, serde_json::to_string_pretty(&summary)?)?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    eprintln!("wrote {}", path.display());
    Ok(())
}
