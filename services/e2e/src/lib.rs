//! `chat-e2e`: the platform's end-to-end tests (`tests/`) and the harness they share
//! (this library). The harness runs the real binaries (`chat-gateway`, `chat-projector`
//! roles, `chatctl`) against the real Kafka, CQL store, Redis and registry that
//! `infra/dev test` starts, and talks to them as a client would, over HTTP and
//! WebSocket. Events are read back from Kafka through the registry.
//!
//! The binaries are found next to the test executable's build directory
//! (`target/<profile>/`): `infra/dev test` builds the whole workspace first.

pub mod live;
pub mod redis_server;
pub mod tls;

use std::collections::HashMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use chat_core::codec::EventCodec;
use chat_core::config::Settings;
use chat_core::events::{AuditEvent, ConversationEvent};
use chat_core::topics::Topics;
use futures::{SinkExt, StreamExt};
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// How long the tests' HTTP clients keep an idle connection: well under the gateway's
/// `header_read_timeout_ms` (10 s), which also closes idle keep-alive connections. A
/// longer pool reuses a connection the gateway is closing, and the request fails with
/// "connection closed before message completed" after a test's quiet spell.
pub const CLIENT_IDLE: Duration = Duration::from_secs(5);

pub const JWT_SECRET: &str = "integration-tests-secret-0123456789abcdef";

pub fn settings() -> Settings {
    Settings::load().expect("settings from the environment")
}

