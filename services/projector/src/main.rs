//! `chat-projector --role history`: one consumer group per role, so each scales and fails
//! on its own. Serves `/healthz`, `/readyz` and `/metrics` on `--port`.

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use chat_core::codec::EventCodec;
use chat_core::config::Settings;
use chat_core::topics::Topics;
use chat_history::HistoryStore;
use chat_projector::dead_letter::DeadLetters;
use chat_projector::history::History;
use chat_projector::runner::Runner;
use chat_projector::{http, lag};
use clap::Parser;
use rdkafka::consumer::Consumer;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "chat-projector",
    version,
    about = "Projects the chat log into read models"
)]
struct Cli {
    /// Which projection to run.
    #[arg(long, value_parser = ["history"])]
    role: String,
    /// Port of /healthz, /readyz and /metrics.
    #[arg(long, default_value_t = 9101)]
    port: u16,
    /// Consumer group (default: chat-projector-<role>).
    #[arg(long)]
    group: Option<String>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load()?;
    chat_core::telemetry::init_tracing(&settings.telemetry);
    let metrics = chat_core::telemetry::install_metrics("projector")?;
    let topics = Topics::from_settings(&settings.kafka);
    let group = cli
        .group
        .clone()
        .unwrap_or_else(|| format!("chat-projector-{}", cli.role));
    let client_id = format!("projector-{}-{}", cli.role, std::process::id());
    let consumer = Arc::new(chat_core::kafka::consumer(
        &settings.kafka,
        &client_id,
        &group,
    )?);
    consumer
        .subscribe(&[&topics.conversation_events])
        .context("subscribing")?;
    let producer = chat_core::kafka::producer(&settings.kafka, &client_id)?;
    let codec = Arc::new(EventCodec::new(&settings.registry)?);
    let shutdown = CancellationToken::new();

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", cli.port))
        .await
        .context("binding the ops port")?;
    let app = http::router(metrics, consumer.clone());
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
    });
    tokio::spawn(lag::publish(
        consumer.clone(),
        topics.conversation_events.clone(),
        cli.role.clone(),
    ));
    let signal = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        signal.cancel();
    });
    #[cfg(unix)]
    {
        let signal = shutdown.clone();
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::spawn(async move {
            term.recv().await;
            signal.cancel();
        });
    }

    let projection = match cli.role.as_str() {
        "history" => {
            let session = chat_core::cql::connect_keyspace(&settings.cql).await?;
            History {
                store: HistoryStore::new(session, &settings.cql.keyspace).await?,
            }
        }
        other => bail!("unknown role {other}"),
    };
    tracing::info!(role = %cli.role, %group, port = cli.port, "projector running");
    let runner = Runner {
        consumer,
        codec,
        dead_letters: DeadLetters::new(producer, topics.dead_letter.clone(), group),
        topic: topics.conversation_events.clone(),
        role: cli.role,
        projection,
        shutdown,
    };
    runner.run(None).await?;
    tracing::info!("stopped");
    Ok(())
}
