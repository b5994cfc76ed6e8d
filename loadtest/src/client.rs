//! Speaking the protocol: opening WebSockets (spread over source addresses) and reading
//! server frames without building a JSON tree. The client's ordering rule is
//! [`crate::gap_rule`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Why a connection could not be opened, as a short code for `errors` in summary.json.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("tcp connect: {0}")]
    Tcp(std::io::Error),
    #[error("websocket handshake: {0}")]
    Handshake(tokio_tungstenite::tungstenite::Error),
    #[error("timed out")]
    Timeout,
    #[error("no pong: {0}")]
    NoPong(String),
}

impl ConnectError {
    pub fn code(&self) -> String {
        use tokio_tungstenite::tungstenite::Error as W;
        match self {
            ConnectError::Tcp(e) => match e.raw_os_error() {
                // The usual ways a big run runs out of something: fds, ports, backlog.
                Some(24) => "connect_emfile".into(),
                Some(99) => "connect_addr_not_available".into(),
                Some(98) => "connect_addr_in_use".into(),
                Some(111) => "connect_refused".into(),
                Some(104) => "connect_reset".into(),
                Some(110) => "connect_timeout".into(),
                _ => format!("connect_{:?}", e.kind()).to_lowercase(),
            },
            ConnectError::Handshake(W::Http(r)) => format!("upgrade_http_{}", r.status().as_u16()),
            ConnectError::Handshake(_) => "upgrade_failed".into(),
            ConnectError::Timeout => "connect_timeout".into(),
            ConnectError::NoPong(_) => "no_pong".into(),
        }
    }
}

/// Opens client sockets. When the gateway is on loopback, each socket is bound to the
/// next address of `sources` first: a (source, destination) pair has only ~28,000
/// ephemeral ports, and the whole of 127.0.0.0/8 is local on Linux, so cycling over
/// 250 source addresses lifts that ceiling without any system configuration.
pub struct Connector {
    sources: Vec<Ipv4Addr>,
    next: AtomicUsize,
    resolved: HashMap<String, (SocketAddr, String)>,
    config: WebSocketConfig,
    /// For `https://` gateways: the TLS client (trusting `--ca-file` besides the
    /// system's roots).
    tls: Option<tokio_tungstenite::Connector>,
}

/// The CA file of `--ca-file`, read once.
pub fn read_ca(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("--ca-file {}", path.display()))
}

impl Connector {
    /// `spec`: `auto` (127.0.0.1-127.0.0.250 for loopback targets), `none`, a range
    /// `127.0.0.1-127.0.0.50`, or a comma-separated list of addresses.
    /// `ca`: a PEM CA to trust for `https://` gateways, besides the system's roots.
    pub async fn new(gateways: &[String], spec: &str, ca: Option<&[u8]>) -> Result<Self> {
        let mut resolved = HashMap::new();
        let mut any_tls = false;
        for g in gateways {
            let url = reqwest::Url::parse(g).with_context(|| format!("gateway url {g}"))?;
            let ws_scheme = match url.scheme() {
                "http" => "ws",
                "https" => {
                    any_tls = true;
                    "wss"
                }
                other => bail!("gateway {g}: {other}:// is neither http:// nor https://"),
            };
            let host = url
                .host_str()
                .context("gateway url without host")?
                .to_string();
            let port = url.port_or_known_default().unwrap_or(80);
            let addr = tokio::net::lookup_host((host.as_str(), port))
                .await?
                .find(SocketAddr::is_ipv4)
                .with_context(|| format!("{g}: no IPv4 address"))?;
            resolved.insert(
                g.clone(),
                (addr, format!("{ws_scheme}://{host}:{port}/api/v1/ws")),
            );
        }
        let tls = if any_tls {
            let mut builder = native_tls::TlsConnector::builder();
            if let Some(pem) = ca {
                builder.add_root_certificate(
                    native_tls::Certificate::from_pem(pem).context("--ca-file is not PEM")?,
                );
            }
            Some(tokio_tungstenite::Connector::NativeTls(
                builder.build().context("TLS client")?,
            ))
        } else {
            None
        };
        let sources = parse_sources(spec)?;
        // The gateway answers with small frames; tungstenite's default 128 KiB read
        // buffer per socket would make the generator's own memory the limit at 50,000
        // connections.
        let config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(0);
        Ok(Connector {
            sources,
            next: AtomicUsize::new(0),
            resolved,
            config,
            tls,
        })
    }

    /// The gateways' ports (to find their processes).
    pub fn ports(&self) -> Vec<u16> {
        self.resolved.values().map(|(a, _)| a.port()).collect()
    }

    pub fn source_count(&self) -> usize {
        self.sources.len()
    }

    /// TCP connect (bound to the next source address when the target is loopback) and
    /// the WebSocket upgrade with the token in the `Authorization` header.
    pub async fn connect(&self, gateway: &str, token: &str) -> Result<Ws, ConnectError> {
        let (dst, url) = self.resolved.get(gateway).cloned().ok_or_else(|| {
            ConnectError::Tcp(std::io::Error::other(format!("unknown gateway {gateway}")))
        })?;
        let socket = TcpSocket::new_v4().map_err(ConnectError::Tcp)?;
        if dst.ip().is_loopback() && !self.sources.is_empty() {
            let i = self.next.fetch_add(1, Ordering::Relaxed) % self.sources.len();
            socket
                .bind(SocketAddr::new(IpAddr::V4(self.sources[i]), 0))
                .map_err(ConnectError::Tcp)?;
        }
        let stream = socket.connect(dst).await.map_err(ConnectError::Tcp)?;
        // Small frames, measured latency: do not let Nagle hold them back.
        stream.set_nodelay(true).map_err(ConnectError::Tcp)?;
        let mut req = url.into_client_request().map_err(ConnectError::Handshake)?;
        let bearer = format!("Bearer {token}")
            .parse()
            .map_err(|_| ConnectError::NoPong("token is not a valid header value".into()))?;
        req.headers_mut().insert("Authorization", bearer);
        let (ws, _) = tokio_tungstenite::client_async_tls_with_config(
            req,
            stream,
            Some(self.config),
            self.tls.clone(),
        )
        .await
        .map_err(ConnectError::Handshake)?;
        Ok(ws)
    }

