//! Accounts and conversations for a run, over the REST API.
//!
//! Signing up costs the gateway two argon2id hashes (sign up, then sign in), tens of
//! milliseconds of CPU each: 50,000 users would take an hour on two cores. So scenarios
//! that need many sockets let users hold several (`--users`), and `--accounts FILE`
//! keeps accounts and their refresh tokens between runs: a later run refreshes them
//! (no hashing) instead of signing up again.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A signed-in user.
#[derive(Clone, Serialize, Deserialize)]
pub struct Account {
    pub username: String,
    pub user_id: String,
    pub token: String,
    /// RFC 3339, as the gateway answered.
    pub expires_at: String,
    /// Buys the next access token (`POST /api/v1/auth/refresh`); rotates on each use.
    #[serde(default)]
    pub refresh_token: String,
}

/// Refreshes in flight when reusing an accounts file.
const REFRESH_CONCURRENCY: usize = 32;

const PASSWORD: &str = "load-test-password";
/// Sign-ups in flight: enough to keep both cores' argon2 busy without queueing.
const SIGNUP_CONCURRENCY: usize = 8;

async fn sign_up(http: &reqwest::Client, gateway: &str, username: String) -> Result<Account> {
    let r = http
        .post(format!("{gateway}/api/v1/users"))
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await?;
    if r.status().as_u16() != 201 {
        bail!(
            "sign up {username} failed ({}): {}",
            r.status(),
            r.text().await.unwrap_or_default()
        );
    }
    let r = http
        .post(format!("{gateway}/api/v1/auth"))
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("sign in {username} failed ({})", r.status());
    }
    let v: Value = r.json().await?;
    account_from(username, &v)
}

fn account_from(username: String, v: &Value) -> Result<Account> {
    Ok(Account {
        user_id: v["user_id"].as_str().context("user_id")?.to_string(),
        token: v["token"].as_str().context("token")?.to_string(),
        expires_at: v["expires_at"].as_str().unwrap_or_default().to_string(),
        refresh_token: v["refresh_token"].as_str().unwrap_or_default().to_string(),
        username,
    })
}

/// A fresh access token (and the next refresh token) for a kept account; `None` if the
/// gateway no longer knows its sign-in (another state directory, expired, revoked).
async fn refresh(http: &reqwest::Client, gateway: &str, a: Account) -> Result<Option<Account>> {
    if a.refresh_token.is_empty() {
        return Ok(None);
    }
    let r = http
        .post(format!("{gateway}/api/v1/auth/refresh"))
        .json(&json!({ "refresh_token": a.refresh_token }))
        .send()
        .await?;
    if r.status().as_u16() == 401 {
        return Ok(None);
    }
    if !r.status().is_success() {
        bail!("refreshing {} failed ({})", a.username, r.status());
    }
    let v: Value = r.json().await?;
    account_from(a.username, &v).map(Some)
}

/// `n` accounts: from `cache` where the gateway still knows their sign-in (refreshed),
/// the rest signed up as `lt-<run>-<i>` and appended to it.
pub async fn accounts(
    http: &reqwest::Client,
    gateway: &str,
    run: &str,
    n: usize,
    cache: Option<&Path>,
) -> Result<Vec<Account>> {
    let mut have = match cache {
        Some(p) => load_cache(http, gateway, p).await?,
        None => Vec::new(),
    };
    have.truncate(n);
    let missing = n - have.len();
    if missing > 0 {
        eprintln!(
            "signing up {missing} users ({} from the accounts file)",
            have.len()
        );
    }
    let started = std::time::Instant::now();
    let mut new = futures::stream::iter(0..missing)
        .map(|i| sign_up(http, gateway, format!("lt-{run}-{i}")))
        .buffered(SIGNUP_CONCURRENCY);
    let mut file = match cache {
        Some(p) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("open {}", p.display()))?,
        ),
        None => None,
    };
    let mut done = 0;
    while let Some(a) = new.next().await {
        let a = a?;
        if let Some(f) = file.as_mut() {
            writeln!(f, "{}", serde_json::to_string(&a)?)?;
        }
        have.push(a);
        done += 1;
        if done % 500 == 0 {
            eprintln!(
                "  {done}/{missing} ({:.0}/s)",
                done as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(have)
}

/// The accounts kept in `path`, each refreshed (their access tokens live minutes); those
/// the gateway no longer knows are left out. The file is rewritten with the rotated
/// refresh tokens.
async fn load_cache(http: &reqwest::Client, gateway: &str, path: &Path) -> Result<Vec<Account>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(Vec::new());
    };
    let kept: Vec<Account> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Account>(l).ok())
        .collect();
    let total = kept.len();
    let refreshed: Vec<Result<Option<Account>>> = futures::stream::iter(kept)
        .map(|a| refresh(http, gateway, a))
        .buffered(REFRESH_CONCURRENCY)
        .collect()
        .await;
    let mut out = Vec::with_capacity(total);
    for r in refreshed {
        if let Some(a) = r? {
            out.push(a);
        }
    }
    if out.len() < total {
        eprintln!(
            "{}: {} of {total} kept sign-ins are no longer known to the gateway",
            path.display(),
            total - out.len()
        );
    }
    let mut text = String::new();
    for a in &out {
        text.push_str(&serde_json::to_string(a)?);
        text.push('\n');
    }
    std::fs::write(path, text)?;
    Ok(out)
}

/// Create a group of `creator` and `members`, adding beyond the first 500 one by one so
/// the request body stays well under the gateway's 64 KiB limit.
pub async fn create_group(
    http: &reqwest::Client,
    gateway: &str,
    creator: &Account,
    members: &[&str],
    name: &str,
) -> Result<String> {
    let (first, rest) = members.split_at(members.len().min(500));
    let r = http
        .post(format!("{gateway}/api/v1/conversations"))
        .bearer_auth(&creator.token)
        .json(&json!({"kind": "group", "name": name, "members": first}))
        .send()
        .await?;
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("create group failed ({status}): {v}");
    }
    let id = v["conversation_id"]
        .as_str()
        .context("conversation_id")?
        .to_string();
    let url = format!("{gateway}/api/v1/conversations/{id}/members");
    let mut adds = futures::stream::iter(rest.iter())
        .map(|m| {
            http.post(&url)
                .bearer_auth(&creator.token)
                .json(&json!({"user_id": m}))
                .send()
        })
        .buffer_unordered(16);
    while let Some(r) = adds.next().await {
        let r = r?;
        if !r.status().is_success() {
            bail!("add member failed ({})", r.status());
        }
    }
    Ok(id)
}

/// Create `groups[k]` (indices into `accounts`, the first is the creator), 8 at a time.
pub async fn create_groups(
    http: &reqwest::Client,
    gateway: &str,
    accounts: &[Account],
    groups: &[Vec<usize>],
) -> Result<Vec<String>> {
    let ids: Vec<Result<String>> = futures::stream::iter(groups.iter().enumerate())
        .map(|(k, g)| {
            let members: Vec<&str> = g[1..]
                .iter()
                .map(|&i| accounts[i].user_id.as_str())
                .collect();
            let creator = &accounts[g[0]];
            async move { create_group(http, gateway, creator, &members, &format!("load {k}")).await }
        })
        .buffered(8)
        .collect()
        .await;
    ids.into_iter().collect()
}

/// A short random id for this run's names.
pub fn run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_string()
}