/// A port for a child process to listen on, free when chosen.
///
/// Chosen from 12000–19999, below the kernel's ephemeral range (32768–60999 by
/// default), never with `bind(0)`: a port the kernel hands out for `bind(0)` and the test
/// then releases is an ephemeral one, and any outgoing connection may take it before the
/// child binds it (the child's own connection to the CQL store, made before it binds its
/// listeners, did so in CI, and the gateway exited with "address in use"). The range
/// holds none of the fixed ports `infra/dev` serves on. Ports are handed out in turn from
/// a start that differs per process, so tests in one binary never get the same one.
pub fn free_port() -> u16 {
    const FIRST: u32 = 12_000;
    const COUNT: u32 = 8_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id().wrapping_mul(7_919) % COUNT;
    for _ in 0..COUNT {
        let offset = (start + NEXT.fetch_add(1, Ordering::Relaxed)) % COUNT;
        let port = (FIRST + offset) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {FIRST}..{}", FIRST + COUNT);
}

/// A running `chat-gateway` process; killed when dropped.
pub struct Gateway {
    pub id: String,
    pub port: u16,
    /// Port of its ops listener (`/healthz`, `/readyz`, `/metrics`), which the public
    /// port does not serve `/readyz` and `/metrics` on.
    pub ops_port: u16,
    /// Serving HTTPS/WSS (its environment names a certificate): clients trust the dev CA.
    pub tls: bool,
    extra_env: Vec<(String, String)>,
    child: Option<Child>,
}

impl Gateway {
    pub async fn start(id: &str) -> Gateway {
        Self::start_with(id, &[]).await
    }

    pub async fn start_with(id: &str, env: &[(&str, &str)]) -> Gateway {
        let mut g = Gateway {
            id: format!("{id}-{}", &uuid::Uuid::new_v4().simple().to_string()[..6]),
            port: free_port(),
            ops_port: free_port(),
            tls: env
                .iter()
                .any(|(k, _)| *k == "CHAT__GATEWAY__TLS__CERT_PATH"),
            extra_env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            child: None,
        };
        g.spawn();
        g.wait_ready().await;
        g
    }

    fn spawn(&mut self) {
        std::fs::create_dir_all(gateway_log_dir()).expect("log dir");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("log file");
        let mut cmd = Command::new(workspace_binary("chat-gateway"));
        cmd.arg("--port")
            .arg(self.port.to_string())
            .arg("--ops-port")
            .arg(self.ops_port.to_string())
            .arg("--gateway-id")
            .arg(&self.id)
            .env("CHAT__GATEWAY__JWT_SECRET", JWT_SECRET)
            .env(
                "RUST_LOG",
                std::env::var("GATEWAY_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().expect("start chat-gateway"));
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let client = self.http_client();
        while Instant::now() < deadline {
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                panic!(
                    "gateway {} exited while starting ({status}):\n{}",
                    self.id,
                    self.log_text()
                );
            }
            if let Ok(r) = client.get(format!("{}/healthz", self.url())).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "gateway {} did not come up (see target/tmp/gateway-logs/{}.log)",
            self.id, self.id
        );
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    pub fn ws_url(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://127.0.0.1:{}/api/v1/ws", self.port)
    }

    /// A client for this gateway: one that trusts the dev CA when it serves HTTPS.
    pub fn http_client(&self) -> reqwest::Client {
        if self.tls {
            tls::https_client()
        } else {
            reqwest::Client::builder()
                .pool_idle_timeout(CLIENT_IDLE)
                .build()
                .expect("HTTP client")
        }
    }

    /// The base URL of its ops listener.
    pub fn ops_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ops_port)
    }

    /// The text of its /metrics, from the ops listener (panics when it does not answer).
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.ops_url()))
            .await
            .expect("gateway metrics")
            .text()
            .await
            .expect("metrics text")
    }

    fn log_path(&self) -> std::path::PathBuf {
        gateway_log_dir().join(format!("{}.log", self.id))
    }

    /// Everything this gateway has logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// SIGTERM and wait: the graceful path.
    pub fn stop(&mut self) {
        terminate(self.child.take());
    }

    /// [`Gateway::stop`], and how the process exited: `None` if it did not exit by itself
    /// within 20 s and was killed.
    pub fn stop_and_wait(&mut self) -> Option<std::process::ExitStatus> {
        terminate(self.child.take())
    }

    /// SIGKILL: the process dies without closing anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stop and start again on the same port with the same id.
    pub async fn restart(&mut self) {
        self.stop();
        self.spawn();
        self.wait_ready().await;
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let log = self.log_path();
        report_if_failing(&format!("gateway {}", self.id), &mut self.child, &log);
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A client of the REST API.
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl Api {
    pub fn new(g: &Gateway) -> Api {
        Api {
            base: g.url(),
            http: g.http_client(),
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("gateway reachable");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply { status, body }
    }
}

/// A signed-up user.
#[derive(Clone)]
pub struct User {
    pub id: String,
    pub username: String,
    pub token: String,
}

pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

/// The password every test account signs up with.
pub const PASSWORD: &str = "correct horse battery";

pub async fn sign_up(api: &Api, prefix: &str) -> User {
    let username = unique(prefix);
    let r = api
        .call(
            "POST",
            "/api/v1/users",
            None,
            Some(json!({"username": username, "password": PASSWORD, "display_name": prefix})),
        )
        .await;
    assert_eq!(r.status, 201, "sign up: {}", r.body);
    let id = r.body["user_id"].as_str().expect("user_id").to_string();
    let r = api
        .call(
            "POST",
            "/api/v1/auth",
            None,
            Some(json!({"username": username, "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 200, "auth: {}", r.body);
    assert_eq!(r.body["user_id"], id.as_str());
    User {
        id,
        username,
        token: r.body["token"].as_str().expect("token").to_string(),
    }
}

pub async fn create_group(api: &Api, owner: &User, members: &[&User]) -> String {
    let ids: Vec<&str> = members.iter().map(|u| u.id.as_str()).collect();
    let r = api
        .call(
            "POST",
            "/api/v1/conversations",
            Some(&owner.token),
            Some(json!({"kind": "group", "name": "team", "members": ids})),
        )
        .await;
    assert_eq!(r.status, 201, "create group: {}", r.body);
    r.body["conversation_id"]
        .as_str()
        .expect("conversation_id")
        .to_string()
}

/// Wait until the history projection lists `conversation` for `user`; a refused list
/// request fails at once, with its answer, rather than looking like projection lag.
pub async fn until_listed(api: &Api, user: &User, conversation: &str) {
    eventually("the conversation is projected", || async {
        let r = api
            .call("GET", "/api/v1/conversations", Some(&user.token), None)
            .await;
        assert_eq!(r.status, 200, "listing conversations: {}", r.body);
        r.body["conversations"]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| c["conversation_id"] == conversation))
    })
    .await;
}

pub async fn create_direct(api: &Api, owner: &User, other: &User) -> String {
    let r = api
        .call(
            "POST",
            "/api/v1/conversations",
            Some(&owner.token),
            Some(json!({"kind": "direct", "members": [other.id]})),
        )
        .await;
    assert_eq!(r.status, 201, "create direct: {}", r.body);
    r.body["conversation_id"]
        .as_str()
        .expect("conversation_id")
        .to_string()
}

type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A WebSocket client.
pub struct Ws {
    stream: WsStream,
}

impl Ws {
    pub async fn connect(g: &Gateway, token: &str) -> Ws {
        Self::try_connect(g, Some(token), None)
            .await
            .expect("WebSocket upgrade")
    }

    /// Open a socket with a ticket (`POST /api/v1/ws/ticket`), as browsers do.
    pub async fn connect_with_ticket(g: &Gateway, ticket: &str) -> Ws {
        Self::try_connect(g, None, Some(ticket))
            .await
            .expect("WebSocket upgrade with a ticket")
    }

    /// An upgrade with a bearer token and/or a ticket; the refusal's HTTP status if the
    /// gateway refuses it.
    pub async fn try_connect(
        g: &Gateway,
        token: Option<&str>,
        ticket: Option<&str>,
    ) -> Result<Ws, u16> {
        let query = ticket.map(|t| format!("?ticket={t}")).unwrap_or_default();
        let mut req = format!("{}{query}", g.ws_url())
            .into_client_request()
            .expect("request");
        if let Some(token) = token {
            req.headers_mut().insert(
                "Authorization",
                format!("Bearer {token}").parse().expect("header"),
            );
        }
        let connector = g.tls.then(tls::wss_connector);
        match tokio_tungstenite::connect_async_tls_with_config(req, None, false, connector).await {
            Ok((stream, _)) => Ok(Ws { stream }),
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
            Err(e) => panic!("WebSocket upgrade failed without an HTTP answer: {e}"),
        }
    }

    pub async fn send_text(&mut self, text: String) {
        self.stream
            .send(WsMessage::text(text))
            .await
            .expect("send frame");
    }

    pub async fn send(&mut self, frame: Value) {
        self.send_text(frame.to_string()).await;
    }

    /// A text frame whose payload is `bytes` as they are, valid UTF-8 or not (a hostile
    /// client's frame, which the client library would not build from a string).
    pub async fn send_raw_text(&mut self, bytes: Vec<u8>) {
        use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
        use tokio_tungstenite::tungstenite::protocol::frame::Frame;
        let frame = Frame::message(bytes, OpCode::Data(Data::Text), true);
        self.stream
            .send(WsMessage::Frame(frame))
            .await
            .expect("send raw frame");
    }

    /// A binary frame.
    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.stream
            .send(WsMessage::binary(bytes))
            .await
            .expect("send binary frame");
    }

    /// The next text frame, as JSON (panics after 15 s).
    pub async fn next(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(15), self.stream.next())
                .await
                .expect("a frame within 15 s")
                .expect("socket open")
                .expect("no socket error");
            match msg {
                WsMessage::Text(t) => return serde_json::from_str(&t).expect("frames are JSON"),
                WsMessage::Close(c) => panic!("socket closed: {c:?}"),
                _ => continue,
            }
        }
    }

    /// Send and wait for the answer (skipping pushed `event`/`presence`/`typing` frames).
    pub async fn request(&mut self, frame: Value) -> Value {
        self.send(frame).await;
        loop {
            let v = self.next().await;
            match v["type"].as_str() {
                Some("event") | Some("presence") | Some("typing") => continue,
                _ => return v,
            }
        }
    }

    /// Wait until history has applied `conversation` up to `seq`: its rows land before
    /// the marker a `sync` replay stops at, so a page can show an event a `sync` would not
    /// replay yet. A `sync` from `seq - 1` reaches `seq` exactly when the marker has.
    pub async fn until_synced_to(&mut self, conversation: &str, seq: i64) {
        for _ in 0..300 {
            self.send(json!({"type": "sync", "positions": {conversation: seq - 1}}))
                .await;
            let synced = loop {
                let f = self.next().await;
                if f["type"] == "synced" {
                    break f;
                }
            };
            if synced["positions"][conversation].as_i64() >= Some(seq) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("history never applied {conversation} up to seq {seq}");
    }

    /// Close the socket from the client's side.
    pub async fn close(&mut self) {
        let _ = self.stream.close(None).await;
    }

    /// Wait for the server to close the socket; its close code.
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            match tokio::time::timeout(Duration::from_secs(15), self.stream.next())
                .await
                .expect("closes in 15 s")
            {
                Some(Ok(WsMessage::Close(c))) => return c.map(|c| u16::from(c.code)),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }
}

/// A WebSocket handshake sent as a plain HTTP request, to see the gateway's refusal
/// (status and body) that a WebSocket client library would hide.
pub fn upgrade_request(url: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .get(url)
        .header("Connection", "Upgrade")
        .header("Upgrade", "websocket")
        .header("Sec-WebSocket-Version", "13")
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
}

pub fn send_frame(conversation: &str, client_msg_id: &str, body: &str) -> Value {
    json!({"type": "send", "conversation_id": conversation, "client_msg_id": client_msg_id, "body": body})
}

/// Reads `chat.conversation-events` from where it ended when the tap was made, decoding
/// through the registry: what the gateways appended since.
pub struct EventTap {
    consumer: StreamConsumer,
    codec: EventCodec,
    seen: HashMap<String, Vec<(i64, ConversationEvent)>>,
}

impl Default for EventTap {
    fn default() -> Self {
        Self::new()
    }
}

impl EventTap {
    pub fn new() -> EventTap {
        let s = settings();
        let topic = Topics::from_settings(&s.kafka).conversation_events;
        let probe: BaseConsumer = chat_core::kafka::client_config(&s.kafka)
            .create()
            .expect("consumer");
        let md = probe
            .fetch_metadata(Some(&topic), Duration::from_secs(10))
            .expect("metadata");
        let mut tpl = TopicPartitionList::new();
        for p in md.topics()[0].partitions() {
            let (_, high) = probe
                .fetch_watermarks(&topic, p.id(), Duration::from_secs(10))
                .expect("watermarks");
            tpl.add_partition_offset(&topic, p.id(), Offset::Offset(high))
                .expect("offset");
        }
        let consumer = chat_core::kafka::consumer(&s.kafka, "test-tap", &unique("test-tap"))
            .expect("consumer");
        consumer.assign(&tpl).expect("assign");
        EventTap {
            consumer,
            codec: EventCodec::new(&s.registry).expect("codec"),
            seen: HashMap::new(),
        }
    }

    /// The first `n` events of `conversation` (with their offsets), waiting up to 20 s.
    pub async fn events(&mut self, conversation: &str, n: usize) -> Vec<(i64, ConversationEvent)> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.seen.get(conversation).map_or(0, Vec::len) < n {
            let left = deadline.saturating_duration_since(Instant::now());
            let msg = tokio::time::timeout(left, self.consumer.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "only {} of {n} events of {conversation} arrived",
                        self.seen.get(conversation).map_or(0, Vec::len)
                    )
                })
                .expect("consume");
            let event: ConversationEvent = self
                .codec
                .decode(msg.payload().expect("value"))
                .await
                .expect("decodes");
            let key = std::str::from_utf8(msg.key().expect("key"))
                .expect("utf-8 key")
                .to_string();
            assert_eq!(
                key,
                event.conversation_id.to_string(),
                "records are keyed by conversation"
            );
            self.seen
                .entry(key)
                .or_default()
                .push((msg.offset(), event));
        }
        self.seen[conversation][..n].to_vec()
    }

    /// Everything seen so far of `conversation`, after draining for `quiet`.
    pub async fn all(
        &mut self,
        conversation: &str,
        quiet: Duration,
    ) -> Vec<(i64, ConversationEvent)> {
        while let Ok(Ok(msg)) = tokio::time::timeout(quiet, self.consumer.recv()).await {
            let event: ConversationEvent = self
                .codec
                .decode(msg.payload().expect("value"))
                .await
                .expect("decodes");
            self.seen
                .entry(event.conversation_id.to_string())
                .or_default()
                .push((msg.offset(), event));
        }
        self.seen.get(conversation).cloned().unwrap_or_default()
    }
}

