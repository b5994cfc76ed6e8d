//! Scenario `search`: fill `--conversations` groups with `--messages` messages in all
//! (pipelined over every member's socket), wait until the search role has indexed them
//! (its `/metrics`, `--search-metrics`), then time `--pages` searches from `--readers`
//! concurrent clients as a person who is in every one of the groups.
//!
//! Bodies are ten words from a made-up vocabulary of 8,000, drawn so that a few words
//! are in most messages and most words are rare, as in real text. The searches mix a
//! common word, a middling one, a rare one and two words together, so their latency
//! covers large and small result sets.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::history::fill;
use crate::report::{Latency, Report, Summary};
use crate::sample::{self, Sampler};
use crate::tracker::{self, Tracker};
use crate::{setup, Ctx};

const SYLLABLES: [&str; 20] = [
    "ka", "ri", "mo", "te", "su", "la", "ne", "po", "vi", "da", "go", "shi", "ru", "me", "ta",
    "zo", "fe", "bu", "ni", "lo",
];
/// Words in the vocabulary: every three-syllable word.
const VOCABULARY: usize = 8_000;
const WORDS_PER_MESSAGE: usize = 10;

/// Vocabulary word `k` (three syllables, distinct for each k below 8,000).
fn word(k: usize) -> String {
    let k = k % VOCABULARY;
    [k / 400, (k / 20) % 20, k % 20]
        .iter()
        .map(|&s| SYLLABLES[s])
        .collect()
}

