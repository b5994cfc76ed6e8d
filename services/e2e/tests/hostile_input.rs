//! Hostile input a security review found accepted: each is refused, bounded or answered
//! as documented (services/gateway/PROTOCOL.md).

use std::time::Duration;

use chat_e2e::live::{send, Client, LiveStack};
use chat_e2e::*;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

/// Binary frames count against the frame rate like text frames.
#[tokio::test]
async fn binary_frames_are_rate_limited_like_text() {
    let gw = Gateway::start("gw-binary").await;
    let api = Api::new(&gw);
    let alice = sign_up(&api, "alice").await;
    let mut ws = Ws::connect(&gw, &alice.token).await;
    for _ in 0..290 {
        ws.send_binary(vec![1, 2, 3]).await;
    }
    let mut codes = Vec::new();
    for _ in 0..290 {
        codes.push(ws.next().await["code"].as_str().unwrap_or("").to_string());
    }
    let limited = codes.iter().filter(|c| *c == "rate_limited").count();
    assert!(limited > 0, "no rate_limited among {codes:?}");
    assert!(codes
        .iter()
        .all(|c| c == "rate_limited" || c == "bad_frame"));
}

/// A text frame that is not UTF-8 closes the socket with 1007 (invalid frame payload).
#[tokio::test]
async fn a_text_frame_that_is_not_utf8_closes_with_1007() {
    let gw = Gateway::start("gw-utf8").await;
    let api = Api::new(&gw);
    let alice = sign_up(&api, "alice").await;
    let mut ws = Ws::connect(&gw, &alice.token).await;
    ws.send_raw_text(vec![b'{', 0xff, 0xfe, b'}']).await;
    assert_eq!(ws.closed().await, Some(1007));
}

/// `before` at the edge of i64 is refused, not wrapped.
#[tokio::test]
async fn negative_history_bounds_are_refused() {
    let gw = Gateway::start("gw-bounds").await;
    let api = Api::new(&gw);
    let alice = sign_up(&api, "alice").await;
    let group = create_group(&api, &alice, &[]).await;
    for query in ["before=-9223372036854775808", "before=-1", "after=-2"] {
        let r = api
            .call(
                "GET",
                &format!("/api/v1/conversations/{group}/messages?{query}"),
                Some(&alice.token),
                None,
            )
            .await;
        assert_eq!((r.status, r.code()), (400, "bad_request"), "{query}");
    }
}

/// Token answers tell caches not to keep them.
#[tokio::test]
async fn token_answers_are_not_cached() {
    let gw = Gateway::start("gw-nostore").await;
    let api = Api::new(&gw);
    let alice = sign_up(&api, "alice").await;
    let resp = api
        .http
        .post(format!("{}/api/v1/auth", api.base))
        .json(&json!({"username": alice.username, "password": PASSWORD}))
        .send()
        .await
        .expect("gateway reachable");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
}

/// A receipt claiming the largest seq is recorded at its own place in the log: the
/// others see it there, and the reader's later real receipts still go through.
#[tokio::test]
async fn a_receipt_beyond_the_log_counts_as_its_end() {
    let stack = LiveStack::start(1, 60, 30).await;
    let api = stack.api(0);
    let ana = sign_up(&api, "ana").await;
    let ben = sign_up(&api, "ben").await;
    let direct = create_direct(&api, &ana, &ben).await;
    let gateway = &stack.gateways[0];
    let mut ana_ws = Client::connect(gateway, &ana, "ana").await;
    let mut ben_ws = Client::connect(gateway, &ben, "ben").await;
    ana_ws.send_and_ack(send(&direct, "m1", "first")).await;

    ben_ws
        .ws
        .send(json!({"type": "read", "conversation_id": direct, "up_to_seq": i64::MAX}))
        .await;
    ana_ws
        .until("ben's read", WAIT, |c| {
            !c.of_kind(&direct, "read").is_empty()
        })
        .await;
    let first = ana_ws.of_kind(&direct, "read")[0].clone();
    let claimed = first["event"]["up_to_seq"].as_i64().expect("up_to_seq");
    assert!(
        claimed <= first["seq"].as_i64().expect("seq"),
        "clamped to the receipt's own seq: {first}"
    );

    let ack = ana_ws.send_and_ack(send(&direct, "m2", "second")).await;
    let m2 = ack["seq"].as_i64().expect("ack seq");
    ben_ws
        .ws
        .send(json!({"type": "read", "conversation_id": direct, "up_to_seq": m2}))
        .await;
    ana_ws
        .until("ben's real read after the claim", WAIT, |c| {
            c.of_kind(&direct, "read")
                .iter()
                .any(|r| r["event"]["up_to_seq"].as_i64() == Some(m2))
        })
        .await;
}