/// One record of `chat.audit`: its key and its decoded value.
#[derive(Clone, Debug)]
pub struct AuditRecord {
    pub key: String,
    pub event: AuditEvent,
}

/// Reads the audit topic from where it ended when the tap was made, decoding through
/// the registry: what was audited since. Other tests audit on the same topic at the same
/// time, so a test picks its own records out by its users and conversations.
pub struct AuditTap {
    consumer: StreamConsumer,
    codec: EventCodec,
    pub seen: Vec<AuditRecord>,
}

impl Default for AuditTap {
    fn default() -> Self {
        Self::new()
    }
}

impl AuditTap {
    /// The platform's audit topic under the environment's prefix (`chat.audit`).
    pub fn new() -> AuditTap {
        let s = settings();
        Self::on_topic(&Topics::from_settings(&s.kafka).audit)
    }

    pub fn on_topic(topic: &str) -> AuditTap {
        let s = settings();
        let probe: BaseConsumer = chat_core::kafka::client_config(&s.kafka)
            .create()
            .expect("consumer");
        let md = probe
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .expect("metadata");
        let partitions = md.topics()[0].partitions();
        assert!(
            !partitions.is_empty(),
            "no topic {topic}: run `chatctl init` (infra/dev test does)"
        );
        let mut tpl = TopicPartitionList::new();
        for p in partitions {
            let (_, high) = probe
                .fetch_watermarks(topic, p.id(), Duration::from_secs(10))
                .expect("watermarks");
            tpl.add_partition_offset(topic, p.id(), Offset::Offset(high))
                .expect("offset");
        }
        let consumer = chat_core::kafka::consumer(&s.kafka, "test-audit-tap", &unique("audit-tap"))
            .expect("consumer");
        consumer.assign(&tpl).expect("assign");
        AuditTap {
            consumer,
            codec: EventCodec::new(&s.registry).expect("codec"),
            seen: Vec::new(),
        }
    }

