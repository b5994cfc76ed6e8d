//! TLS on every connection, against the real binaries and servers: the gateway serving
//! HTTPS and WSS with the development CA (`infra/lib/tls.sh`), and a whole stack whose
//! Kafka, Redis and CQL connections are encrypted and authenticated.

use std::time::Duration;

use chat_e2e::live::{send, Client, LiveStack};
use std::process::{Command, Stdio};
use std::time::Instant;

use chat_e2e::tls::{gateway_tls_env, https_client, secure_servers_env};
use chat_e2e::{
    create_group, eventually, sign_up, until_listed, workspace_binary, Api, JWT_SECRET,
};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

/// A message sent over WSS is acknowledged, delivered live to the other member over
/// WSS, and readable from history over HTTPS.
async fn send_deliver_and_read(stack: &LiveStack) {
    let api = stack.api(0);
    assert!(api.base.starts_with("https://"), "{}", api.base);
    let (ana, ben) = (sign_up(&api, "ana").await, sign_up(&api, "ben").await);
    let mut ana_ws = Client::connect(&stack.gateways[0], &ana, "ana").await;
    let mut ben_ws = Client::connect(&stack.gateways[0], &ben, "ben").await;
    let group = create_group(&api, &ana, &[&ben]).await;
    let ack = ana_ws
        .send_and_ack(send(&group, "tls-1", "over TLS all the way"))
        .await;
    let seq = ack["seq"].as_i64().expect("seq in the ack");
    ben_ws
        .until("the message, live", WAIT, |c| {
            c.of_kind(&group, "message_sent").len() == 1
        })
        .await;
    let live = ben_ws.of_kind(&group, "message_sent");
    assert_eq!(live[0]["event"]["body"], "over TLS all the way");

    until_listed(&api, &ben, &group).await;
    let path = format!("/api/v1/conversations/{group}/messages");
    eventually("the message is in history", || async {
        let r = api.call("GET", &path, Some(&ben.token), None).await;
        assert_eq!(r.status, 200, "history: {}", r.body);
        r.body["messages"].as_array().is_some_and(|ms| {
            ms.iter()
                .any(|m| m["seq"].as_i64() == Some(seq) && m["body"] == "over TLS all the way")
        })
    })
    .await;
}

fn pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[tokio::test]
async fn tls_gateway_serves_https_and_wss_with_the_dev_ca() {
    let env = gateway_tls_env();
    let stack = LiveStack::start_with(1, 60, 30, &pairs(&env)).await;
    send_deliver_and_read(&stack).await;

    // Plain HTTP on the TLS port is not served.
    let gateway = &stack.gateways[0];
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}/healthz", gateway.port))
        .send()
        .await;
    assert!(
        plain.is_err(),
        "plain HTTP answered on the TLS port: {plain:?}"
    );
    // The dev CA is the only trust that works: the system roots do not know it.
    let untrusting = reqwest::Client::builder()
        .build()
        .expect("client with the system roots")
        .get(format!("{}/healthz", gateway.url()))
        .send()
        .await;
    let refused = untrusting.expect_err("a client that does not trust the dev CA was served");
    assert!(refused.is_connect(), "{refused:?}");
    let trusted = https_client()
        .get(format!("{}/healthz", gateway.url()))
        .send()
        .await
        .expect("a client that trusts the dev CA is served");
    assert!(trusted.status().is_success());
    // A WebSocket client that does not trust the CA cannot upgrade.
    let ws = tokio_tungstenite::connect_async(gateway.ws_url()).await;
    assert!(ws.is_err(), "wss without the dev CA upgraded");
}

#[tokio::test]
async fn tls_gateway_drops_a_client_that_never_finishes_the_handshake() {
    let mut env = gateway_tls_env();
    env.push(("CHAT__GATEWAY__HEADER_READ_TIMEOUT_MS".into(), "500".into()));
    let stack = LiveStack::start_with(1, 60, 30, &pairs(&env)).await;
    let gateway = &stack.gateways[0];
    let mut silent = tokio::net::TcpStream::connect(("127.0.0.1", gateway.port))
        .await
        .expect("connect");
    // Send nothing: the gateway must close the connection on its own.
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::io::AsyncReadExt::read(&mut silent, &mut buf),
    )
    .await
    .expect("the gateway held a connection that never started its handshake");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    let _: Value = Api::new(gateway)
        .call("GET", "/healthz", None, None)
        .await
        .body;
}

