//! `chat-projector --role history|fanout|presence|notifications|webhook`: one consumer
//! group per role, so each scales and fails on its own. Serves `/healthz`, `/readyz` and
//! `/metrics` on `--port`.

use std::sync::Arc;

use anyhow::{Context, Result};
use chat_core::codec::EventCodec;
use chat_core::config::Settings;
use chat_core::topics::Topics;
use chat_projector::dead_letter::DeadLetters;
use chat_projector::fanout::Fanout;
use chat_projector::history::History;
use chat_projector::notifications::emitter::Emitter;
use chat_projector::notifications::Notifications;
use chat_projector::presence::{self, Presence};
use chat_projector::role::Role;
use chat_projector::runner::{Projection, Runner};
use chat_projector::webhook::Webhook;
use chat_projector::{http, lag};
use chat_store::accounts::AccountStore;
use chat_store::live::FanoutChain;
use chat_store::membership::MembershipStore;
use chat_store::mutes::MuteStore;
use chat_store::notify_window;
use chat_store::HistoryStore;
use clap::Parser;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::FutureProducer;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "chat-projector",
    version,
    about = "Projects the chat log into read models and live delivery"
)]
struct Cli {
    /// Which projection to run.
    #[arg(long, value_enum)]
    role: Role,
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
    /// notifications: at most one notification per recipient and conversation per
    /// window; the messages in between are counted into the next one.
    #[arg(long, env = "CHAT_NOTIFY_WINDOW_SECS", default_value_t = 30)]
    notify_window_secs: u64,
    /// notifications: messages older than this when read are not notified (after an
    /// outage, or a new consumer group starting at the beginning of the log).
    #[arg(long, env = "CHAT_NOTIFY_MAX_AGE_SECS", default_value_t = 3600)]
    notify_max_age_secs: u64,
    /// webhook: where notifications are POSTed.
    #[arg(long, env = "CHAT_WEBHOOK_URL")]
    webhook_url: Option<String>,
    /// webhook: the HMAC-SHA256 key shared with the receiver (from the environment, so
    /// it stays out of process listings).
    #[arg(long, env = "CHAT_WEBHOOK_SECRET", hide_env_values = true)]
    webhook_secret: Option<String>,
    /// webhook: attempts per notification before it is parked on the dead-letter topic.
    #[arg(long, env = "CHAT_WEBHOOK_ATTEMPTS", default_value_t = 8)]
    webhook_attempts: usize,
    /// webhook: the first retry's delay; each later one doubles, up to 60 s, with jitter.
    #[arg(long, env = "CHAT_WEBHOOK_BACKOFF_MS", default_value_t = 500)]
    webhook_backoff_ms: u64,
    /// webhook: how long one request may take.
    #[arg(long, env = "CHAT_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000)]
    webhook_timeout_ms: u64,
}

