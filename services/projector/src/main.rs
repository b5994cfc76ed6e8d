//! `chat-projector --role history|fanout|presence`: one consumer group per role, so each
//! scales and fails on its own. Serves `/healthz`, `/readyz` and `/metrics` on `--port`.

use std::sync::Arc;

use anyhow::{Context, Result};
use chat_core::codec::EventCodec;
use chat_core::config::Settings;
use chat_core::topics::Topics;
use chat_history::HistoryStore;
use chat_projector::dead_letter::DeadLetters;
use chat_projector::fanout::Fanout;
use chat_projector::history::History;
use chat_projector::presence::{self, Presence};
use chat_projector::runner::{Projection, Runner};
use chat_projector::{http, lag};
use clap::Parser;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::FutureProducer;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "chat-projector",
    version,
    about = "Projects the chat log into read models and live delivery"
)]
struct Cli {
    /// Which projection to run.
    #[arg(long, value_parser = ["history", "fanout", "presence"])]
    role: String,
    /// Port of /healthz, /readyz and /metrics.
    #[arg(long, default_value_t = 9101)]
    port: u16,
    /// Consumer group (default: chat-projector-<role>).
    #[arg(long)]
    group: Option<String>,
    /// fanout: events older than this when read are not pushed live (clients that
    /// were online see the gap and `sync`); they still count in `prev_seq`.
    #[arg(long, env = "CHAT_FANOUT_STALE_AFTER_SECS", default_value_t = 30)]
    stale_after_secs: u64,
}

/// What every role's loop is built from.
struct Parts {
    consumer: Arc<StreamConsumer>,
    producer: FutureProducer,
    codec: Arc<EventCodec>,
    topic: String,
    topics: Topics,
    group: String,
    role: String,
    shutdown: CancellationToken,
}

impl Parts {
    async fn run<P: Projection>(self, projection: P) -> Result<()> {
        let runner = Runner {
            consumer: self.consumer,
            codec: self.codec,
            dead_letters: DeadLetters::new(
                self.producer,
                self.topics.dead_letter.clone(),
                self.group,
            ),
            topic: self.topic,
            role: self.role,
            projection,
            shutdown: self.shutdown,
        };
        runner.run(None).await
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load()?;
    chat_core::telemetry::init_tracing(&settings.telemetry);
    let metrics = chat_core::telemetry::install_metrics("projector")?;
    let topics = Topics::from_settings(&settings.kafka);
    let topic = match cli.role.as_str() {
        "presence" => topics.presence.clone(),
        _ => topics.conversation_events.clone(),
    };
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
    consumer.subscribe(&[&topic]).context("subscribing")?;
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
        topic.clone(),
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

    let session = chat_core::cql::connect_keyspace(&settings.cql).await?;
    let history = HistoryStore::new(session, &settings.cql.keyspace).await?;
    tracing::info!(role = %cli.role, %group, %topic, port = cli.port, "projector running");
    let parts = Parts {
        consumer,
        producer,
        codec,
        topic,
        topics,
        group,
        role: cli.role.clone(),
        shutdown: shutdown.clone(),
    };
    match cli.role.as_str() {
        "history" => parts.run(History { store: history }).await?,
        "fanout" => {
            let redis = chat_core::redis_client::connect_patient(
                &settings.redis,
                std::time::Duration::from_secs(10),
            )
            .await
            .context("connecting to Redis")?;
            parts
                .run(Fanout {
                    redis,
                    history,
                    stale_after: std::time::Duration::from_secs(cli.stale_after_secs),
                })
                .await?
        }
        _ => {
            let redis = chat_core::redis_client::connect_patient(
                &settings.redis,
                std::time::Duration::from_secs(10),
            )
            .await
            .context("connecting to Redis")?;
            let p = Presence {
                redis,
                history: Arc::new(history),
                ttl: settings.presence.ttl(),
            };
            tokio::spawn(presence::sweep_forever(p.clone(), shutdown.clone()));
            parts.run(p).await?
        }
    }
    tracing::info!("stopped");
    Ok(())
}
