//! `chat-loadtest`: a load generator that speaks the real client protocol
//! (../shared/PROTOCOL.md) to running gateways. Bounded in connections and time, it
//! stops by itself and writes `summary.json` to `--out`.
//!
//! Scenarios: `chat` (see [`chat`]) and `history` (see [`history`]).

mod chat;
mod history;
mod report;

use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;
use serde_json::{json, Value};

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
    chat::run(chat::ChatArgs {
        gateways: args.gateways.clone(),
        conversations: args.conversations,
        members: args.members,
        rate: args.rate,
        duration: args.duration,
        out: args.out.clone(),
        scenario: args.scenario.clone(),
    })
    .await
}
