//! The sockets this gateway holds, by user, and the subscriptions that feed them.
//!
//! A gateway listens on its own channel, and adds itself to a user's route while it
//! holds at least one of their sockets (`chat_store::live`), so it only ever receives
//! frames for its own users: each frame once, with the list of its users here. Frames
//! arrive already rendered and are copied to each of those users' sockets.
//! A socket whose outbound queue is full (a reader that stopped reading) is disconnected
//! (`outbound`); its client reconnects and repairs the gap with `sync`.
//!
//! Route changes go through one task in the order the socket table changed, so a quick
//! disconnect-reconnect cannot end unrouted.
//!
//! Redis going away (a restart, a failover) loses every frame published meanwhile, and
//! with nothing published afterwards a client would never see the gap. So the
//! subscriber is watched: the client library reports a dropped connection, and a PING
//! every [`SUBSCRIBER_CHECK`] finds one that died silently. The PING is only sent when
//! no frame arrived since the last check: frames arriving prove the connection alive,
//! and under a heavy stream the PING's answer waits behind them, so a timeout there
//! would tell every socket to resync for nothing. Once Redis answers again, the
//! channels are subscribed again, every route still wanted is added again (publishers
//! prune the routes of a gateway nobody listens for), and every socket held at that moment
//! is told to reconnect and sync (closed with 1012, see `ws::connection`): live delivery
//! either resumes or the client is told to resync, never neither.
//!
//! The hub also listens on the revocations channel (`chat_store::sign_ins`): a socket
//! whose sign-in was ended (sign-out, password change, deactivation) is told so at once
//! and closed (`ws::connection`, 4003).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, Utf8Bytes};
use chat_core::config::{PresenceSettings, RedisSettings};
use chat_core::events::PresenceKind;
use chat_core::ids::{SessionId, SignInId, UserId};
use chat_store::live::{RoutedFrame, Routes};
use chat_store::sign_ins::{Revocation, REVOCATIONS_CHANNEL};
use redis::aio::ConnectionManager;
use redis::{PushInfo, PushKind, Value};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::outbound::Outbound;
use super::presence_log::PresenceLog;

/// How often the subscriber connection is checked with a PING.
pub const SUBSCRIBER_CHECK: Duration = Duration::from_secs(2);

struct Local {
    session: SessionId,
    out: Outbound,
    signals: SocketSignals,
}

/// What the hub tells one socket, and what it needs to know to do so.
#[derive(Clone)]
pub struct SocketSignals {
    /// Cancelled when this socket may have missed live frames: it must resync.
    pub interrupted: CancellationToken,
    /// Cancelled when the socket's sign-in was revoked.
    pub revoked: CancellationToken,
    /// The sign-in of the token the socket was opened (or last re-authenticated) with.
    pub sign_in: Option<SignInId>,
    pub auth_ms: i64,
}

/// What the task that owns the subscriber connection is told, in order.
enum Routing {
    Route(UserId, oneshot::Sender<()>),
    Unroute(UserId),
    /// The client library reported the subscriber's connection closed.
    Lost,
}

pub struct Hub {
    sockets: Mutex<HashMap<UserId, Vec<Local>>>,
    subscriptions: mpsc::UnboundedSender<Routing>,
    presence: PresenceLog,
    /// When the last pushed frame arrived, in milliseconds since `started`.
    last_push_ms: AtomicU64,
    started: Instant,
    /// This gateway's channel.
    channel: String,
}

impl Hub {
    /// Connect the subscriber and start the tasks that keep the hub running until
    /// `shutdown`.
    pub async fn start(
        gateway_id: &str,
        redis: &RedisSettings,
        presence: PresenceLog,
        presence_settings: &PresenceSettings,
        shutdown: CancellationToken,
    ) -> redis::RedisResult<Arc<Hub>> {
        let (push_tx, push_rx) = mpsc::unbounded_channel();
        let subscriber = chat_core::redis_client::connect_subscriber(redis, push_tx).await?;
        let (sub_tx, sub_rx) = mpsc::unbounded_channel();
        let routes = Routes::new(gateway_id);
        let hub = Arc::new(Hub {
            sockets: Mutex::new(HashMap::new()),
            subscriptions: sub_tx,
            presence,
            last_push_ms: AtomicU64::new(0),
            started: Instant::now(),
            channel: routes.channel(),
        });
        tokio::spawn(manage_subscriptions(
            subscriber,
            routes,
            sub_rx,
            Arc::downgrade(&hub),
        ));
        tokio::spawn(dispatch(hub.clone(), push_rx));
        tokio::spawn(heartbeats(
            hub.clone(),
            presence_settings.heartbeat_interval(),
            shutdown,
        ));
        Ok(hub)
    }

