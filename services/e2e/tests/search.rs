//! v1.1 search against the real stack: the search role indexing the log into its
//! Tantivy shards, the gateway's `GET /api/v1/search` asking it and reading the messages
//! from history. Membership now, edits, deletes, paging, every error of the section, a
//! restart that resumes from the index's own position, and a rebuild from the log.

use std::time::Duration;

use chat_e2e::live::LiveStack;
use chat_e2e::*;
use serde_json::{json, Value};

/// A stack whose gateways ask one search node, and that node (on its own port and
/// directory, reading the stack's own topics).
struct SearchStack {
    stack: LiveStack,
    search: Option<Projector>,
    dir: std::path::PathBuf,
}

impl SearchStack {
    async fn start() -> Self {
        let port = free_port();
        let dir = target_tmp_dir().join(format!("search-{}", unique("idx")));
        let url = format!("http://127.0.0.1:{port}");
        let stack = LiveStack::start_with(
            1,
            60,
            3600,
            &[
                ("CHAT__GATEWAY__SEARCH_URLS", &url),
                ("CHAT__SEARCH__PORT", &port.to_string()),
                ("CHAT__SEARCH__DIR", &dir.to_string_lossy()),
            ],
        )
        .await;
        let mut s = SearchStack {
            stack,
            search: None,
            dir,
        };
        s.start_search();
        s
    }

    fn start_search(&mut self) {
        let group = format!("s-{}", self.stack.tag);
        self.search = Some(Projector::start_with(
            "search",
            &group,
            &self.stack.env_pairs(),
            &[],
        ));
    }

    fn stop_search(&mut self) {
        if let Some(mut s) = self.search.take() {
            s.stop();
        }
    }
}

async fn search(api: &Api, user: &User, query: &str) -> Reply {
    api.call(
        "GET",
        &format!("/api/v1/search?{query}"),
        Some(&user.token),
        None,
    )
    .await
}