#[tokio::test]
async fn tls_everywhere_kafka_sasl_ssl_redis_tls_and_cql_tls_at_once() {
    let mut env = secure_servers_env();
    env.extend(gateway_tls_env());
    let stack = LiveStack::start_with(1, 60, 30, &pairs(&env)).await;
    send_deliver_and_read(&stack).await;
    let log = stack.gateways[0].log_text();
    assert!(
        log.contains("scheme=\"https\"") || log.contains("https"),
        "{log}"
    );
}

/// Start `binary` with `env` on top of the secure servers' environment, and wait for it
/// to exit by itself: its exit status and everything it logged.
fn start_and_expect_exit(binary: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(workspace_binary(binary));
    cmd.args(args)
        .envs(secure_servers_env())
        .envs(env.iter().copied())
        .env("CHAT__GATEWAY__JWT_SECRET", JWT_SECRET)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start the binary");
    // Generous: a bounded wait, not a timing assertion. A process that is still running
    // after it has hung on its dependencies, which is what this test is about.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let out = child.wait_with_output().expect("output");
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                !status.success(),
                "{binary} started with wrong credentials:\n{text}"
            );
            return text;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "{binary} still running with wrong credentials after 90 s:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn wrong_kafka_credentials_stop_the_gateway_and_the_projector_with_the_reason() {
    let wrong = [("CHAT__KAFKA__SASL__PASSWORD", "not-the-password")];
    let port = chat_e2e::free_port().to_string();
    let gateway = start_and_expect_exit("chat-gateway", &["--port", &port], &wrong);
    assert!(
        gateway.contains("Kafka at") && gateway.contains("Authentication"),
        "{gateway}"
    );
    let port = chat_e2e::free_port().to_string();
    let projector = start_and_expect_exit(
        "chat-projector",
        &[
            "--role",
            "history",
            "--group",
            "wrong-credentials",
            "--port",
            &port,
        ],
        &wrong,
    );
    assert!(
        projector.contains("Kafka at") && projector.contains("Authentication"),
        "{projector}"
    );
}

#[test]
fn wrong_redis_credentials_stop_the_gateway_with_the_reason() {
    let url = chat_e2e::tls::required_var("REDIS_TLS_URL");
    let wrong = url.replacen("rediss://chat:", "rediss://chat:wrong", 1);
    assert_ne!(url, wrong, "REDIS_TLS_URL carries the chat user's password");
    let port = chat_e2e::free_port().to_string();
    let gateway =
        start_and_expect_exit("chat-gateway", &["--port", &port], &[("REDIS_URL", &wrong)]);
    assert!(
        gateway.contains("connecting to Redis")
            && gateway.to_lowercase().contains("authentication failed"),
        "{gateway}"
    );
}

#[test]
fn an_untrusted_certificate_stops_the_gateway_with_the_reason() {
    // A CA the servers' certificates do not chain to: the system's roots.
    let port = chat_e2e::free_port().to_string();
    let gateway = start_and_expect_exit(
        "chat-gateway",
        &["--port", &port],
        &[(
            "CHAT__KAFKA__TLS__CA_PATH",
            "/etc/ssl/certs/ca-certificates.crt",
        )],
    );
    assert!(gateway.contains("Kafka at"), "{gateway}");
}

#[test]
fn untrusted_cql_and_redis_certificates_stop_the_gateway_with_the_reason() {
    // The servers accept plaintext too (Cassandra's encryption is optional locally), so
    // this is what shows the gateway really speaks TLS to them: with a CA their
    // certificates do not chain to, the handshake fails.
    let system_roots = "/etc/ssl/certs/ca-certificates.crt";
    let port = chat_e2e::free_port().to_string();
    let cql = start_and_expect_exit(
        "chat-gateway",
        &["--port", &port],
        &[
            ("CHAT__CQL__TLS__CA_PATH", system_roots),
            ("CHAT__CQL__CONNECT_PATIENCE_SECS", "2"),
        ],
    );
    assert!(
        cql.contains("connecting to the CQL store") && cql.contains("certificate verify failed"),
        "{cql}"
    );
    let port = chat_e2e::free_port().to_string();
    let redis = start_and_expect_exit(
        "chat-gateway",
        &["--port", &port],
        &[("CHAT__REDIS__TLS__CA_PATH", system_roots)],
    );
    assert!(
        redis.contains("connecting to Redis") && redis.contains("certificate verify failed"),
        "{redis}"
    );
}
