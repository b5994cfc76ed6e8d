//! The gateway's own settings: the `[gateway]` section of the shared configuration.
//!
//! It is read by the shared loader ([`chat_core::config::Settings::load_with`]), from the same layers as
//! the shared sections and in one pass: defaults < the `CHAT_CONFIG` file's `[gateway]`
//! table < `CHAT__GATEWAY__*` variables; then command-line flags (port, ops port, host and gateway
//! id, so several gateways can run side by side from one configuration).

use chat_core::config::{ConfigError, Secret, Section};
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
pub struct GatewaySettings {
    pub host: String,
    pub port: u16,
    /// Unique per running gateway: it names the gateway in events, sessions and logs.
    /// Empty (the default) makes one per process at start-up, since replicas of one
    /// task definition (ECS, Kubernetes) share their configuration: two gateways with
    /// one id would drop each other's sessions.
    pub gateway_id: String,
    /// HS256 secret for the tokens this platform issues (shared by all gateways).
    pub jwt_secret: Secret,
    /// Token lifetimes and the refresh cookie (`gateway.auth.*`).
    pub auth: crate::auth::AuthSettings,
    /// Largest REST body and largest message body (bytes).
    pub max_body_bytes: usize,
    /// Largest WebSocket frame (bytes); larger frames close the socket (1009).
    pub max_frame_bytes: usize,
    /// How long a (sender, client_msg_id) is remembered for deduplication.
    pub dedup_ttl_secs: u64,
    /// After how long an attempt that neither finished nor failed (its gateway died
    /// between Kafka's ack and recording it) may be taken over by a retry, which then
    /// looks for the earlier attempt in history before appending.
    pub dedup_abandon_after_secs: u64,
    /// The history role's consumer group: a retry of a send whose outcome is unknown
    /// waits until it has read the log up to now (`crate::history_progress`).
    pub history_group: String,
    /// ... for at most this long, then answers `unavailable`.
    pub history_wait_ms: u64,
    /// How long a client may take to send a request's headers (slowloris bound).
    pub header_read_timeout_ms: u64,
    /// Connections held at once (WebSockets included); more are closed on accept.
    pub max_connections: usize,
    /// WebSockets one user, and one source address, may hold on this gateway; more
    /// upgrades are refused with 429.
    pub max_sockets_per_user: usize,
    pub max_sockets_per_address: usize,
    /// Frames per second a connection may sustain, and the burst above it.
    pub frames_per_sec: u32,
    pub frames_burst: u32,
    /// Directory of the built browser client (`npm run build` in services/web), served
    /// at `/`. Relative paths are resolved from the working directory; `infra/dev` passes
    /// an absolute one. When it holds no `index.html`, `/` answers a 404 saying so.
    pub web_dir: String,
    /// Most members a group may have, at creation and after every addition.
    pub max_group_members: usize,
    /// Typing is relayed only in conversations of at most this many members.
    pub typing_max_members: usize,
    /// Receipts (read and delivered pointers) a history page carries, the most recent
    /// first; the others are left out.
    pub receipts_per_page: usize,
    /// Conversations one `sync` frame may name; a larger frame is refused (`too_large`).
    pub sync_max_conversations: usize,
    /// Messages one `sync` frame replays per conversation; the rest is in the next
    /// `sync` (`synced.more`).
    pub sync_max_messages: usize,
    /// Where `/metrics` and `/readyz` are served (not on the public port): an address
    /// only operators and the load balancer reach. Port 0 picks a free one (tests).
    pub ops_host: String,
    pub ops_port: u16,
    /// At shutdown, sockets are closed (1001) over this many seconds rather than all at
    /// once, so the clients of a gateway being replaced reconnect to the others at a
    /// pace they absorb, not as one surge. 0 closes them together (the local default);
    /// a deployment sets it below its stop timeout (ECS `stopTimeout`, Kubernetes'
    /// grace period) less the producer's flush.
    pub shutdown_spread_secs: u64,
    /// Request limits per address and per user, sign-in and sign-up limits.
    pub throttle: crate::throttle::ThrottleSettings,
    /// Enterprise single sign-on: accept RS256 tokens from this OpenID Connect issuer.
    #[serde(default)]
    pub oidc: Option<OidcSettings>,
    /// HTTPS and WSS when both paths are set (`crate::tls`); plain HTTP otherwise.
    #[serde(default)]
    pub tls: TlsSettings,
    /// v1.1 attachments in S3-compatible object storage (`crate::attachments`).
    pub attachments: crate::attachments::AttachmentSettings,
    /// v1.1 search: the search nodes (`chat-projector --role search`), comma-separated
    /// base URLs, all asked every search. Empty turns search off (`unavailable`).
    pub search_urls: String,
    /// How long a search node may take to answer.
    pub search_timeout_ms: u64,
    /// v1.2: the bearer token of the admin API on the ops listener
    /// (`POST /admin/v1/users/{id}/erase`); empty (the default) turns it off. At least 32
    /// characters, a secret.
    pub admin_token: Secret,
}