fn bodies(reply: &Value) -> Vec<String> {
    reply["results"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|x| x["message"]["body"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Search until the bodies found are `expected` (the index trails the log by about a
/// second); the last reply.
async fn search_until(api: &Api, user: &User, query: &str, expected: &[&str]) -> Value {
    let mut last = Value::Null;
    for _ in 0..300 {
        let r = search(api, user, query).await;
        if r.status == 200 && bodies(&r.body) == expected {
            return r.body;
        }
        last = json!({"status": r.status, "body": r.body});
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("search {query:?}: never found {expected:?}; last {last}");
}

async fn send(ws: &mut Ws, c: &str, id: &str, body: &str) -> Value {
    let ack = ws.request(send_frame(c, id, body)).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    ack["message_id"].clone()
}

#[tokio::test]
async fn search_finds_members_words_newest_first_and_follows_edits_deletes_and_membership() {
    let s = SearchStack::start().await;
    let api = s.stack.api(0);
    let g = &s.stack.gateways[0];
    let alice = sign_up(&api, "alice").await;
    let bob = sign_up(&api, "bob").await;
    let carol = sign_up(&api, "carol").await;
    let team = create_group(&api, &alice, &[&bob]).await;
    let other = create_group(&api, &alice, &[&carol]).await;
    until_listed(&api, &bob, &team).await;
    until_listed(&api, &carol, &other).await;
    let mut a = Ws::connect(g, &alice.token).await;

    let draft = send(&mut a, &team, "s1", "Quarterly report draft").await;
    let cafe = send(&mut a, &team, "s2", "The Café opens at noon").await;
    send(&mut a, &other, "s3", "report for carol only").await;

    // Newest first; only conversations the caller is in.
    search_until(
        &api,
        &alice,
        "q=report",
        &["report for carol only", "Quarterly report draft"],
    )
    .await;
    let found = search_until(&api, &bob, "q=REPORT", &["Quarterly report draft"]).await;
    let hit = &found["results"][0];
    assert_eq!(hit["message"]["message_id"], draft);
    assert_eq!(hit["message"]["conversation_id"], team.as_str());
    assert!(
        hit["highlights"][0]
            .as_str()
            .is_some_and(|h| h.contains("report")),
        "{hit}"
    );
    assert_eq!(found["next_cursor"], Value::Null);
    // Accents fold; every word must match.
    search_until(&api, &bob, "q=cafe", &["The Café opens at noon"]).await;
    search_until(&api, &bob, "q=cafe%20report", &[]).await;
    // One conversation only, and only one's own.
    search_until(
        &api,
        &alice,
        &format!("q=report&conversation_id={other}"),
        &["report for carol only"],
    )
    .await;
    let r = search(&api, &bob, &format!("q=report&conversation_id={other}")).await;
    assert_eq!((r.status, r.code()), (403, "not_member"), "{}", r.body);

    // An edit is found by its new words only; a deleted message never.
    let edited = a
        .request(
            json!({"type": "edit", "conversation_id": team, "message_id": draft,
                        "body": "Quarterly summary", "client_msg_id": "e1"}),
        )
        .await;
    assert_eq!(edited["type"], "ack", "{edited}");
    search_until(&api, &bob, "q=report", &[]).await;
    search_until(&api, &bob, "q=summary", &["Quarterly summary"]).await;
    let deleted = a
        .request(
            json!({"type": "delete", "conversation_id": team, "message_id": cafe,
                        "client_msg_id": "d1"}),
        )
        .await;
    assert_eq!(deleted["type"], "ack", "{deleted}");
    search_until(&api, &bob, "q=noon", &[]).await;

    // Membership now: once removed, bob finds nothing of the group.
    let r = api
        .call(
            "DELETE",
            &format!("/api/v1/conversations/{team}/members/{}", bob.id),
            Some(&alice.token),
            None,
        )
        .await;
    assert!(
        r.status == 204 || r.status == 200,
        "{} {}",
        r.status,
        r.body
    );
    search_until(&api, &bob, "q=summary", &[]).await;
    search_until(&api, &alice, "q=summary", &["Quarterly summary"]).await;

    // Lag is on /metrics like every role's (published every few seconds).
    let node = s.search.as_ref().expect("search node");
    eventually("the search role's lag on /metrics", || async {
        let metrics = node.metrics().await;
        let lag = metrics
            .lines()
            .any(|l| l.starts_with("projector_lag{") && l.contains("role=\"search\""));
        lag && metrics.contains("search_documents")
    })
    .await;
}

#[tokio::test]
async fn search_pages_by_cursor_and_refuses_bad_requests() {
    let s = SearchStack::start().await;
    let api = s.stack.api(0);
    let g = &s.stack.gateways[0];
    let alice = sign_up(&api, "alice").await;
    let bob = sign_up(&api, "bob").await;
    let c = create_group(&api, &alice, &[&bob]).await;
    let mut a = Ws::connect(g, &alice.token).await;
    for i in 1..=5 {
        send(&mut a, &c, &format!("p{i}"), &format!("apples number {i}")).await;
    }
    search_until(
        &api,
        &alice,
        "q=apples",
        &[
            "apples number 5",
            "apples number 4",
            "apples number 3",
            "apples number 2",
            "apples number 1",
        ],
    )
    .await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = match &cursor {
            None => "q=apples&limit=2".to_string(),
            Some(c) => format!("q=apples&limit=2&cursor={c}"),
        };
        let r = search(&api, &alice, &query).await;
        assert_eq!(r.status, 200, "{}", r.body);
        seen.extend(bodies(&r.body));
        pages += 1;
        match r.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
        assert!(pages < 5, "paging does not end: {seen:?}");
    }
    assert_eq!(
        seen,
        [
            "apples number 5",
            "apples number 4",
            "apples number 3",
            "apples number 2",
            "apples number 1"
        ]
    );
    assert_eq!(pages, 3);

    // Errors.
    for (query, status, code) in [
        ("q=", 400, "bad_request"),
        ("q=%20%20", 400, "bad_request"),
        ("limit=5", 400, "bad_request"),
        ("q=x&limit=0", 400, "invalid_limit"),
        ("q=x&limit=51", 400, "invalid_limit"),
        ("q=x&cursor=zz", 400, "bad_request"),
        ("q=x&conversation_id=nope", 400, "invalid_id"),
    ] {
        let r = search(&api, &alice, query).await;
        assert_eq!((r.status, r.code()), (status, code), "{query}: {}", r.body);
    }
    let long = "a".repeat(257);
    let r = search(&api, &alice, &format!("q={long}")).await;
    assert_eq!((r.status, r.code()), (400, "bad_request"));
    let r = api.call("GET", "/api/v1/search?q=apples", None, None).await;
    assert_eq!((r.status, r.code()), (401, "unauthenticated"));
    // Query syntax people type by accident is forgiven, not an error.
    let r = search(&api, &alice, "q=apples%20AND%20(%22").await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn the_index_resumes_after_a_restart_and_rebuilds_from_the_log() {
    let mut s = SearchStack::start().await;
    let api = s.stack.api(0);
    let g = &s.stack.gateways[0];
    let alice = sign_up(&api, "alice").await;
    let bob = sign_up(&api, "bob").await;
    let c = create_group(&api, &alice, &[&bob]).await;
    let mut a = Ws::connect(g, &alice.token).await;
    send(&mut a, &c, "r1", "before the restart").await;
    search_until(&api, &alice, "q=restart", &["before the restart"]).await;

    // A node that is down makes search unavailable, not silently partial.
    s.stop_search();
    let r = search(&api, &alice, "q=restart").await;
    assert_eq!((r.status, r.code()), (503, "unavailable"), "{}", r.body);
    send(&mut a, &c, "r2", "during the restart").await;
    s.start_search();
    search_until(
        &api,
        &alice,
        "q=restart",
        &["during the restart", "before the restart"],
    )
    .await;

    // Deleting the index rebuilds it from the beginning of the log.
    s.stop_search();
    std::fs::remove_dir_all(&s.dir).expect("remove the index");
    s.start_search();
    search_until(
        &api,
        &alice,
        "q=restart",
        &["during the restart", "before the restart"],
    )
    .await;
}
