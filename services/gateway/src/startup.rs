//! Building the gateway from its settings, serving it, and shutting it down in order:
//! stop accepting, close sockets with 1001, flush the producer, drop the liveness key.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use chat_core::audit::AuditLog;
use chat_core::codec::EventCodec;
use chat_core::config::Settings;
use chat_core::topics::Topics;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::accounts::Accounts;
use crate::append::Appender;
use crate::auth::password::PasswordPool;
use crate::auth::SignIns;
use crate::auth::Tokens;
use crate::configuration::GatewaySettings;
use crate::history_progress::HistoryProgress;
use crate::listener;
use crate::live::presence_log::PresenceLog;
use crate::live::Hub;
use crate::routes;
use crate::state::{AppState, Inner};
use crate::throttle::Throttles;
use crate::ws::caps::SocketCaps;
use chat_store::accounts::AccountStore;
use chat_store::dedup::DedupStore;
use chat_store::membership::MembershipStore;
use chat_store::mutes::MuteStore;
use chat_store::pointers::PointerStore;
use chat_store::rate_limits::RateLimitStore;
use chat_store::sign_ins::SignInStore;
use chat_store::{sessions, HistoryStore};

/// The bound sockets: the public one (clients) and the internal ops one.
pub struct Listeners {
    pub public: TcpListener,
    pub ops: TcpListener,
}

pub async fn build(
    settings: Settings,
    mut gateway: GatewaySettings,
) -> Result<(AppState, Listeners)> {
    gateway.resolve_gateway_id();
    let metrics = chat_core::telemetry::install_metrics("gateway").context("metrics")?;
    let topics = Topics::from_settings(&settings.kafka);
    let kafka = settings.kafka.clone();
    tokio::task::spawn_blocking(move || {
        chat_core::kafka::verify_credentials(&kafka, Duration::from_secs(5))
    })
    .await??;
    let codec = Arc::new(EventCodec::new(&settings.registry).context("schema registry client")?);
    let producer =
        chat_core::kafka::producer(&settings.kafka, &format!("gateway-{}", gateway.gateway_id))
            .context("Kafka producer")?;
    let cql = chat_core::cql::connect_keyspace_patiently(&settings.cql)
        .await
        .context("connecting to the CQL store")?;
    let redis = chat_core::redis_client::connect(&settings.redis)
        .await
        .context("connecting to Redis")?;
    let keyspace = &settings.cql.keyspace;
    let accounts = AccountStore::new(cql.clone(), keyspace)
        .await
        .context("preparing account statements")?;
    let membership = MembershipStore::new(redis.clone(), cql.clone(), keyspace)
        .await
        .context("preparing membership statements")?;
    let keyring = chat_store::keyring::Keyring::new(cql.clone(), keyspace, &settings.compliance)
        .await
        .context("setting up the data keys (compliance.*)")?
        .shared();
    let history = HistoryStore::new(cql.clone(), keyspace)
        .await
        .context("preparing history statements")?
        .with_keyring(keyring.clone());
    let admin = if gateway.admin_token.is_empty() {
        None
    } else {
        tracing::info!("the admin API is on (ops listener, gateway.admin_token)");
        Some(crate::admin::Admin {
            token: gateway.admin_token.clone(),
            accounts: AccountStore::new(cql.clone(), keyspace)
                .await
                .context("preparing account statements")?,
            sign_ins: SignInStore::new(redis.clone()),
            holds: chat_store::legal_holds::HoldStore::new(cql.clone(), keyspace)
                .await
                .context("preparing legal hold statements")?,
            history: HistoryStore::new(cql.clone(), keyspace)
                .await
                .context("preparing history statements")?,
            keyring: keyring.clone(),
        })
    };
    let mutes = MuteStore::new(cql.clone(), keyspace)
        .await
        .context("preparing mute statements")?;
    let shutdown = CancellationToken::new();
    // Audit records share the appender's producer (one connection pool to Kafka per
    // process) and name this gateway as their origin.
    let audit_log = Arc::new(AuditLog::new(
        producer.clone(),
        codec.clone(),
        &topics,
        gateway.gateway_id.clone(),
    ));
    let presence_log = PresenceLog::new(
        producer.clone(),
        codec.clone(),
        topics.presence.clone(),
        gateway.gateway_id.clone(),
    );
    let hub = Hub::start(
        &gateway.gateway_id,
        &settings.redis,
        presence_log,
        &settings.presence,
        shutdown.clone(),
    )
    .await
    .context("subscribing to Redis for live delivery")?;
    let listener = TcpListener::bind((gateway.host.as_str(), gateway.port))
        .await
        .with_context(|| format!("binding {}:{}", gateway.host, gateway.port))?;
    let ops_listener = TcpListener::bind((gateway.ops_host.as_str(), gateway.ops_port))
        .await
        .with_context(|| {
            format!(
                "binding the ops port {}:{} (gateway.ops_host, gateway.ops_port, --ops-port)",
                gateway.ops_host, gateway.ops_port
            )
        })?;
    let listeners = Listeners {
        public: listener,
        ops: ops_listener,
    };
    let state = AppState::new(Inner {
        tokens: Tokens::new(&gateway),
        sign_ins: SignIns::new(SignInStore::new(redis.clone()), gateway.auth.clone()),
        socket_caps: SocketCaps::new(
            gateway.max_sockets_per_user,
            gateway.max_sockets_per_address,
        ),
        passwords: PasswordPool::new(hashing_threads(), PASSWORDS_WAITING)
            .context("starting the password hashing threads")?,
        accounts: Accounts::new(accounts),
        membership,
        history,
        mutes,
        dedup: DedupStore::new(
            redis.clone(),
            Duration::from_secs(gateway.dedup_abandon_after_secs),
            Duration::from_secs(gateway.dedup_ttl_secs),
        ),
        pointers: PointerStore::new(redis.clone()),
        uploads: chat_store::uploads::UploadStore::new(redis.clone()),
        reaction_tally: chat_store::reaction_tally::ReactionTally::new(redis.clone()),
        objects: if gateway.attachments.enabled() {
            Some(
                crate::attachments::ObjectStore::new(&gateway.attachments)
                    .context("setting up attachments' object storage")?,
            )
        } else {
            tracing::info!("attachments are off: gateway.attachments.endpoint is not set");
            None
        },
        search: crate::search::SearchNodes::from_settings(
            &gateway.search_urls,
            Duration::from_millis(gateway.search_timeout_ms),
        )
        .context("setting up search")?,
        history_progress: Arc::new(
            HistoryProgress::new(
                &settings.kafka,
                topics.conversation_events.clone(),
                &gateway.history_group,
                Duration::from_millis(gateway.history_wait_ms),
            )
            .context("creating the Kafka client that reads history's progress")?,
        ),
        throttles: Throttles::new(
            &gateway.throttle,
            gateway.throttle.trusted().map_err(anyhow::Error::msg)?,
        )
        .shared_with(RateLimitStore::new(redis.clone()), &gateway.throttle),
        appender: Appender::new(producer, codec, topics.conversation_events.clone(), keyring),
        audit_log,
        admin,
        who_may_add: settings.groups.who_may_add,
        compliance: settings.compliance.clone(),
        hub,
        redis,
        cql,
        metrics,
        shutdown,
        settings: gateway,
    });
    Ok((state, listeners))
}

