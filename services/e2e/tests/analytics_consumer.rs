//! The example analytics consumer (`services/analytics-example/activity.py`, stock
//! confluent-kafka and its registry AvroDeserializer) against the real stack: two
//! conversations, messages, edits, deletes and reactions from three users, then the
//! consumer run the way an analytics team would, stopped halfway (`--max-records`, its
//! "crash") and started again (`--until-idle`). The per-minute CSV must hold exactly
//! what was sent: no record lost at the stop, none counted twice after the restart.
//!
//! The Python interpreter is the virtual environment `infra/dev test` (and `up`, `deps`)
//! makes: `CHAT_ANALYTICS_PYTHON`, else `<repo>/.state/venv-analytics/bin/python`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chat_core::codec::EventCodec;
use chat_core::events::{ConversationEvent, Payload};
use chat_core::time::UnixMillis;
use chat_core::topics::Topics;
use chat_e2e::live::LiveStack;
use chat_e2e::*;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{json, Value};

/// One CSV row's numbers: messages, edits, deletes, reactions, active users, active
/// conversations.
type Activity = [i64; 6];

const COLUMNS: &str = "minute,messages,edits,deletes,reactions,active_users,active_conversations";

fn read_csv(path: &Path) -> BTreeMap<String, Activity> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("the consumer wrote no {}: {e}", path.display()));
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(COLUMNS), "the CSV header:\n{text}");
    lines
        .filter(|l| !l.is_empty())
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            assert_eq!(cells.len(), 7, "a CSV row of 7 cells: {line}");
            let mut row = [0i64; 6];
            for (i, cell) in cells[1..].iter().enumerate() {
                row[i] = cell
                    .parse()
                    .unwrap_or_else(|_| panic!("a number in column {}: {line}", i + 1));
            }
            (cells[0].to_string(), row)
        })
        .collect()
}

fn totals(rows: &BTreeMap<String, Activity>) -> [i64; 4] {
    let mut t = [0i64; 4];
    for row in rows.values() {
        for i in 0..4 {
            t[i] += row[i];
        }
    }
    t
}

/// The UTC minute an event falls in, as the consumer writes it (`2026-11-29T23:27:00Z`).
fn minute_of(at: UnixMillis) -> String {
    UnixMillis(at.0 - at.0.rem_euclid(60_000)).to_rfc3339()
}

/// What the consumer must report for `events`: counts per minute of occurred_at, and
/// the distinct actors and conversations of every event in that minute.
fn expected_activity(events: &[ConversationEvent]) -> BTreeMap<String, Activity> {
    let mut counts: BTreeMap<String, [i64; 4]> = BTreeMap::new();
    let mut users: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut conversations: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in events {
        let minute = minute_of(e.occurred_at);
        let row = counts.entry(minute.clone()).or_default();
        match &e.payload {
            Payload::MessageSent(_) => row[0] += 1,
            Payload::MessageEdited { .. } => row[1] += 1,
            Payload::MessageDeleted { .. } => row[2] += 1,
            Payload::ReactionAdded(_) => row[3] += 1,
            _ => {}
        }
        users
            .entry(minute.clone())
            .or_default()
            .insert(e.actor_id.to_string());
        conversations
            .entry(minute)
            .or_default()
            .insert(e.conversation_id.to_string());
    }
    counts
        .into_iter()
        .map(|(minute, c)| {
            let row = [
                c[0],
                c[1],
                c[2],
                c[3],
                users[&minute].len() as i64,
                conversations[&minute].len() as i64,
            ];
            (minute, row)
        })
        .collect()
}

