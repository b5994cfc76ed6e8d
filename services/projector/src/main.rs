//! `chat-projector --role history|fanout|presence|notifications|webhook|search`: one
//! consumer group per role, so each scales and fails on its own. Serves `/healthz`, `/readyz` and
//! `/metrics` on `--port`. Everything else a role needs is in the shared settings
//! (`fanout`, `notifications`, `webhook` sections; `CHAT__FANOUT__*`, ...), and the
//! search role's in its own `search` section (`CHAT__SEARCH__*`).

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
use chat_projector::search::{self, Search, SearchSettings, Shards};
use chat_projector::webhook::Webhook;
use chat_projector::{http, lag};
use chat_store::accounts::AccountStore;
use chat_store::keyring::Keyring;
use chat_store::live::FanoutChain;
use chat_store::membership::MembershipStore;
use chat_store::mutes::MuteStore;
use chat_store::notify_window;
use chat_store::HistoryStore;
use clap::{Parser, Subcommand};
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
#[command(subcommand_negates_reqs = true)]
struct Cli {
    /// Which projection to run.
    #[arg(long, value_enum, required = true)]
    role: Option<Role>,
    /// Port of /healthz, /readyz and /metrics.
    #[arg(long, default_value_t = 9101, global = true)]
    port: u16,
    /// Consumer group (default: chat-projector-<role>).
    #[arg(long)]
    group: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Ask the projector running here on `--port` whether it is alive (GET /healthz)
    /// and exit 0 or 1: a container's health check.
    Healthcheck,
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
        Ok(runner.run(None).await?)
    }
}

/// A role with what it needs that can be checked before anything is connected.
enum Plan {
    History,
    Fanout,
    Presence,
    Notifications,
    Webhook(Webhook),
    Search(SearchSettings),
}

impl Plan {
    fn of(role: Role, settings: &Settings, search: Option<SearchSettings>) -> Result<Self> {
        Ok(match role {
            Role::History => Plan::History,
            Role::Fanout => Plan::Fanout,
            Role::Presence => Plan::Presence,
            Role::Notifications => Plan::Notifications,
            Role::Webhook => Plan::Webhook(Webhook::from_settings(&settings.webhook)?),
            Role::Search => Plan::Search(search.context("the search role's settings")?),
        })
    }
}

