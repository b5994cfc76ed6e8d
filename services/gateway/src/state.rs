//! What every handler shares, built once in [`crate::startup`].

use std::sync::Arc;

use chat_core::audit::{AuditEvent, AuditLog};
use chat_store::dedup::DedupStore;
use chat_store::membership::MembershipStore;
use chat_store::mutes::MuteStore;
use chat_store::pointers::PointerStore;
use chat_store::HistoryStore;
use metrics_exporter_prometheus::PrometheusHandle;
use redis::aio::ConnectionManager;
use tokio_util::sync::CancellationToken;

use crate::accounts::Accounts;
use crate::append::Appender;
use crate::auth::password::PasswordPool;
use crate::auth::Tokens;
use crate::configuration::GatewaySettings;

/// A cheap-to-clone handle; everything inside is shared.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub settings: GatewaySettings,
    pub tokens: Tokens,
    /// Sign-ins, refresh, revocation, WebSocket tickets.
    pub sign_ins: crate::auth::SignIns,
    /// Sockets per user and per address on this gateway.
    pub socket_caps: crate::ws::caps::SocketCaps,
    /// Password hashing, on threads of its own.
    pub passwords: PasswordPool,
    pub accounts: Accounts,
    /// Who is in which conversation: what writes are authorized with.
    pub membership: MembershipStore,
    pub history: HistoryStore,
    /// Notification preferences.
    pub mutes: MuteStore,
    pub dedup: DedupStore,
    pub pointers: PointerStore,
    /// v1.1: reactions as appended, for the distinct-emoji limit.
    pub reaction_tally: chat_store::reaction_tally::ReactionTally,
    /// v1.1: uploads promised to their uploader.
    pub uploads: chat_store::uploads::UploadStore,
    /// v1.1: the object store attachments live in (None: attachments are off).
    pub objects: Option<crate::attachments::ObjectStore>,
    /// v1.1: the search nodes (None: search is off).
    pub search: Option<crate::search::SearchNodes>,
    /// How far history has read the log (retries of sends whose outcome is unknown).
    pub history_progress: Arc<crate::history_progress::HistoryProgress>,
    /// How much each address and user may do (`crate::throttle`).
    pub throttles: crate::throttle::Throttles,
    pub appender: Appender,
    /// The audit trail (`chat.audit`), on the appender's producer. Written through
    /// [`AppState::audit`], never waited for.
    pub audit_log: Arc<AuditLog>,
    /// v1.2: the admin API's stores (`routes/admin.rs`); None when
    /// `gateway.admin_token` is empty.
    pub admin: Option<crate::admin::Admin>,
    /// `[groups] who_may_add` (shared with the history projection, which re-checks).
    pub who_may_add: chat_core::rules::WhoMayAdd,
    /// `[compliance]`: the limits of a conversation's own retention (v1.3).
    pub compliance: chat_core::config::ComplianceSettings,
    /// The sockets held here and the live frames that feed them.
    pub hub: Arc<crate::live::Hub>,
    /// For the records reached through free functions (sessions, presence, live).
    pub redis: ConnectionManager,
    pub cql: Arc<scylla::client::session::Session>,
    pub metrics: PrometheusHandle,
    /// Fires when the gateway starts shutting down: sockets close with 1001.
    pub shutdown: CancellationToken,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }

    /// Record `event` in the audit trail without holding up the request. Fail open: a
    /// record that cannot be written is logged (`error`) and counted
    /// (`audit_failures_total`), and the request it belongs to succeeds all the same, so
    /// chat stays available when Kafka or the registry cannot take audit records.
    pub fn audit(&self, event: AuditEvent) {
        self.audit_log.record_detached(event);
    }
}