/// A deterministic number in [0, 1) for (message, position): the same run always
/// writes the same text.
fn unit(i: usize, j: usize) -> f64 {
    // splitmix64's finaliser over (i, j).
    let mut x = (i as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((j as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// The body of message `i`: words skewed towards the start of the vocabulary (the
/// cube of a uniform number), so word 0 is in most messages and word 7,999 in few.
pub fn body(i: usize) -> String {
    (0..WORDS_PER_MESSAGE)
        .map(|j| word((unit(i, j).powi(3) * VOCABULARY as f64) as usize))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Search `q` number `n` of the mix: a common word, a middling one, a rare one, two
/// words together.
fn query(n: usize) -> String {
    let pick = |lo: usize, hi: usize| lo + (unit(n, 99) * (hi - lo) as f64) as usize;
    match n % 4 {
        0 => word(pick(0, 20)),
        1 => word(pick(200, 1000)),
        2 => word(pick(4000, VOCABULARY)),
        _ => format!("{} {}", word(pick(0, 50)), word(pick(100, 400))),
    }
}

/// A gauge of the search role's `/metrics` (the sum over its label sets).
async fn gauge(http: &reqwest::Client, url: &str, name: &str) -> Result<f64> {
    let text = http
        .get(url)
        .send()
        .await
        .with_context(|| format!("the search role's metrics at {url}"))?
        .text()
        .await?;
    Ok(text
        .lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum())
}

pub async fn run(ctx: &Ctx) -> Result<()> {
    let a = &ctx.args;
    let http = &ctx.http;
    let gateway = a.gateways[0].clone();
    let groups = a.conversations.max(1);
    let per_group = a.members_or(5).max(2);
    // Account 0 is in every group (it searches them all); each group has its own others.
    let accounts = ctx.accounts(1 + groups * (per_group - 1)).await?;
    let searcher = accounts[0].clone();
    let mut conversations = Vec::with_capacity(groups);
    let mut senders = Vec::new();
    for g in 0..groups {
        let members = &accounts[1 + g * (per_group - 1)..1 + (g + 1) * (per_group - 1)];
        let ids: Vec<&str> = members.iter().map(|m| m.user_id.as_str()).collect();
        let c =
            setup::create_group(http, &gateway, &searcher, &ids, &format!("search {g}")).await?;
        for m in members {
            senders.push((c.clone(), m.clone()));
        }
        conversations.push(c);
    }
    let metrics_url = a.search_metrics.clone();
    let docs_before = gauge(http, &metrics_url, "search_documents").await?;
    let bytes_before = gauge(http, &metrics_url, "search_index_bytes").await?;
    let tracker = Arc::new(Tracker::new());
    let sampler = Sampler::start(
        sample::discover(&ctx.connector.ports(), &a.watch),
        tracker.clone(),
        Duration::from_secs(1),
    );

    eprintln!(
        "filling {groups} groups with {} messages over {} sockets",
        a.messages,
        senders.len()
    );
    let started = Instant::now();
    let per = a.messages.div_ceil(senders.len());
    let fills = senders.iter().enumerate().map(|(k, (c, m))| {
        let n = per.min(a.messages.saturating_sub(k * per));
        let gw = &a.gateways[k % a.gateways.len()];
        fill(&ctx.connector, gw, &m.token, c, k * per, n, &tracker, &body)
    });
    let acked: usize = futures::future::try_join_all(fills)
        .await?
        .iter()
        .map(Vec::len)
        .sum();
    let fill_seconds = started.elapsed().as_secs_f64();
    eprintln!("filled in {fill_seconds:.1} s; waiting for the index to hold {acked} more");

    let want = docs_before + acked as f64;
    loop {
        let docs = gauge(http, &metrics_url, "search_documents").await?;
        if docs >= want {
            break;
        }
        if started.elapsed() > Duration::from_secs(3600) {
            bail!("the search role indexed {docs} of {want} within an hour");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let indexed_after = started.elapsed().as_secs_f64();
    let index_bytes = gauge(http, &metrics_url, "search_index_bytes").await?;
    eprintln!(
        "indexed {indexed_after:.1} s after the first send; timing {} searches",
        a.pages
    );

    let hist = Arc::new(Mutex::new(tracker::histogram(3)));
    let hits_total = Arc::new(Mutex::new(0usize));
    let per_reader = a.pages.div_ceil(a.readers.max(1));
    let queried = Instant::now();
    let readers = (0..a.readers.max(1)).map(|r| {
        let (http, hist, hits_total) = (http.clone(), hist.clone(), hits_total.clone());
        let url = format!("{gateway}/api/v1/search");
        let token = searcher.token.clone();
        async move {
            for i in 0..per_reader {
                let q = query(r * per_reader + i);
                let t = Instant::now();
                let target =
                    reqwest::Url::parse_with_params(&url, [("q", q.as_str()), ("limit", "20")])?;
                let resp = http.get(target).bearer_auth(&token).send().await?;
                let status = resp.status();
                let page: Value = resp.json().await?;
                let us = t.elapsed().as_micros() as u64;
                if !status.is_success() {
                    bail!(
                        "search {q:?} failed ({status}): {}",
                        page.to_string().chars().take(200).collect::<String>()
                    );
                }
                *hits_total.lock().await += page["results"].as_array().map_or(0, Vec::len);
                hist.lock().await.saturating_record(us.max(1));
            }
            anyhow::Ok(())
        }
    });
    futures::future::try_join_all(readers).await?;
    let query_seconds = queried.elapsed().as_secs_f64();
    let samples = sampler.stop().await;
    let hist = hist.lock().await;
    let results = *hits_total.lock().await;
    let t = tracker.lock();
    let mut summary = Summary::new("search", a.params());
    summary.connections = senders.len();
    summary.sent = t.sent;
    summary.acked = t.msgs.values().filter(|m| m.ack.is_some()).count() as u64;
    summary.errors = t.errors.clone();
    summary.ack_ms = Latency::from_micros(&t.ack);
    summary.msgs_per_s = acked as f64 / fill_seconds;
    summary.elapsed_s = indexed_after + query_seconds;
    summary.set("messages", acked);
    summary.set("conversations", groups);
    summary.set("fill_seconds", fill_seconds);
    summary.set("indexed_after_first_send_s", indexed_after);
    summary.set("index_caught_up_after_fill_s", indexed_after - fill_seconds);
    summary.set("indexed_msgs_per_s", acked as f64 / indexed_after);
    summary.set("index_documents", want);
    summary.set("index_bytes", index_bytes);
    summary.set(
        "index_bytes_per_message",
        (index_bytes - bytes_before).max(0.0) / acked.max(1) as f64,
    );
    summary.set("searches", hist.len());
    summary.set("search_ms", Latency::from_micros(&hist));
    summary.set("searches_per_s", hist.len() as f64 / query_seconds);
    summary.set(
        "results_per_search",
        results as f64 / hist.len().max(1) as f64,
    );
    summary.resources = samples.resources();
    let mut report = Report::default();
    report.latency(&t.seconds, &t.ack, &t.deliver);
    report.chart(
        "search_histogram.svg",
        "Search (20 results, newest first) latency histogram",
        crate::chart::histogram("search", &hist),
    );
    report.resources(&samples);
    report.write(&a.out, &summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vocabulary_is_distinct_and_bodies_are_skewed_and_repeatable() {
        let words: std::collections::HashSet<String> = (0..VOCABULARY).map(word).collect();
        assert_eq!(words.len(), VOCABULARY);
        assert_eq!(body(42), body(42));
        assert_eq!(body(42).split(' ').count(), WORDS_PER_MESSAGE);
        let common = word(0);
        let with_common = (0..1000)
            .filter(|&i| body(i).split(' ').any(|w| w == common))
            .count();
        let rare = word(VOCABULARY - 1);
        let with_rare = (0..1000)
            .filter(|&i| body(i).split(' ').any(|w| w == rare))
            .count();
        assert!(with_common > 100, "{with_common}");
        assert!(with_rare < 10, "{with_rare}");
        assert_eq!(query(3).split(' ').count(), 2);
    }
}