/// Every record of `topic` from the beginning, decoded through the registry, once at
/// least `at_least` have arrived and nothing more came for 3 s.
async fn read_topic(topic: &str, at_least: usize) -> Vec<ConversationEvent> {
    let s = settings();
    let consumer: BaseConsumer = chat_core::kafka::client_config(&s.kafka)
        .set("group.id", unique("test-analytics-readback"))
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()
        .expect("consumer");
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    let mut tpl = TopicPartitionList::new();
    for p in md.topics()[0].partitions() {
        tpl.add_partition_offset(topic, p.id(), Offset::Beginning)
            .expect("offset");
    }
    consumer.assign(&tpl).expect("assign");
    let codec = EventCodec::new(&s.registry).expect("codec");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut events = Vec::new();
    let mut quiet_since = Instant::now();
    while Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(msg)) => {
                let event: ConversationEvent = codec
                    .decode(msg.payload().expect("a value"))
                    .await
                    .expect("every record decodes");
                events.push(event);
                quiet_since = Instant::now();
            }
            Some(Err(e)) => panic!("reading {topic}: {e}"),
            None => {
                if events.len() >= at_least && quiet_since.elapsed() > Duration::from_secs(3) {
                    return events;
                }
            }
        }
    }
    panic!(
        "only {} of at least {at_least} events arrived in {topic}",
        events.len()
    );
}

/// Run activity.py with `args` (at most 180 s); its log, panicking with it on failure.
async fn run_consumer(args: &[String], log: &Path) -> String {
    let file = std::fs::File::create(log).expect("consumer log file");
    let mut child = Command::new(analytics_python())
        .arg(repo_root().join("services/analytics-example/activity.py"))
        .args(args)
        .env("ACTIVITY_LOG", "INFO")
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("log"))
        .stderr(file)
        .spawn()
        .expect("start activity.py");
    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for activity.py") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "activity.py did not finish in 180 s; its log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let text = std::fs::read_to_string(log).unwrap_or_default();
    assert!(
        status.success(),
        "activity.py {args:?} failed ({status}):\n{text}"
    );
    text
}

async fn acked(ws: &mut Ws, frame: Value) -> Value {
    let answer = ws.request(frame.clone()).await;
    assert_eq!(answer["type"], "ack", "{frame} was answered {answer}");
    answer
}

fn edit(c: &str, m: &Value, body: &str, id: &str) -> Value {
    json!({"type": "edit", "conversation_id": c, "message_id": m, "body": body,
           "client_msg_id": id})
}

fn delete(c: &str, m: &Value, id: &str) -> Value {
    json!({"type": "delete", "conversation_id": c, "message_id": m, "client_msg_id": id})
}

fn react(c: &str, m: &Value, emoji: &str, id: &str) -> Value {
    json!({"type": "react", "conversation_id": c, "message_id": m, "emoji": emoji,
           "op": "add", "client_msg_id": id})
}