/// Names shown to others refuse bidirectional controls, invisible characters and the
/// BOM (a name could otherwise display as something it is not), and are stored in NFC.
#[tokio::test]
async fn names_with_bidi_controls_or_invisible_characters_are_refused() {
    let gw = Gateway::start("gw-names").await;
    let api = Api::new(&gw);
    let alice = sign_up(&api, "alice").await;
    for display_name in [
        "Adm\u{202E}gnp.exe",
        "ad\u{200B}min",
        "\u{FEFF}admin",
        "a\u{2066}b",
    ] {
        let r = api
            .call(
                "POST",
                "/api/v1/users",
                None,
                Some(json!({"username": unique("eve"), "password": PASSWORD, "display_name": display_name})),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (400, "invalid_display_name"),
            "{display_name:?}"
        );
    }
    for name in ["team\u{202E}", "a\u{200D}b", "\u{2060}"] {
        let r = api
            .call(
                "POST",
                "/api/v1/conversations",
                Some(&alice.token),
                Some(json!({"kind": "group", "name": name, "members": []})),
            )
            .await;
        assert_eq!((r.status, r.code()), (400, "invalid_name"), "{name:?}");
    }
    // Decomposed input is stored composed: one name, one spelling.
    let username = unique("jose");
    let r = api
        .call(
            "POST",
            "/api/v1/users",
            None,
            Some(
                json!({"username": username, "password": PASSWORD, "display_name": "Jose\u{301}"}),
            ),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let found = api
        .call(
            "GET",
            &format!("/api/v1/users?username={username}"),
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(
        found.body["users"][0]["display_name"], "Jos\u{E9}",
        "{}",
        found.body
    );
}

/// One request through the raw client, with extra headers: its status, `Retry-After`
/// and error code.
async fn raw(
    api: &Api,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: serde_json::Value,
) -> (u16, Option<u64>, String) {
    let mut req = api
        .http
        .request(method, format!("{}{path}", api.base))
        .json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("gateway reachable");
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (status, retry_after, code)
}

/// REST requests are throttled per user, sign-ins per account (before the password is
/// checked), sign-ups per address; each refusal is a 429 `rate_limited` with
/// `Retry-After`, and a client cannot pick its own address with `X-Forwarded-For`.
#[tokio::test]
async fn requests_sign_ins_and_sign_ups_are_throttled_with_retry_after() {
    let gw = Gateway::start_with(
        "gw-throttle",
        &[
            ("CHAT__GATEWAY__THROTTLE__PER_USER_PER_SEC", "1"),
            ("CHAT__GATEWAY__THROTTLE__PER_USER_BURST", "5"),
            ("CHAT__GATEWAY__THROTTLE__SIGN_INS_PER_MIN_PER_ACCOUNT", "1"),
            ("CHAT__GATEWAY__THROTTLE__SIGN_INS_BURST_PER_ACCOUNT", "3"),
            ("CHAT__GATEWAY__THROTTLE__SIGN_UPS_PER_MIN_PER_ADDRESS", "1"),
            ("CHAT__GATEWAY__THROTTLE__SIGN_UPS_BURST_PER_ADDRESS", "3"),
        ],
    )
    .await;
    let api = Api::new(&gw);
    let alice = sign_up(&api, "alice").await; // one sign-up, one sign-in
    let group = create_group(&api, &alice, &[]).await; // one request of alice's

    // Sends over REST: the burst passes, then 429 with Retry-After.
    let mut codes = Vec::new();
    for i in 0..10 {
        let (status, retry_after, code) = raw(
            &api,
            reqwest::Method::POST,
            &format!("/api/v1/conversations/{group}/messages"),
            Some(&alice.token),
            &[],
            json!({"client_msg_id": format!("burst-{i}"), "body": "hello"}),
        )
        .await;
        if status == 429 {
            assert_eq!(code, "rate_limited");
            assert_eq!(retry_after, Some(1), "a 1/s bucket refills within a second");
        } else {
            assert_eq!(status, 201, "{code}");
        }
        codes.push(status);
    }
    assert!(codes[..3].iter().all(|&s| s == 201), "{codes:?}");
    assert!(codes.contains(&429), "{codes:?}");

    // Sign-ins for one account: after the burst even the right password is refused.
    let sign_in = |password: &'static str| {
        raw(
            &api,
            reqwest::Method::POST,
            "/api/v1/auth",
            None,
            &[],
            json!({"username": alice.username, "password": password}),
        )
    };
    assert_eq!(sign_in("wrong password").await.0, 401);
    assert_eq!(sign_in("wrong password").await.0, 401);
    let (status, retry_after, code) = sign_in(PASSWORD).await;
    assert_eq!((status, code.as_str()), (429, "rate_limited"));
    assert!(
        retry_after.is_some_and(|s| (1..=60).contains(&s)),
        "{retry_after:?}"
    );

    // Sign-ups from one address; a forged X-Forwarded-For does not make another one.
    let sign_up_as = |forwarded: &'static str| {
        let headers: Vec<(&str, &str)> = if forwarded.is_empty() {
            vec![]
        } else {
            vec![("x-forwarded-for", forwarded)]
        };
        let body = json!({"username": unique("new"), "password": PASSWORD});
        let api = &api;
        async move {
            raw(
                api,
                reqwest::Method::POST,
                "/api/v1/users",
                None,
                &headers,
                body,
            )
            .await
        }
    };
    assert_eq!(sign_up_as("").await.0, 201);
    assert_eq!(sign_up_as("").await.0, 201);
    let (status, retry_after, _) = sign_up_as("").await;
    assert_eq!(status, 429);
    assert!(retry_after.is_some());
    assert_eq!(
        sign_up_as("203.0.113.7").await.0,
        429,
        "the header is not believed"
    );
}

