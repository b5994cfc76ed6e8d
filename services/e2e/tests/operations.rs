//! The operator's CLI against the real stack: `chatctl tail` prints decoded events and
//! `chatctl lag` agrees with the projector's own lag metric. And start-up order: a
//! service started before the CQL store answers waits for it instead of exiting.

use std::time::Duration;

use chat_e2e::live::{send, Client, LiveStack};
use chat_e2e::{
    chatctl_with, create_group, eventually, free_port, settings, sign_up, Api, Gateway,
};

/// Forward connections on `port` to `target`, starting only after `delay`: a CQL store
/// that comes up late, at an address the gateway was told about.
fn late_forwarder(port: u16, target: String, delay: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind forwarder");
        for inbound in listener.incoming().flatten() {
            let Ok(outbound) = std::net::TcpStream::connect(&target) else {
                continue;
            };
            let (Ok(mut in2), Ok(mut out2)) = (inbound.try_clone(), outbound.try_clone()) else {
                continue;
            };
            let (mut inbound, mut outbound) = (inbound, outbound);
            std::thread::spawn(move || std::io::copy(&mut inbound, &mut outbound));
            std::thread::spawn(move || std::io::copy(&mut out2, &mut in2));
        }
    });
}

/// Sum of `projector_lag` over partitions, if the projector reports any.
async fn metric_lag(port: u16) -> Option<i64> {
    let text = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let values: Vec<i64> = text
        .lines()
        .filter(|l| l.starts_with("projector_lag{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as i64)
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

/// Sum of the LAG column of `chatctl lag --group G` for the conversation-events topic.
fn cli_lag(stack: &LiveStack, group: &str) -> i64 {
    let out = chatctl_with(&stack.env_pairs(), &["lag", "--group", group]);
    out.lines()
        .skip(1)
        .filter(|l| l.contains("conversation-events"))
        .filter_map(|l| l.split_whitespace().last()?.parse::<i64>().ok())
        .sum()
}

#[tokio::test]
async fn tail_prints_decoded_events_and_lag_matches_the_metric() {
    let mut stack = LiveStack::start(1, 60, 30).await;
    let api = stack.api(0);
    let (a, b) = (sign_up(&api, "ana").await, sign_up(&api, "ben").await);
    let group = create_group(&api, &a, &[&b]).await;
    let mut ana = Client::connect(&stack.gateways[0], &a, "ana").await;
    ana.send_and_ack(send(&group, "t-1", "hello <tail>")).await;

    let out = chatctl_with(
        &stack.env_pairs(),
        &[
            "tail",
            "conversation-events",
            "--from-beginning",
            "--idle-exit-secs",
            "3",
        ],
    );
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    let ours: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["key"] == group.as_str())
        .collect();
    assert_eq!(ours.len(), 2, "created and sent: {out}");
    assert!(ours.iter().all(|l| l.get("error").is_none()), "{out}");
    let sent = &ours[1]["value"];
    assert_eq!(sent["conversation_id"], group.as_str());
    assert_eq!(sent["actor_id"], a.id.as_str());
    // The log holds bodies sealed (v1.2): `tail` shows what is there, which is not the
    // body in the clear.
    assert_eq!(sent["payload"]["body"], "", "{sent}");
    assert!(sent["sealed"].is_object(), "{sent}");
    assert!(!out.contains("hello <tail>"), "{out}");

    // Caught up: both say nothing is waiting.
    let history_group = format!("h-{}", stack.tag);
    let port = stack.history.port;
    eventually("the projector reports zero lag", || async {
        metric_lag(port).await == Some(0)
    })
    .await;
    assert_eq!(cli_lag(&stack, &history_group), 0);

    // Stopped, with three events it has not read: the CLI counts them.
    stack.history.stop();
    for i in 0..3 {
        ana.send_and_ack(send(&group, &format!("t-late-{i}"), "late"))
            .await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(cli_lag(&stack, &history_group), 3);
}

#[tokio::test]
async fn a_gateway_started_before_the_cql_store_answers_waits_for_it() {
    let port = free_port();
    let real_store = settings().cql.nodes[0].clone();
    late_forwarder(port, real_store, Duration::from_secs(3));
    let nodes = format!("127.0.0.1:{port}");
    let gateway = Gateway::start_with("late-cql", &[("CQL_NODES", nodes.as_str())]).await;
    assert!(
        gateway.log_text().contains("CQL store not ready"),
        "the gateway never had to wait:\n{}",
        gateway.log_text()
    );
    // And it works: signing up reads and writes the store.
    sign_up(&Api::new(&gateway), "late").await;
}