/// How long the start-up check waits for Kafka to answer (or refuse) this client.
const KAFKA_CHECK_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let role = match (cli.command, cli.role) {
        (Some(Command::Healthcheck), _) => return Ok(chat_core::healthcheck::probe(cli.port)?),
        (None, Some(role)) => role,
        // clap requires --role without a subcommand; said again rather than unwrapped.
        (None, None) => anyhow::bail!("--role is required"),
    };
    let (settings, search_settings) = if role == Role::Search {
        let (shared, own) = Settings::load_with::<SearchSettings>()?;
        (shared, Some(own))
    } else {
        (Settings::load()?, None)
    };
    // The webhook and search roles' own settings are checked before anything is connected.
    let plan = Plan::of(role, &settings, search_settings)?;
    chat_core::telemetry::init_tracing(&settings.telemetry);
    let metrics = chat_core::telemetry::install_metrics("projector")?;
    let topics = Topics::from_settings(&settings.kafka);
    let topic = role.topic(&topics).to_string();
    let group = cli.group.clone().unwrap_or_else(|| role.default_group());
    let client_id = format!("projector-{role}-{}", std::process::id());
    let kafka = settings.kafka.clone();
    tokio::task::spawn_blocking(move || {
        chat_core::kafka::verify_credentials(&kafka, KAFKA_CHECK_WITHIN)
    })
    .await??;
    let consumer = Arc::new(chat_core::kafka::consumer(
        &settings.kafka,
        &client_id,
        &group,
    )?);
    // The search role assigns itself its partitions (its shards are on this disk).
    if !matches!(plan, Plan::Search(_)) {
        consumer.subscribe(&[&topic]).context("subscribing")?;
    }
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
        // The roles that need neither the CQL store nor Redis.
        Plan::Webhook(webhook) => {
            let keyring = keyring_only(&settings).await?;
            parts.run(webhook.with_keyring(keyring)).await?
        }
        Plan::Search(own) => {
            let shards = Arc::new(open_search(&parts.consumer, &parts.topic, &own).await?);
            let listener = tokio::net::TcpListener::bind((own.host.as_str(), own.port))
                .await
                .with_context(|| format!("binding the search port {}:{}", own.host, own.port))?;
            let app = search::http::router(shards.clone());
            let stop = shutdown.clone();
            tokio::spawn(async move {
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move { stop.cancelled().await })
                    .await;
            });
            tracing::info!(host = %own.host, port = own.port, dir = %own.dir, "search served");
            let keyring = keyring_only(&settings).await?;
            parts.run(Search { shards, keyring }).await?
        }
        Plan::History => {
            let session = chat_core::cql::connect_keyspace_patiently(&settings.cql)
                .await
                .context("connecting to the CQL store")?;
            let history = HistoryStore::new(session, &settings.cql.keyspace).await?;
            parts
                .run(History {
                    store: history,
                    who_may_add: settings.groups.who_may_add,
                })
                .await?
        }
        Plan::Fanout => {
            let stores = Stores::connect(&settings).await?;
            parts
                .run(Fanout {
                    chain: FanoutChain::new(stores.redis),
                    members: stores.membership,
                    keyring: stores.keyring,
                    stale_after: settings.fanout.stale_after(),
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
            let window = settings.notifications.window();
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
                    max_age: settings.notifications.max_age(),
                    wake,
                    direct: Default::default(),
                    usernames: Default::default(),
                    keyring: stores.keyring,
                })
                .await?;
            let _ = sending.await;
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// Open this process's shards and start reading each partition where its shard stops.
async fn open_search(
    consumer: &Arc<StreamConsumer>,
    topic: &str,
    own: &SearchSettings,
) -> Result<Shards> {
    let c = consumer.clone();
    let t = topic.to_string();
    let count = tokio::task::spawn_blocking(move || {
        c.fetch_metadata(Some(&t), Duration::from_secs(30))
            .map(|m| m.topics().first().map_or(0, |t| t.partitions().len()))
    })
    .await?
    .context("reading the topic's partitions")?;
    let count = i32::try_from(count).context("partition count")?;
    if count == 0 {
        anyhow::bail!("topic {topic} has no partitions (is it created?)");
    }
    let partitions =
        search::parse_partitions(&own.partitions, count).map_err(anyhow::Error::msg)?;
    let dir = own.dir.clone();
    let shards = tokio::task::spawn_blocking(move || Shards::open(&dir, &partitions)).await??;
    consumer
        .assign(&shards.assignment(topic)?)
        .context("assigning the partitions")?;
    Ok(shards)
}

/// The data keys alone: what the webhook and search roles need of the CQL store (to
/// open sealed previews and bodies).
async fn keyring_only(settings: &Settings) -> Result<Arc<Keyring>> {
    let session = chat_core::cql::connect_keyspace_patiently(&settings.cql)
        .await
        .context("connecting to the CQL store")?;
    Ok(
        Keyring::new(session, &settings.cql.keyspace, &settings.compliance)
            .await
            .context("setting up the data keys (compliance.*)")?
            .shared(),
    )
}

/// The CQL session, the history store, Redis and the membership record: what the
/// fanout, presence and notifications roles build on.
struct Stores {
    session: Arc<scylla::client::session::Session>,
    keyring: Arc<Keyring>,
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
        let keyring = Keyring::new(session.clone(), keyspace, &settings.compliance)
            .await?
            .shared();
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
            keyring,
            history,
            redis,
            membership,
        })
    }
}