/// Behind a trusted proxy, the address it forwards is the client's: clients of one
/// load balancer are throttled apart.
#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_throttled() {
    let gw = Gateway::start_with(
        "gw-proxied",
        &[
            ("CHAT__GATEWAY__THROTTLE__TRUSTED_PROXIES", "127.0.0.1"),
            ("CHAT__GATEWAY__THROTTLE__SIGN_UPS_PER_MIN_PER_ADDRESS", "1"),
            ("CHAT__GATEWAY__THROTTLE__SIGN_UPS_BURST_PER_ADDRESS", "1"),
        ],
    )
    .await;
    let api = Api::new(&gw);
    let mut statuses = Vec::new();
    for forwarded in [
        "203.0.113.1",
        "203.0.113.2",
        "203.0.113.1",
        "198.51.100.1, 203.0.113.2",
    ] {
        let (status, _, _) = raw(
            &api,
            reqwest::Method::POST,
            "/api/v1/users",
            None,
            &[("x-forwarded-for", forwarded)],
            json!({"username": unique("via-lb"), "password": PASSWORD}),
        )
        .await;
        statuses.push(status);
    }
    // The last one claims 198.51.100.1, but the proxy saw 203.0.113.2.
    assert_eq!(statuses, [201, 201, 429, 429]);
}

/// Everything a connection sends until it is closed (or 10 s pass: a failure).
async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return got,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "still open after 10 s; got {:?}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
}

/// A request whose headers never finish is cut off (slowloris).
#[tokio::test]
async fn a_request_whose_headers_never_finish_is_cut_off() {
    use tokio::io::AsyncWriteExt;
    let gw = Gateway::start_with(
        "gw-slow",
        &[("CHAT__GATEWAY__HEADER_READ_TIMEOUT_MS", "1000")],
    )
    .await;
    let mut slow = tokio::net::TcpStream::connect(("127.0.0.1", gw.port))
        .await
        .unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut slow).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
}

/// Connections beyond `gateway.max_connections` are closed on accept; a slot freed is
/// used again.
#[tokio::test]
async fn connections_beyond_the_cap_are_closed_on_accept() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let gw = Gateway::start_with("gw-cap", &[("CHAT__GATEWAY__MAX_CONNECTIONS", "3")]).await;
    let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    let served = |mut s: tokio::net::TcpStream| async move {
        s.write_all(request).await.ok()?;
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .ok()?
            .ok()?;
        String::from_utf8_lossy(&buf[..n])
            .starts_with("HTTP/1.1 200")
            .then_some(s)
    };
    // Three kept-alive connections take every slot (the harness's readiness check has
    // closed its own by now; a few tries allow for it).
    let mut held = Vec::new();
    for _ in 0..30 {
        let s = tokio::net::TcpStream::connect(("127.0.0.1", gw.port))
            .await
            .unwrap();
        if let Some(s) = served(s).await {
            held.push(s);
            if held.len() == 3 {
                break;
            }
        } else {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert_eq!(held.len(), 3, "three connections served");
    let mut fourth = tokio::net::TcpStream::connect(("127.0.0.1", gw.port))
        .await
        .unwrap();
    let _ = fourth.write_all(request).await;
    assert!(
        read_until_closed(&mut fourth).await.is_empty(),
        "closed without an answer"
    );
    drop(held.pop());
    let mut again = None;
    for _ in 0..50 {
        let s = tokio::net::TcpStream::connect(("127.0.0.1", gw.port))
            .await
            .unwrap();
        if let Some(s) = served(s).await {
            again = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(again.is_some(), "a freed slot is used again");
}