    fn table(&self) -> MutexGuard<'_, HashMap<UserId, Vec<Local>>> {
        // A panic while holding the lock cannot leave the table half-changed (every
        // change is a single insert or remove), so a poisoned lock is still usable.
        self.sockets.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Register a socket; returns once the user's route leads here, so frames
    /// published from then on reach it. `signals.interrupted` is cancelled if live
    /// delivery to it may have lost frames, `signals.revoked` if its sign-in ends.
    pub async fn join(
        &self,
        user: UserId,
        session: SessionId,
        out: Outbound,
        signals: SocketSignals,
    ) {
        let record = self
            .presence
            .encode(user, session, PresenceKind::Connected)
            .await;
        let subscribed = {
            let mut table = self.table();
            let sockets = table.entry(user).or_default();
            sockets.push(Local {
                session,
                out,
                signals,
            });
            let first = sockets.len() == 1;
            if let Some(r) = record {
                self.presence.enqueue(r);
            }
            if first {
                let (tx, rx) = oneshot::channel();
                let _ = self.subscriptions.send(Routing::Route(user, tx));
                Some(rx)
            } else {
                None
            }
        };
        if let Some(done) = subscribed {
            if tokio::time::timeout(Duration::from_secs(5), done)
                .await
                .is_err()
            {
                tracing::warn!(%user, "routing took over 5 s; live frames may be late");
            }
        }
        metrics::gauge!("gateway_live_users").set(self.table().len() as f64);
    }

    /// Unregister a socket (and remove the route when it was the user's last here).
    pub async fn leave(&self, user: UserId, session: SessionId) {
        let record = self
            .presence
            .encode(user, session, PresenceKind::Disconnected)
            .await;
        let mut table = self.table();
        if let Some(sockets) = table.get_mut(&user) {
            sockets.retain(|l| l.session != session);
            if sockets.is_empty() {
                table.remove(&user);
                let _ = self.subscriptions.send(Routing::Unroute(user));
            }
        }
        if let Some(r) = record {
            self.presence.enqueue(r);
        }
        metrics::gauge!("gateway_live_users").set(table.len() as f64);
    }

    /// Live delivery was interrupted: every socket held now may have missed frames.
    fn interrupt_all(&self) {
        let table = self.table();
        let mut n = 0u64;
        for l in table.values().flatten() {
            l.signals.interrupted.cancel();
            n += 1;
        }
        metrics::counter!("gateway_live_interruptions_total").increment(1);
        tracing::warn!(
            sockets = n,
            "live delivery was interrupted; sockets told to resync"
        );
    }

    /// A socket re-authenticated with a token from another sign-in.
    pub fn reauthenticated(
        &self,
        user: UserId,
        session: SessionId,
        sign_in: Option<SignInId>,
        auth_ms: i64,
    ) {
        let mut table = self.table();
        if let Some(l) = table
            .get_mut(&user)
            .and_then(|ls| ls.iter_mut().find(|l| l.session == session))
        {
            l.signals.sign_in = sign_in;
            l.signals.auth_ms = auth_ms;
        }
    }

    /// Close the sockets a revocation concerns.
    fn revoke(&self, revocation: &Revocation) {
        let table = self.table();
        let Some(sockets) = table.get(&revocation.user) else {
            return;
        };
        for l in sockets {
            if revocation.concerns(l.signals.sign_in, l.signals.auth_ms) {
                l.signals.revoked.cancel();
                metrics::counter!("gateway_sockets_revoked_total").increment(1);
            }
        }
    }

    fn note_push(&self) {
        let ms = self.started.elapsed().as_millis() as u64;
        self.last_push_ms.store(ms, Ordering::Relaxed);
    }

    /// Whether a pushed frame arrived within `window`.
    fn pushed_within(&self, window: Duration) -> bool {
        let last = Duration::from_millis(self.last_push_ms.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last) < window
    }

    /// Copy a frame to every socket of `users` on this gateway.
    fn deliver(&self, users: &[UserId], frame: Utf8Bytes) {
        let (mut offered, mut dropped) = (0, 0);
        {
            let table = self.table();
            for l in users.iter().filter_map(|u| table.get(u)).flatten() {
                if l.out.offer(Message::Text(frame.clone())) {
                    offered += 1;
                } else {
                    dropped += 1;
                }
            }
        }
        metrics::counter!("gateway_live_frames_total").increment(offered);
        metrics::counter!("gateway_live_dropped_total").increment(dropped);
    }
}