    /// Connect, then ping and wait for the pong: the gateway reads frames only after
    /// the user's live subscription is in place, so the pong proves events will arrive.
    pub async fn open(&self, gateway: &str, token: &str) -> Result<Ws, ConnectError> {
        let fut = async {
            let mut ws = self.connect(gateway, token).await?;
            ws.send(Message::text(PING))
                .await
                .map_err(|e| ConnectError::NoPong(e.to_string()))?;
            while let Some(msg) = ws.next().await {
                let msg = msg.map_err(|e| ConnectError::NoPong(e.to_string()))?;
                if let Message::Text(t) = msg {
                    if let Ok(f) = serde_json::from_str::<Frame>(&t) {
                        if f.kind == "pong" {
                            return Ok(ws);
                        }
                    }
                }
            }
            Err(ConnectError::NoPong("closed before the pong".into()))
        };
        tokio::time::timeout(Duration::from_secs(30), fut)
            .await
            .map_err(|_| ConnectError::Timeout)?
    }
}

pub const PING: &str = r#"{"type":"ping"}"#;

fn parse_sources(spec: &str) -> Result<Vec<Ipv4Addr>> {
    let spec = spec.trim();
    if spec == "none" || spec.is_empty() {
        return Ok(Vec::new());
    }
    let spec = if spec == "auto" {
        "127.0.0.1-127.0.0.250"
    } else {
        spec
    };
    if let Some((a, b)) = spec.split_once('-') {
        let a: Ipv4Addr = a.trim().parse().context("source range start")?;
        let b: Ipv4Addr = b.trim().parse().context("source range end")?;
        let (a, b) = (u32::from(a), u32::from(b));
        if b < a || b - a > 1 << 20 {
            bail!("source range {spec} is empty or too large");
        }
        return Ok((a..=b).map(Ipv4Addr::from).collect());
    }
    spec.split(',')
        .map(|s| s.trim().parse().context("source address"))
        .collect()
}

/// One server frame; only the fields the load generator looks at. Borrowed where the
/// JSON has no escapes, so the hot path (tens of thousands of frames a second) does not
/// allocate a tree per frame.
#[derive(Deserialize)]
pub struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    #[serde(borrow, default)]
    pub client_msg_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub message_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub conversation_id: Option<Cow<'a, str>>,
    #[serde(default)]
    pub seq: Option<i64>,
    #[serde(default)]
    pub prev_seq: Option<i64>,
    #[serde(borrow, default)]
    pub event: Option<EventBody<'a>>,
    #[serde(borrow, default)]
    pub code: Option<Cow<'a, str>>,
    /// On an `error`: the refused frame's client_msg_id, its type, or `unknown`.
    #[serde(rename = "ref", borrow, default)]
    pub reference: Option<Cow<'a, str>>,
    #[serde(default)]
    pub replayed: bool,
    #[serde(default)]
    pub positions: Option<HashMap<String, i64>>,
}

#[derive(Deserialize)]
pub struct EventBody<'a> {
    #[serde(borrow)]
    pub kind: Cow<'a, str>,
    #[serde(borrow, default)]
    pub body: Option<Cow<'a, str>>,
}

impl Frame<'_> {
    /// The load generator's message key (the sender's client_msg_id), when this is a
    /// `message_sent` event carrying one of our bodies (`lt <id> <padding>`).
    pub fn message_key(&self) -> Option<&str> {
        let ev = self.event.as_ref()?;
        if ev.kind != "message_sent" {
            return None;
        }
        let body = ev.body.as_deref()?.strip_prefix("lt ")?;
        Some(body.split(' ').next().unwrap_or(body))
    }
}

/// The body of message `id`, padded to about `bytes` bytes.
pub fn body(id: &str, bytes: usize) -> String {
    let mut b = format!("lt {id} ");
    while b.len() < bytes {
        b.push('x');
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse() {
        assert_eq!(parse_sources("none").unwrap().len(), 0);
        assert_eq!(parse_sources("auto").unwrap().len(), 250);
        assert_eq!(parse_sources("127.0.0.2-127.0.0.4").unwrap().len(), 3);
        assert_eq!(parse_sources("127.0.0.2,127.0.0.9").unwrap().len(), 2);
        assert!(parse_sources("127.0.0.9-127.0.0.2").is_err());
    }

    #[test]
    fn frames_and_keys() {
        let t = r#"{"type":"event","conversation_id":"c","seq":7,"prev_seq":null,"event":{"kind":"message_sent","body":"lt 3-9 xxxx","message_id":"m"},"replayed":true}"#;
        let f: Frame = serde_json::from_str(t).unwrap();
        assert_eq!(f.message_key(), Some("3-9"));
        assert_eq!((f.seq, f.prev_seq, f.replayed), (Some(7), None, true));
        let b = body("1-2", 20);
        assert_eq!(b.len(), 20);
        let t = format!(
            r#"{{"type":"event","conversation_id":"c","seq":8,"event":{{"kind":"message_sent","body":"{b}"}}}}"#
        );
        let f: Frame = serde_json::from_str(&t).unwrap();
        assert_eq!(f.message_key(), Some("1-2"));
    }
}