/// What every role's loop is built from.
struct Parts {
    consumer: Arc<StreamConsumer>,
    producer: FutureProducer,
    codec: Arc<EventCodec>,
    topic: String,
    topics: Topics,
    group: String,
    role: Role,
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

/// A role with what it needs that can be checked before anything is connected.
enum Plan {
    History,
    Fanout,
    Presence,
    Notifications,
    Webhook(Webhook),
}

impl Plan {
    fn of(cli: &Cli) -> Result<Self> {
        Ok(match cli.role {
            Role::History => Plan::History,
            Role::Fanout => Plan::Fanout,
            Role::Presence => Plan::Presence,
            Role::Notifications => Plan::Notifications,
            Role::Webhook => Plan::Webhook(webhook_sink(cli)?),
        })
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    // The webhook role's own settings are checked before anything is connected.
    let plan = Plan::of(&cli)?;
    let settings = Settings::load()?;
    chat_core::telemetry::init_tracing(&settings.telemetry);
    let metrics = chat_core::telemetry::install_metrics("projector")?;
    let role = cli.role;
    let topics = Topics::from_settings(&settings.kafka);
    let topic = role.topic(&topics).to_string();
    let group = cli.group.clone().unwrap_or_else(|| role.default_group());
    let client_id = format!("projector-{role}-{}", std::process::id());
    let consumer = Arc::new(chat_core::kafka::consumer(
        &settings.kafka,
        &client_id,
        &group,
    )?);
    consumer.subscribe(&[&topic]).context("subscribing")?;
    let producer = chat_core::kafka::producer(&settings.kafka, &client_id)?;
    let codec = Arc::new(EventCodec::new(&settings.registry)?);
    let shutdown = chat_core::shutdown::on_signal();

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
    tokio::spawn(lag::publish(consumer.clone(), topic.clone(), role));

    tracing::info!(%role, %group, %topic, port = cli.port, "projector running");
    let parts = Parts {
        consumer,
        producer,
        codec,
        topic,
        topics,
        group,
        role,
        shutdown: shutdown.clone(),
    };
    match plan {
        // The one role that needs neither the CQL store nor Redis.
        Plan::Webhook(webhook) => parts.run(webhook).await?,
        Plan::History => {
            let session = chat_core::cql::connect_keyspace_patiently(&settings.cql)
                .await
                .context("connecting to the CQL store")?;
            let history = HistoryStore::new(session, &settings.cql.keyspace).await?;
            parts.run(History { store: history }).await?
        }
        Plan::Fanout => {
            let stores = Stores::connect(&settings).await?;
            parts
                .run(Fanout {
                    chain: FanoutChain::new(stores.redis),
                    members: stores.membership,
                    stale_after: Duration::from_secs(cli.stale_after_secs),
                })
                .await?
        }
        Plan::Presence => {
            let stores = Stores::connect(&settings).await?;
            let p = Presence {
                redis: stores.redis,
                history: Arc::new(stores.history),
                membership: stores.membership,
                ttl: settings.presence.ttl(),
                max_group_members: settings.presence.max_group_members,
            };
            tokio::spawn(presence::sweep_forever(p.clone(), shutdown.clone()));
            parts.run(p).await?
        }
        Plan::Notifications => {
            let stores = Stores::connect(&settings).await?;
            let keyspace = &settings.cql.keyspace;
            let mutes = MuteStore::new(stores.session.clone(), keyspace)
                .await
                .context("preparing mute statements")?;
            let accounts = AccountStore::new(stores.session, keyspace)
                .await
                .context("preparing account statements")?;
            let window = Duration::from_secs(cli.notify_window_secs);
            let namespace = notify_window::namespace(&parts.topics.notifications);
            let wake = Arc::new(Notify::new());
            let emitter = Emitter {
                redis: stores.redis.clone(),
                producer: parts.producer.clone(),
                codec: parts.codec.clone(),
                topic: parts.topics.notifications.clone(),
                window,
                wake: wake.clone(),
                shutdown: shutdown.clone(),
            };
            let sending = tokio::spawn(emitter.run());
            parts
                .run(Notifications {
                    redis: stores.redis,
                    membership: stores.membership,
                    mutes,
                    accounts,
                    window,
                    namespace,
                    max_age: Duration::from_secs(cli.notify_max_age_secs),
                    wake,
                    direct: Default::default(),
                    usernames: Default::default(),
                })
                .await?;
            let _ = sending.await;
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// The CQL session, the history store, Redis and the membership record: what the
/// fanout, presence and notifications roles build on.
struct Stores {
    session: Arc<scylla::client::session::Session>,
    history: HistoryStore,
    redis: redis::aio::ConnectionManager,
    membership: Arc<MembershipStore>,
}

impl Stores {
    async fn connect(settings: &Settings) -> Result<Self> {
        let session = chat_core::cql::connect_keyspace_patiently(&settings.cql)
            .await
            .context("connecting to the CQL store")?;
        let keyspace = &settings.cql.keyspace;
        let history = HistoryStore::new(session.clone(), keyspace).await?;
        let redis =
            chat_core::redis_client::connect_patient(&settings.redis, Duration::from_secs(10))
                .await
                .context("connecting to Redis")?;
        let membership = Arc::new(
            MembershipStore::new(redis.clone(), session.clone(), keyspace)
                .await
                .context("preparing membership statements")?,
        );
        Ok(Self {
            session,
            history,
            redis,
            membership,
        })
    }
}

/// The webhook role's sink, from its flags: a clear error for what is missing.
fn webhook_sink(cli: &Cli) -> Result<Webhook> {
    let url = cli
        .webhook_url
        .as_deref()
        .context("--role webhook needs --webhook-url (CHAT_WEBHOOK_URL)")?;
    let url = reqwest::Url::parse(url).context("--webhook-url is not a URL")?;
    let secret = cli
        .webhook_secret
        .as_deref()
        .filter(|s| !s.is_empty())
        .context("--role webhook needs CHAT_WEBHOOK_SECRET")?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(cli.webhook_timeout_ms))
        .build()
        .context("building the HTTP client")?;
    Ok(Webhook {
        client,
        url,
        secret: secret.as_bytes().to_vec(),
        attempts: cli.webhook_attempts.max(1),
        first_backoff: Duration::from_millis(cli.webhook_backoff_ms),
        max_backoff: Duration::from_secs(60),
    })
}