/// Sign-ins and sign-ups that may wait for a hashing thread before more are refused.
const PASSWORDS_WAITING: usize = 64;

/// One hashing thread per core: hashing is CPU-bound, more threads only add memory.
fn hashing_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

pub async fn serve(state: AppState, listeners: Listeners) -> Result<()> {
    let Listeners { public, ops } = listeners;
    let heartbeat = tokio::spawn(sessions::heartbeat(
        state.redis.clone(),
        state.settings.gateway_id.clone(),
    ));
    let addr = public.local_addr()?;
    let ops_addr = ops.local_addr()?;
    let scheme = if state.settings.tls.cert_path.is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!(%addr, %ops_addr, scheme, gateway_id = %state.settings.gateway_id, "gateway listening");
    // The ops listener answers until the public one has drained: /readyz says
    // `not_ready` during shutdown, which is what a load balancer should see.
    let ops_app = routes::ops_router(state.clone());
    let ops_stop = CancellationToken::new();
    let ops_stopped = ops_stop.clone();
    let ops_server = tokio::spawn(async move {
        if let Err(e) = axum::serve(ops, ops_app)
            .with_graceful_shutdown(async move { ops_stopped.cancelled().await })
            .await
        {
            tracing::warn!(error = %e, "the ops listener stopped");
        }
    });

    let shutdown = state.shutdown.clone();
    tokio::spawn(async move {
        chat_core::shutdown::signalled().await;
        tracing::info!("shutting down: closing sockets, flushing the producer");
        shutdown.cancel();
    });

    // Throttling state is per key; keys whose buckets are full again are forgotten.
    let forgetting = state.clone();
    let forget = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            forgetting.throttles.forget_idle();
        }
    });

    tokio::spawn(crate::memory::trim_after_closes(state.shutdown.clone()));

    let app = routes::router(state.clone());
    let limits = listener::Limits {
        header_read_timeout: Duration::from_millis(state.settings.header_read_timeout_ms),
        max_connections: state.settings.max_connections,
    };
    let tls = crate::tls::acceptor(&state.settings.tls).context("gateway TLS")?;
    listener::serve(public, app, limits, tls, state.shutdown.clone()).await?;
    wait_for_sockets_to_close(&state).await;

    ops_stop.cancel();
    let _ = ops_server.await;
    heartbeat.abort();
    forget.abort();
    let mut redis = state.redis.clone();
    sessions::gateway_stopped(&mut redis, &state.settings.gateway_id).await;
    // One producer carries appends and audit records: this flush delivers both.
    let flushing = state.clone();
    tokio::task::spawn_blocking(move || flushing.appender.flush(Duration::from_secs(10))).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Sockets close in their own tasks at shutdown (over `gateway.shutdown_spread_secs`);
/// the process stays until they have, so each client gets its close frame (1001) rather
/// than a reset, bounded by the spread and a few seconds for the last close frames.
async fn wait_for_sockets_to_close(state: &AppState) {
    let patience = Duration::from_secs(state.settings.shutdown_spread_secs + 3);
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        let open = state.socket_caps.open_sockets();
        if open == 0 {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(open, "sockets still open after the shutdown spread");
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