    /// Read until `done` holds over everything read so far (panics after `within`,
    /// showing what was read).
    pub async fn until(
        &mut self,
        what: &str,
        within: Duration,
        done: impl Fn(&[AuditRecord]) -> bool,
    ) {
        let deadline = Instant::now() + within;
        while !done(&self.seen) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for {what}; audit records read: {:#?}",
                self.seen
            );
            if let Ok(msg) =
                tokio::time::timeout(left.min(Duration::from_millis(500)), self.consumer.recv())
                    .await
            {
                self.push(msg.expect("consume").detach()).await;
            }
        }
    }

    /// Everything that arrives until nothing has for `quiet`.
    pub async fn drain(&mut self, quiet: Duration) {
        while let Ok(msg) = tokio::time::timeout(quiet, self.consumer.recv()).await {
            self.push(msg.expect("consume").detach()).await;
        }
    }

    async fn push(&mut self, msg: rdkafka::message::OwnedMessage) {
        let event: AuditEvent = self
            .codec
            .decode(msg.payload().expect("value"))
            .await
            .expect("audit records decode through the registry");
        let key = std::str::from_utf8(msg.key().expect("audit records have a key"))
            .expect("utf-8 key")
            .to_string();
        self.seen.push(AuditRecord { key, event });
    }
}

