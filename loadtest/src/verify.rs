//! After a run: is every acked message in the history projection? Reads each
//! conversation back over the REST history route (`GET .../messages?after=SEQ`), the
//! way a client pages, once the projection has reached the last acked seq.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::Result;
use futures::StreamExt;
use serde_json::Value;

pub struct Conversation {
    pub id: String,
    /// A member's token.
    pub token: String,
    /// (seq, message_id) of each acked message.
    pub acked: Vec<(i64, String)>,
}

#[derive(Default)]
pub struct HistoryCheck {
    pub checked: u64,
    /// message_ids acked but absent from history.
    pub missing: HashSet<String>,
    /// Conversations whose last acked message never showed up within the wait.
    pub not_caught_up: u64,
    pub seconds: f64,
}

/// Check every conversation, 8 at a time, waiting at most `wait` in all for the
/// projection to catch up.
pub async fn check(
    http: &reqwest::Client,
    gateway: &str,
    conversations: Vec<Conversation>,
    wait: Duration,
) -> Result<HistoryCheck> {
    let started = Instant::now();
    let deadline = started + wait;
    let results: Vec<Result<(u64, Vec<String>, bool)>> = futures::stream::iter(conversations)
        .map(|c| check_one(http, gateway, c, deadline))
        .buffer_unordered(8)
        .collect()
        .await;
    let mut out = HistoryCheck::default();
    for r in results {
        let (checked, missing, caught_up) = r?;
        out.checked += checked;
        out.missing.extend(missing);
        out.not_caught_up += u64::from(!caught_up);
    }
    out.seconds = started.elapsed().as_secs_f64();
    Ok(out)
}

async fn page(http: &reqwest::Client, url: &str, token: &str) -> Result<Vec<Value>> {
    let r = http.get(url).bearer_auth(token).send().await?;
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        anyhow::bail!("history page {url}: {status} {v}");
    }
    Ok(v["messages"].as_array().cloned().unwrap_or_default())
}

async fn check_one(
    http: &reqwest::Client,
    gateway: &str,
    mut c: Conversation,
    deadline: Instant,
) -> Result<(u64, Vec<String>, bool)> {
    c.acked.retain(|(seq, _)| *seq >= 0);
    c.acked.sort_unstable();
    let (Some(&(first, _)), Some(&(last, _))) = (c.acked.first(), c.acked.last()) else {
        return Ok((0, Vec::new(), true));
    };
    let base = format!("{gateway}/api/v1/conversations/{}/messages", c.id);
    // The projection applies a conversation's events in seq order: once the last acked
    // message is there, everything before it is (or is lost).
    let mut caught_up = false;
    loop {
        let newest = page(http, &format!("{base}?limit=1"), &c.token).await?;
        if newest
            .first()
            .and_then(|m| m["seq"].as_i64())
            .is_some_and(|s| s >= last)
        {
            caught_up = true;
            break;
        }
        if Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut present = HashSet::new();
    let mut after = first - 1;
    loop {
        let msgs = page(http, &format!("{base}?after={after}&limit=200"), &c.token).await?;
        let Some(next) = msgs.last().and_then(|m| m["seq"].as_i64()) else {
            break;
        };
        for m in &msgs {
            if let Some(id) = m["message_id"].as_str() {
                present.insert(id.to_string());
            }
        }
        if next >= last || next <= after {
            break;
        }
        after = next;
    }
    let missing: Vec<String> = c
        .acked
        .iter()
        .filter(|(_, id)| !present.contains(id))
        .map(|(_, id)| id.clone())
        .collect();
    Ok((c.acked.len() as u64, missing, caught_up))
}

/// The conversations of a run with a member token each, ready for [`check`].
pub fn conversations(
    ids: &[String],
    tokens: &[String],
    acked: Vec<Vec<(i64, String)>>,
) -> Vec<Conversation> {
    ids.iter()
        .zip(tokens)
        .zip(acked)
        .map(|((id, token), acked)| Conversation {
            id: id.clone(),
            token: token.clone(),
            acked,
        })
        .collect()
}

/// A message as the history API holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub seq: i64,
    pub message_id: String,
    /// The load generator's message key (from the body `lt <key> ...`).
    pub key: Option<String>,
}

async fn page_retrying(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    deadline: Instant,
) -> Result<Value> {
    let mut tries = 0;
    loop {
        let r = async {
            let r = http.get(url).bearer_auth(token).send().await?;
            let status = r.status();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            if !status.is_success() {
                anyhow::bail!("history page {url}: {status} {v}");
            }
            Ok(v)
        }
        .await;
        match r {
            Ok(v) => return Ok(v),
            // A store that has just come back may answer 503 for a while.
            Err(e) if tries < 20 || Instant::now() < deadline => {
                tries += 1;
                if tries % 5 == 1 {
                    eprintln!("retrying: {e:#}");
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Every message of a conversation, paged from the newest back to the first with
/// `before=` (the whole history, not just the acked range), once the projection has
/// caught up: its newest message is at or past `last`, or (checked every 5 s, for a
/// message acked at a seq history does not hold because it was appended twice) every
/// message_id of `want` is there. Waits until `deadline`. Returns the messages, newest
/// first, and whether the projection had caught up.
pub async fn page_all(
    http: &reqwest::Client,
    gateway: &str,
    conversation: &str,
    token: &str,
    last: Option<i64>,
    want: &HashSet<String>,
    deadline: Instant,
) -> Result<(Vec<Stored>, bool)> {
    let base = format!("{gateway}/api/v1/conversations/{conversation}/messages");
    let Some(last) = last else {
        return Ok((pages(http, &base, token, deadline).await?, true));
    };
    let mut checks = 0u32;
    loop {
        let v = page_retrying(http, &format!("{base}?limit=1"), token, deadline).await?;
        if v["messages"][0]["seq"].as_i64().is_some_and(|s| s >= last) {
            return Ok((pages(http, &base, token, deadline).await?, true));
        }
        checks += 1;
        if checks.is_multiple_of(20) || Instant::now() >= deadline {
            let all = pages(http, &base, token, deadline).await?;
            let have: HashSet<&str> = all.iter().map(|m| m.message_id.as_str()).collect();
            let complete = want.iter().all(|id| have.contains(id.as_str()));
            if complete || Instant::now() >= deadline {
                return Ok((all, complete));
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn pages(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    deadline: Instant,
) -> Result<Vec<Stored>> {
    let mut out = Vec::new();
    let mut url = format!("{base}?limit=200");
    loop {
        let v = page_retrying(http, &url, token, deadline).await?;
        for m in v["messages"].as_array().into_iter().flatten() {
            let (Some(seq), Some(id)) = (m["seq"].as_i64(), m["message_id"].as_str()) else {
                continue;
            };
            let key = m["body"]
                .as_str()
                .and_then(|b| b.strip_prefix("lt "))
                .and_then(|b| b.split(' ').next())
                .map(str::to_string);
            out.push(Stored {
                seq,
                message_id: id.to_string(),
                key,
            });
        }
        match v["next_before"].as_i64() {
            Some(before) => url = format!("{base}?before={before}&limit=200"),
            None => return Ok(out),
        }
    }
}