/// `[gateway.tls]`: the server certificate, PEM files read once at start-up.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct TlsSettings {
    /// The certificate chain, the server's own certificate first.
    #[serde(default)]
    pub cert_path: Option<String>,
    /// Its private key (PKCS#8, PKCS#1 or SEC1).
    #[serde(default)]
    pub key_path: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct OidcSettings {
    /// The `iss` claim tokens must carry.
    pub issuer: String,
    /// The `aud` claim tokens must carry.
    pub audience: String,
    /// Where the issuer's signing keys are: a path to a JWKS file, or an http(s) URL.
    pub jwks: String,
}

impl GatewaySettings {
    /// `gateway_id` as configured, or a new one when it is empty: `gw-` and 12 random
    /// hex digits, fresh at every start (a restarted gateway's old sessions are the
    /// old id's, which expire with its liveness key).
    pub fn resolve_gateway_id(&mut self) {
        if self.gateway_id.is_empty() {
            let random = uuid::Uuid::new_v4().simple().to_string();
            self.gateway_id = format!("gw-{}", &random[..12]);
        }
    }
}

impl Section for GatewaySettings {
    const NAME: &'static str = "gateway";

    fn defaults() -> Vec<(&'static str, config::Value)> {
        let mut defaults = crate::throttle::ThrottleSettings::defaults();
        defaults.extend(crate::auth::AuthSettings::defaults());
        defaults.extend(crate::attachments::AttachmentSettings::defaults());
        defaults.extend([
            ("host", "127.0.0.1".into()),
            ("port", 8080.into()),
            // Empty: each process makes its own (`GatewaySettings::resolve_gateway_id`).
            ("gateway_id", "".into()),
            ("jwt_secret", "".into()),
            ("max_body_bytes", (16 * 1024).into()),
            ("max_frame_bytes", (64 * 1024).into()),
            ("dedup_ttl_secs", (48 * 3600).into()),
            ("dedup_abandon_after_secs", 30.into()),
            ("history_group", "chat-projector-history".into()),
            ("history_wait_ms", 5000.into()),
            ("header_read_timeout_ms", 10_000.into()),
            ("max_connections", 50_000.into()),
            ("max_sockets_per_user", 16.into()),
            ("max_sockets_per_address", 256.into()),
            ("frames_per_sec", 50.into()),
            ("frames_burst", 200.into()),
            ("web_dir", "services/web/dist".into()),
            ("max_group_members", 1000.into()),
            ("typing_max_members", 100.into()),
            ("receipts_per_page", 100.into()),
            ("sync_max_conversations", 100.into()),
            ("sync_max_messages", 1000.into()),
            ("ops_host", "127.0.0.1".into()),
            ("ops_port", 9180.into()),
            ("shutdown_spread_secs", 0.into()),
            ("search_urls", "http://127.0.0.1:9110".into()),
            ("search_timeout_ms", 3000.into()),
            ("admin_token", "".into()),
        ]);
        defaults
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.jwt_secret.expose().len() < 32 {
            return Err(ConfigError::Invalid(
                "gateway.jwt_secret must be set to at least 32 characters (CHAT__GATEWAY__JWT_SECRET); \
                 every gateway of a deployment shares it"
                    .into(),
            ));
        }
        if !self.admin_token.is_empty() && self.admin_token.expose().len() < 32 {
            return Err(ConfigError::Invalid(
                "gateway.admin_token must be empty (no admin API) or at least 32 characters \
                 (CHAT__GATEWAY__ADMIN_TOKEN)"
                    .into(),
            ));
        }
        if self.gateway_id.len() > 64 {
            return Err(ConfigError::Invalid(
                "gateway.gateway_id must be at most 64 characters (empty: one is made at start-up)"
                    .into(),
            ));
        }
        self.auth.validate().map_err(ConfigError::Invalid)?;
        self.attachments.validate().map_err(ConfigError::Invalid)?;
        if self.shutdown_spread_secs > 600 {
            return Err(ConfigError::Invalid(
                "gateway.shutdown_spread_secs is at most 600 (no platform waits longer to stop a process)".into(),
            ));
        }
        if self.max_sockets_per_user == 0 || self.max_sockets_per_address == 0 {
            return Err(ConfigError::Invalid(
                "gateway.max_sockets_per_user and max_sockets_per_address must be at least 1"
                    .into(),
            ));
        }
        if self.header_read_timeout_ms == 0 || self.max_connections == 0 {
            return Err(ConfigError::Invalid(
                "gateway.header_read_timeout_ms and gateway.max_connections must be at least 1"
                    .into(),
            ));
        }
        let t = &self.throttle;
        if [
            t.per_address_per_sec,
            t.per_address_burst,
            t.per_user_per_sec,
            t.per_user_burst,
            t.sign_ins_per_min_per_account,
            t.sign_ins_burst_per_account,
            t.sign_ins_per_min_per_address,
            t.sign_ins_burst_per_address,
            t.sign_ups_per_min_per_address,
            t.sign_ups_burst_per_address,
        ]
        .contains(&0)
        {
            return Err(ConfigError::Invalid(
                "gateway.throttle.*: every rate and burst must be at least 1".into(),
            ));
        }
        t.trusted().map_err(ConfigError::Invalid)?;
        if self.max_group_members < 2 {
            return Err(ConfigError::Invalid(
                "gateway.max_group_members must be at least 2".into(),
            ));
        }
        if self.sync_max_conversations == 0 || self.sync_max_messages == 0 {
            return Err(ConfigError::Invalid(
                "gateway.sync_max_conversations and gateway.sync_max_messages must be at least 1"
                    .into(),
            ));
        }
        let set = |path: &Option<String>| path.as_deref().is_some_and(|p| !p.is_empty());
        if set(&self.tls.cert_path) != set(&self.tls.key_path) {
            return Err(ConfigError::Invalid(
                "gateway.tls.cert_path and gateway.tls.key_path must be set together \
                 (CHAT__GATEWAY__TLS__CERT_PATH, CHAT__GATEWAY__TLS__KEY_PATH)"
                    .into(),
            ));
        }
        if self.max_body_bytes == 0 || self.max_frame_bytes < self.max_body_bytes {
            return Err(ConfigError::Invalid(
                "gateway.max_frame_bytes must be at least gateway.max_body_bytes".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chat_core::config::Settings;

    use super::*;

    const JWT_SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn load(env: &BTreeMap<String, String>) -> Result<GatewaySettings, ConfigError> {
        Settings::load_with_from::<GatewaySettings>(env).map(|(_, gateway)| gateway)
    }

    #[test]
    fn refuses_to_start_without_a_real_secret() {
        let err = load(&env(&[])).unwrap_err();
        assert!(err.to_string().contains("jwt_secret"), "{err}");
    }

    #[test]
    fn the_admin_api_is_off_by_default_and_needs_a_long_token() {
        let off = load(&env(&[("CHAT__GATEWAY__JWT_SECRET", JWT_SECRET)])).unwrap();
        assert!(off.admin_token.is_empty());
        let err = load(&env(&[
            ("CHAT__GATEWAY__JWT_SECRET", JWT_SECRET),
            ("CHAT__GATEWAY__ADMIN_TOKEN", "short"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("admin_token"), "{err}");
    }

    #[test]
    fn replicas_sharing_one_configuration_get_ids_of_their_own() {
        let mut a = load(&env(&[("CHAT__GATEWAY__JWT_SECRET", JWT_SECRET)])).unwrap();
        let mut b = a.clone();
        a.resolve_gateway_id();
        b.resolve_gateway_id();
        assert!(
            a.gateway_id.starts_with("gw-") && a.gateway_id.len() == 15,
            "{}",
            a.gateway_id
        );
        assert_ne!(a.gateway_id, b.gateway_id);
        let mut named = load(&env(&[
            ("CHAT__GATEWAY__JWT_SECRET", JWT_SECRET),
            ("CHAT__GATEWAY__GATEWAY_ID", "gw-east-7"),
        ]))
        .unwrap();
        named.resolve_gateway_id();
        assert_eq!(named.gateway_id, "gw-east-7");
    }

    #[test]
    fn reads_prefixed_variables() {
        let s = load(&env(&[
            ("CHAT__GATEWAY__JWT_SECRET", JWT_SECRET),
            ("CHAT__GATEWAY__PORT", "9000"),
            ("CHAT__GATEWAY__OIDC__ISSUER", "https://idp.example"),
            ("CHAT__GATEWAY__OIDC__AUDIENCE", "chat"),
            ("CHAT__GATEWAY__OIDC__JWKS", "/etc/jwks.json"),
        ]))
        .unwrap();
        assert_eq!(s.port, 9000);
        assert_eq!(s.max_body_bytes, 16 * 1024);
        assert_eq!(s.oidc.unwrap().issuer, "https://idp.example");
        assert_eq!(s.web_dir, "services/web/dist");
        assert_eq!(s.max_group_members, 1000);
        assert_eq!(s.typing_max_members, 100);
        assert_eq!(s.sync_max_conversations, 100);
        assert_eq!((s.ops_host.as_str(), s.ops_port), ("127.0.0.1", 9180));
        assert!(!format!("{:?}", s.jwt_secret).contains("0123"));
    }

    #[test]
    fn one_file_feeds_the_shared_sections_and_the_gateway_table() {
        let path = std::env::temp_dir().join(format!(
            "chat-gateway-settings-{}.toml",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::write(
            &path,
            "[kafka]\npartitions = 7\n\n[gateway]\nport = 9100\nframes_burst = 300\n",
        )
        .unwrap();
        let loaded = Settings::load_with_from::<GatewaySettings>(&env(&[
            ("CHAT_CONFIG", path.to_str().unwrap()),
            ("CHAT__GATEWAY__JWT_SECRET", JWT_SECRET),
            ("CHAT__GATEWAY__FRAMES_BURST", "400"),
        ]));
        std::fs::remove_file(&path).unwrap();
        let (shared, gateway) = loaded.unwrap();
        assert_eq!(shared.kafka.partitions, 7);
        assert_eq!(gateway.port, 9100);
        // Variables win over the file, the file over the defaults.
        assert_eq!(gateway.frames_burst, 400);
        assert_eq!(gateway.frames_per_sec, 50);
    }

    #[test]
    fn tls_is_off_by_default_and_needs_both_files() {
        let s = load(&env(&[("CHAT__GATEWAY__JWT_SECRET", JWT_SECRET)])).unwrap();
        assert!(s.tls.cert_path.is_none() && s.tls.key_path.is_none());
        let s = load(&env(&[
            ("CHAT__GATEWAY__JWT_SECRET", JWT_SECRET),
            ("CHAT__GATEWAY__TLS__CERT_PATH", "/etc/chat/gateway.crt"),
            ("CHAT__GATEWAY__TLS__KEY_PATH", "/etc/chat/gateway.key"),
        ]))
        .unwrap();
        assert_eq!(s.tls.cert_path.as_deref(), Some("/etc/chat/gateway.crt"));
        assert_eq!(s.tls.key_path.as_deref(), Some("/etc/chat/gateway.key"));
        let err = load(&env(&[
            ("CHAT__GATEWAY__JWT_SECRET", JWT_SECRET),
            ("CHAT__GATEWAY__TLS__CERT_PATH", "/etc/chat/gateway.crt"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("gateway.tls.key_path"), "{err}");
    }
}