/// The build directory of this workspace's binaries (`target/<profile>`): the test
/// executable runs from its `deps/` folder.
fn build_dir() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("the test executable lives in target/<profile>/deps")
        .to_path_buf()
}

/// A binary of this workspace (`infra/dev test` builds the whole workspace before
/// running the tests).
pub fn workspace_binary(name: &str) -> std::path::PathBuf {
    let path = build_dir().join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace` first",
        path.display()
    );
    path
}

/// A fresh keyspace with the migrations applied, for one test's gateway and projector.
pub async fn fresh_keyspace() -> String {
    let mut s = settings();
    s.cql.keyspace = format!("test_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let session = chat_core::cql::connect(&s.cql)
        .await
        .expect("CQL store reachable");
    chat_store::migrations::migrate(&session, &s.cql)
        .await
        .expect("migrate");
    s.cql.keyspace
}

/// A running `chat-projector`; killed when dropped.
pub struct Projector {
    /// Port of its /healthz, /readyz and /metrics.
    pub port: u16,
    child: Option<Child>,
    log: std::path::PathBuf,
}

impl Projector {
    pub fn start(role: &str, keyspace: &str, group: &str) -> Projector {
        Self::start_with(role, group, &[("CHAT__CQL__KEYSPACE", keyspace)], &[])
    }

    /// With extra environment and arguments.
    ///
    /// The ops port is picked free, but another process may take it before the projector
    /// binds it; a projector that exits because its port was taken is started again on
    /// another one (any other exit is the test's to see).
    pub fn start_with(role: &str, group: &str, env: &[(&str, &str)], args: &[&str]) -> Projector {
        let log_dir = gateway_log_dir();
        std::fs::create_dir_all(&log_dir).expect("log dir");
        let log_path = log_dir.join(format!("projector-{group}.log"));
        for _ in 0..5 {
            let log = std::fs::File::create(&log_path).expect("log file");
            let port = free_port();
            let mut child = Command::new(workspace_binary("chat-projector"))
                .args([
                    "--role",
                    role,
                    "--group",
                    group,
                    "--port",
                    &port.to_string(),
                ])
                .args(args)
                .envs(env.iter().copied())
                .env("RUST_LOG", "info")
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .expect("start chat-projector");
            if lost_its_port(&mut child, &log_path) {
                continue;
            }
            return Projector {
                port,
                child: Some(child),
                log: log_path,
            };
        }
        panic!("chat-projector found no free ops port in 5 tries");
    }

    pub fn stop(&mut self) {
        terminate(self.child.take());
    }

    /// The text of its /metrics (panics when it does not answer).
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("http://127.0.0.1:{}/metrics", self.port))
            .await
            .expect("projector metrics")
            .text()
            .await
            .expect("metrics text")
    }
}

/// Wait (at most 5 s) until the projector says it is running (it binds its ops port
/// first); true when it exited instead because the port was already in use. (A connect
/// to the port would not tell: whoever took the port answers it.)
fn lost_its_port(child: &mut Child, log: &std::path::Path) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains("projector running") {
            return false;
        }
        if let Ok(Some(_)) = child.try_wait() {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            return text.contains("Address already in use");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

impl Drop for Projector {
    fn drop(&mut self) {
        report_if_failing(
            &format!("projector on port {}", self.port),
            &mut self.child,
            &self.log,
        );
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Where the harness writes each process's log (target/tmp/gateway-logs).
fn gateway_log_dir() -> std::path::PathBuf {
    target_tmp_dir().join("gateway-logs")
}

/// `target/tmp`: what the tests leave behind (logs, certificates).
pub fn target_tmp_dir() -> std::path::PathBuf {
    build_dir()
        .parent()
        .map_or_else(build_dir, |target| target.to_path_buf())
        .join("tmp")
}

/// When a test is failing, say whether this process was still running and show the end
/// of its log: in CI the test's output is all there is to go on.
fn report_if_failing(what: &str, child: &mut Option<Child>, log: &std::path::Path) {
    if !std::thread::panicking() {
        return;
    }
    let state = match child.as_mut().map(|c| c.try_wait()) {
        None => "stopped by the test".to_string(),
        Some(Ok(None)) => "still running".to_string(),
        Some(Ok(Some(status))) => format!("EXITED on its own ({status})"),
        Some(Err(e)) => format!("unknown ({e})"),
    };
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(25)..].join("\n");
    eprintln!(
        "---- {what}: {state}; last lines of {}:\n{tail}\n----",
        log.display()
    );
}

/// Run `chatctl` with arguments; its stdout (panics on failure).
pub fn chatctl(args: &[&str]) -> String {
    chatctl_with(&[], args)
}

/// `chatctl` with extra environment.
pub fn chatctl_with(env: &[(&str, &str)], args: &[&str]) -> String {
    let out = Command::new(workspace_binary("chatctl"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run chatctl");
    assert!(
        out.status.success(),
        "chatctl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Poll `check` every 100 ms for up to 120 s (projections trail the log; a new consumer
/// group first replays the whole topic, which on a long-used dev machine takes a while).
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// SIGTERM (the graceful path), then SIGKILL if it has not exited in 20 s. How it
/// exited by itself; `None` if it had to be killed (or was not running).
fn terminate(child: Option<Child>) -> Option<std::process::ExitStatus> {
    let mut child = child?;
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// The platform's data keys, as a test process reads them (the same settings as the
/// services): to open what the log and the notifications topic hold sealed.
pub async fn keyring() -> chat_store::keyring::Keyring {
    let s = settings();
    let session = std::sync::Arc::new(
        chat_core::cql::connect(&s.cql)
            .await
            .expect("CQL store reachable"),
    );
    chat_store::keyring::Keyring::new(session, &s.cql.keyspace, &s.compliance)
        .await
        .expect("keyring")
}

/// `event` with its sealed content opened (panics when it does not open).
pub async fn opened(
    keyring: &chat_store::keyring::Keyring,
    event: &ConversationEvent,
) -> ConversationEvent {
    let mut e = event.clone();
    let outcome = keyring.open_event(&mut e).await.expect("opens");
    assert_ne!(
        outcome,
        chat_store::keyring::Opened::Erased,
        "the content of {} is erased",
        e.event_id
    );
    e
}

/// A notification's preview in the clear (opened when sealed).
pub async fn preview_of(
    keyring: &chat_store::keyring::Keyring,
    n: &chat_core::events::NotificationRequested,
) -> String {
    match &n.sealed_preview {
        None => n.preview.clone(),
        Some(sealed) => keyring
            .open_content(sealed, n.message_id.0)
            .await
            .expect("opens")
            .map(|c| c.body)
            .unwrap_or_default(),
    }
}

/// The repository's root.
pub fn repo_root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The analytics venv's interpreter (`CHAT_ANALYTICS_PYTHON`, else
/// `<repo>/.state/venv-analytics/bin/python`); fails (never skips) when it is not there.
pub fn analytics_python() -> std::path::PathBuf {
    let python = std::env::var_os("CHAT_ANALYTICS_PYTHON")
        .filter(|p| !p.is_empty())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".state/venv-analytics/bin/python"));
    assert!(
        python.exists(),
        "the analytics examples' Python environment is missing ({}): run \
         `infra/dev test` (or `infra/dev deps`), which creates it from \
         services/analytics-example/requirements.txt",
        python.display()
    );
    python
}