async fn manage_subscriptions(
    mut subscriber: ConnectionManager,
    routes: Routes,
    mut commands: mpsc::UnboundedReceiver<Routing>,
    hub: Weak<Hub>,
) {
    // The users whose sockets are held here, whatever Redis currently knows.
    let mut wanted: HashSet<UserId> = HashSet::new();
    let mut healthy = listen(&mut subscriber, &routes).await;
    if !healthy {
        tracing::warn!("could not subscribe the live-delivery channels; retrying");
    }
    let mut check = tokio::time::interval(SUBSCRIBER_CHECK);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            cmd = commands.recv() => {
                let Some(cmd) = cmd else { return };
                match cmd {
                    Routing::Route(user, done) => {
                        wanted.insert(user);
                        if let Err(e) = routes.add(&mut subscriber, [user]).await {
                            tracing::warn!(error = %e, %user, "adding a route failed");
                            metrics::counter!("gateway_subscribe_failures_total").increment(1);
                            healthy = false;
                        }
                        let _ = done.send(());
                    }
                    Routing::Unroute(user) => {
                        wanted.remove(&user);
                        if let Err(e) = routes.remove(&mut subscriber, user).await {
                            tracing::debug!(error = %e, %user, "removing a route failed");
                        }
                    }
                    Routing::Lost => {
                        if healthy {
                            tracing::warn!("the live-delivery subscriber lost Redis");
                        }
                        healthy = false;
                    }
                }
            }
            _ = check.tick() => {
                let streaming = hub
                    .upgrade()
                    .is_some_and(|h| h.pushed_within(SUBSCRIBER_CHECK));
                if healthy && streaming {
                    continue;
                }
                let answered = redis::cmd("PING")
                    .query_async::<String>(&mut subscriber)
                    .await
                    .is_ok();
                if !answered {
                    if healthy {
                        tracing::warn!("the live-delivery subscriber does not reach Redis");
                    }
                    healthy = false;
                } else if !healthy && resubscribe(&mut subscriber, &routes, &wanted).await {
                    healthy = true;
                    tracing::info!(users = wanted.len(), "live delivery resubscribed");
                    match hub.upgrade() {
                        Some(hub) => hub.interrupt_all(),
                        None => return,
                    }
                }
            }
        }
    }
}

/// Subscribe the revocations and this gateway's channel; false if Redis failed.
async fn listen(subscriber: &mut ConnectionManager, routes: &Routes) -> bool {
    for channel in [REVOCATIONS_CHANNEL.to_string(), routes.channel()] {
        if let Err(e) = subscriber.subscribe(channel).await {
            tracing::warn!(error = %e, "subscribing failed; trying again");
            return false;
        }
    }
    true
}

/// Subscribe again, then add every wanted route again; false if Redis failed meanwhile.
async fn resubscribe(
    subscriber: &mut ConnectionManager,
    routes: &Routes,
    wanted: &HashSet<UserId>,
) -> bool {
    if !listen(subscriber, routes).await {
        return false;
    }
    if let Err(e) = routes.add(subscriber, wanted.iter().copied()).await {
        tracing::warn!(error = %e, "adding the routes again failed; trying again");
        return false;
    }
    true
}

/// Pushed pub/sub messages to sockets.
async fn dispatch(hub: Arc<Hub>, mut pushes: mpsc::UnboundedReceiver<PushInfo>) {
    while let Some(push) = pushes.recv().await {
        hub.note_push();
        if push.kind == PushKind::Disconnection {
            let _ = hub.subscriptions.send(Routing::Lost);
            continue;
        }
        if push.kind != PushKind::Message {
            continue;
        }
        let mut data = push.data.into_iter();
        let (Some(channel), Some(payload)) = (data.next(), data.next()) else {
            continue;
        };
        let Some(channel) = text(channel) else {
            continue;
        };
        if channel == REVOCATIONS_CHANNEL {
            match text(payload).map(|p| serde_json::from_str::<Revocation>(&p)) {
                Some(Ok(r)) => hub.revoke(&r),
                _ => tracing::warn!("unreadable revocation ignored"),
            }
            continue;
        }
        if channel != hub.channel {
            continue;
        }
        let Some(message) = text(payload) else {
            continue;
        };
        match RoutedFrame::decode(&message) {
            Some(routed) => hub.deliver(&routed.users, Utf8Bytes::from(routed.frame.to_owned())),
            None => tracing::warn!("a live frame without its users ignored"),
        }
    }
}

fn text(v: Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b).ok(),
        Value::SimpleString(s) => Some(s),
        _ => None,
    }
}

/// Every heartbeat interval, one heartbeat record per socket held.
async fn heartbeats(hub: Arc<Hub>, every: Duration, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let sessions: Vec<(UserId, SessionId)> = hub
            .table()
            .iter()
            .flat_map(|(u, ls)| ls.iter().map(move |l| (*u, l.session)))
            .collect();
        for (user, session) in sessions {
            let Some(record) = hub
                .presence
                .encode(user, session, PresenceKind::Heartbeat)
                .await
            else {
                continue;
            };
            let table = hub.table();
            let still_here = table
                .get(&user)
                .is_some_and(|ls| ls.iter().any(|l| l.session == session));
            if still_here {
                hub.presence.enqueue(record);
            }
        }
    }
}