#[tokio::test]
async fn the_example_consumer_counts_every_record_once_across_a_restart() {
    // Fail at once, before starting anything, when the venv is missing.
    analytics_python();
    let stack = LiveStack::start(1, 60, 3600).await;
    let api = stack.api(0);
    let g = &stack.gateways[0];
    let alice = sign_up(&api, "alice").await;
    let bob = sign_up(&api, "bob").await;
    let carol = sign_up(&api, "carol").await;
    let team = create_group(&api, &alice, &[&bob, &carol]).await;
    let pair = create_group(&api, &bob, &[&alice]).await;
    // Alice, Bob and Carol's sockets, in that order.
    let mut ws = [
        Ws::connect(g, &alice.token).await,
        Ws::connect(g, &bob.token).await,
        Ws::connect(g, &carol.token).await,
    ];
    let (a, b, c) = (0, 1, 2);

    // Messages: 4 + 3 + 2 in the team, 3 + 2 in the pair.
    let mut sent: Vec<(usize, String, Value)> = Vec::new();
    for (who, conversation, n) in [
        (a, &team, 4),
        (b, &team, 3),
        (c, &team, 2),
        (b, &pair, 3),
        (a, &pair, 2),
    ] {
        for i in 0..n {
            let id = format!("{who}-{}-{i}", &conversation[..8]);
            let ack = acked(
                &mut ws[who],
                send_frame(conversation, &id, &format!("hello {i}")),
            )
            .await;
            sent.push((who, conversation.clone(), ack["message_id"].clone()));
        }
    }
    let of = |who: usize, conversation: &str| -> Vec<Value> {
        sent.iter()
            .filter(|(w, c, _)| *w == who && c == conversation)
            .map(|(_, _, m)| m.clone())
            .collect()
    };
    let (a_team, b_team, c_team) = (of(a, &team), of(b, &team), of(c, &team));
    let (b_pair, a_pair) = (of(b, &pair), of(a, &pair));
    // Edits: 3. Deletes: 2. Reactions: 3 (none on a deleted message).
    acked(&mut ws[a], edit(&team, &a_team[0], "hello again", "a-e1")).await;
    acked(&mut ws[a], edit(&team, &a_team[1], "and again", "a-e2")).await;
    acked(&mut ws[b], edit(&pair, &b_pair[0], "edited", "b-e1")).await;
    acked(&mut ws[b], delete(&team, &b_team[2], "b-d1")).await;
    acked(&mut ws[a], delete(&pair, &a_pair[1], "a-d1")).await;
    acked(&mut ws[c], react(&team, &a_team[0], "👍", "c-r1")).await;
    acked(&mut ws[b], react(&team, &c_team[0], "🎉", "b-r1")).await;
    acked(&mut ws[a], react(&pair, &b_pair[1], ":ship_it:", "a-r1")).await;
    let sent_totals: [i64; 4] = [14, 3, 2, 3];

    // Everything is in Kafka: read it back, and what the consumer must find follows.
    let topic = Topics::new(&format!("t{}.", stack.tag)).conversation_events;
    // 2 creations, 14 messages, 3 edits, 2 deletes, 3 reactions.
    let events = read_topic(&topic, 24).await;
    let ours: Vec<ConversationEvent> = events
        .iter()
        .filter(|e| {
            let id = e.conversation_id.to_string();
            id == team || id == pair
        })
        .cloned()
        .collect();
    let expected = expected_activity(&ours);
    assert_eq!(
        totals(&expected),
        sent_totals,
        "the log holds what was sent: {expected:?}"
    );

    let dir = target_tmp_dir().join(format!("analytics-{}", stack.tag));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let state = dir.join("state.sqlite");
    let out = dir.join("activity.csv");
    let s = settings();
    let common: Vec<String> = vec![
        "--bootstrap".into(),
        s.kafka.brokers.clone(),
        "--registry".into(),
        s.registry.url.clone(),
        "--topic".into(),
        topic.clone(),
        "--group".into(),
        unique("test-analytics"),
        "--state".into(),
        state.display().to_string(),
        "--out".into(),
        out.display().to_string(),
        "--conversation".into(),
        team.clone(),
        "--conversation".into(),
        pair.clone(),
    ];
    let with = |extra: &[&str]| -> Vec<String> {
        let mut args = common.clone();
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    };

    // First run: stopped after about half the records, mid-stream.
    let half = (events.len() / 2).to_string();
    run_consumer(
        &with(&["--max-records", half.as_str()]),
        &dir.join("first-run.log"),
    )
    .await;
    let partial = read_csv(&out);
    let partial_totals = totals(&partial);
    assert!(
        partial_totals.iter().zip(sent_totals).all(|(p, s)| *p <= s)
            && partial_totals.iter().sum::<i64>() < sent_totals.iter().sum::<i64>(),
        "after {half} of {} records the counts are partial: {partial:?}",
        events.len()
    );

    // Second run: the same group and state, until the topic is idle.
    let log = run_consumer(&with(&["--until-idle", "5"]), &dir.join("second-run.log")).await;
    let full = read_csv(&out);
    assert_eq!(
        totals(&full),
        sent_totals,
        "messages, edits, deletes and reactions after the restart: each exactly once \
         (first run {partial:?}); the consumer's log:\n{log}"
    );
    assert_eq!(
        full, expected,
        "per minute, counts, active users and active conversations"
    );

    // A third run finds nothing new and changes nothing.
    run_consumer(&with(&["--until-idle", "3"]), &dir.join("third-run.log")).await;
    assert_eq!(read_csv(&out), expected, "a run with nothing new");
}
