//! Scenario `faults`: chat traffic through clients that follow every rule of the
//! protocol ([`resilient`](crate::resilient)), one fault injected while it runs, and exact
//! accounting at the end.
//!
//! `--clients` sockets, one member each, in groups of `--members`; every member sends,
//! `--rate` messages/s in total, for `--duration`. `--fault-cmd` runs (`sh -c`) at
//! `--fault-at` into sending, `--recover-cmd` `--fault-for` after it. Then: no new
//! messages; wait for the recovery, for pending sends to be acked (at most
//! `--settle-wait`), drain until quiet, let every client `sync` once more, page every
//! conversation's whole history, and account ([`account`]):
//!
//! - sent: distinct client_msg_ids put on a socket; acked: distinct acked;
//!   unavailable: `unavailable` answers to sends; failed: other error frames;
//! - expected deliveries: for each acked message, each other member of its
//!   conversation; delivered: those the member applied (live or replayed) at least once;
//! - in history: acked messages whose message_id the history API returns; lost: acked
//!   and absent;
//! - duplicated: the same message applied twice by a member, plus history holding one
//!   client_msg_id twice; out of order: an applied seq at or below an earlier one.
//!
//! Writes summary.json (a `faults` object) and report.md, appends a row to `--table`,
//! and fails (non-zero exit) when anything was lost, duplicated, out of order or not
//! delivered.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use serde_json::json;
use tokio::sync::watch;

use crate::report::{Latency, Report, Summary};
use crate::resilient::{self, Outcome, Phase, Spec};
use crate::sample::{self, Sampler};
use crate::tracker::Tracker;
use crate::verify::{self, Stored};
use crate::{live, setup, Ctx};

/// One message the run sent, as the accounting sees it.
#[derive(Clone, Debug)]
pub struct SentMsg {
    pub conversation: usize,
    /// The sending client (member) number.
    pub sender: usize,
    /// (seq, message_id) from its ack.
    pub ack: Option<(i64, String)>,
}

/// What one member applied.
pub struct MemberRecord<'a> {
    pub index: usize,
    pub keys: &'a HashMap<String, u32>,
    pub out_of_order: u64,
    /// Message keys the gap rule dropped as duplicates, with their seq.
    pub dropped: Option<&'a HashMap<String, i64>>,
    /// The highest seq it applied.
    pub max_seq: Option<i64>,
}

#[derive(Serialize, Default, Debug, PartialEq, Eq, Clone)]
pub struct Accounting {
    pub sent: u64,
    pub acked: u64,
    pub unavailable: u64,
    pub failed: u64,
    pub expected_deliveries: u64,
    pub delivered: u64,
    pub missing_live_or_sync: u64,
    /// None when history was not checked.
    pub in_history: Option<u64>,
    /// Acked messages absent from history.
    pub lost: Option<u64>,
    /// History entries beyond the first for one client_msg_id.
    pub history_duplicates: u64,
    /// Applies beyond the first of one message by one member.
    pub applied_twice: u64,
    /// applied_twice + history_duplicates.
    pub duplicated: u64,
    pub out_of_order: u64,
    /// Sent, never acked, yet in history (the ack was lost on the way, not the message).
    pub unacked_in_history: u64,
    /// Acked messages that history holds at another seq than their ack's (the message
    /// was appended more than once; history keeps one).
    pub ack_seq_not_in_history: u64,
    /// A few (message key, member) pairs that were not delivered, and lost keys.
    pub missing_examples: Vec<String>,
    pub lost_examples: Vec<String>,
    /// A few messages applied more than once, and acks whose seq history lacks.
    pub duplicate_examples: Vec<String>,
    pub ack_seq_examples: Vec<String>,
}

impl Accounting {
    pub fn clean(&self) -> bool {
        self.lost.unwrap_or(0) == 0
            && self.duplicated == 0
            && self.out_of_order == 0
            && self.missing_live_or_sync == 0
    }
}

/// The exact accounting of a run. `members[c]` lists the members of conversation `c`
/// (all online by the end); `records` what each applied (a member without a record
/// applied nothing); `history[c]` the conversation's whole history, if checked.
pub fn account(
    msgs: &HashMap<String, SentMsg>,
    members: &[Vec<usize>],
    records: &[MemberRecord],
    history: Option<&[Vec<Stored>]>,
    unavailable: u64,
    failed: u64,
) -> Accounting {
    let by_index: HashMap<usize, &MemberRecord> = records.iter().map(|r| (r.index, r)).collect();
    let mut acc = Accounting {
        sent: msgs.len() as u64,
        unavailable,
        failed,
        ..Accounting::default()
    };
    let mut keys: Vec<&String> = msgs.keys().collect();
    keys.sort();
    for key in &keys {
        let m = &msgs[*key];
        if m.ack.is_none() {
            continue;
        }
        acc.acked += 1;
        for &member in members.get(m.conversation).into_iter().flatten() {
            if member == m.sender {
                continue;
            }
            acc.expected_deliveries += 1;
            let record = by_index.get(&member);
            let got = record
                .and_then(|r| r.keys.get(key.as_str()))
                .is_some_and(|&n| n > 0);
            if got {
                acc.delivered += 1;
            } else if acc.missing_examples.len() < 10 {
                let seq = m.ack.as_ref().map_or(-1, |a| a.0);
                let how = match record {
                    None => "no record".to_string(),
                    Some(r) => match r.dropped.and_then(|d| d.get(key.as_str())) {
                        Some(s) => format!(
                            "dropped by the rule as at or below its position (seq {s}); its last seq {:?}",
                            r.max_seq
                        ),
                        None => format!("never received; its last seq {:?}", r.max_seq),
                    },
                };
                acc.missing_examples
                    .push(format!("{key} (acked seq {seq}) to member {member}: {how}"));
            }
        }
    }
    acc.missing_live_or_sync = acc.expected_deliveries - acc.delivered;
    for r in records {
        acc.applied_twice += r
            .keys
            .values()
            .map(|&n| u64::from(n.saturating_sub(1)))
            .sum::<u64>();
        acc.out_of_order += r.out_of_order;
        let mut twice: Vec<(&String, &u32)> = r.keys.iter().filter(|(_, &n)| n > 1).collect();
        twice.sort();
        for (k, n) in twice {
            if acc.duplicate_examples.len() < 10 {
                acc.duplicate_examples
                    .push(format!("{k} applied {n} times by member {}", r.index));
            }
        }
    }
    if let Some(history) = history {
        let mut ids: HashMap<&str, Vec<i64>> = HashMap::new();
        let mut seen: HashMap<&str, u32> = HashMap::new();
        for s in history.iter().flatten() {
            ids.entry(&s.message_id).or_default().push(s.seq);
            if let Some(k) = &s.key {
                *seen.entry(k).or_default() += 1;
            }
        }
        acc.history_duplicates = seen.values().map(|&n| u64::from(n - 1)).sum();
        let (mut present, mut lost) = (0u64, 0u64);
        for key in &keys {
            let m = &msgs[*key];
            match &m.ack {
                Some((seq, id)) if ids.contains_key(id.as_str()) => {
                    present += 1;
                    let held = &ids[id.as_str()];
                    if !held.contains(seq) {
                        acc.ack_seq_not_in_history += 1;
                        if acc.ack_seq_examples.len() < 10 {
                            acc.ack_seq_examples.push(format!(
                                "{key}: acked at seq {seq}, history holds it at seq {held:?}"
                            ));
                        }
                    }
                }
                Some(_) => {
                    lost += 1;
                    if acc.lost_examples.len() < 10 {
                        acc.lost_examples.push(key.to_string());
                    }
                }
                None => acc.unacked_in_history += u64::from(seen.contains_key(key.as_str())),
            }
        }
        acc.in_history = Some(present);
        acc.lost = Some(lost);
    }
    acc.duplicated = acc.applied_twice + acc.history_duplicates;
    acc
}

/// One fault or recovery command as it ran.
#[derive(Serialize, Clone, Debug)]
pub struct CmdRun {
    pub cmd: String,
    /// Seconds from the start of sending.
    pub at_s: f64,
    pub took_s: f64,
    /// Exit status (None: killed by a signal or could not start).
    pub status: Option<i32>,
    /// The last lines of its output.
    pub output: String,
}

async fn run_cmd(cmd: String, started: Instant) -> CmdRun {
    let at_s = started.elapsed().as_secs_f64();
    eprintln!("[{at_s:.1}s] running: {cmd}");
    let t = Instant::now();
    let c = cmd.clone();
    let r = tokio::task::spawn_blocking(move || {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(&c)
            .stdin(std::process::Stdio::null())
            .output()
    })
    .await;
    let (status, output) = match r {
        Ok(Ok(o)) => {
            let mut text = String::from_utf8_lossy(&o.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&o.stderr));
            (o.status.code(), text)
        }
        Ok(Err(e)) => (None, format!("could not run: {e}")),
        Err(e) => (None, format!("could not run: {e}")),
    };
    let lines: Vec<&str> = output.lines().collect();
    let output = lines[lines.len().saturating_sub(8)..].join("\n");
    let took_s = t.elapsed().as_secs_f64();
    eprintln!(
        "[{:.1}s] done in {took_s:.1} s, status {status:?}",
        started.elapsed().as_secs_f64()
    );
    CmdRun {
        cmd,
        at_s,
        took_s,
        status,
        output,
    }
}

/// Run the fault at `at` after `started` and the recovery `for_` after the fault began.
async fn timeline(
    started: Instant,
    at: Duration,
    for_: Duration,
    fault: Option<String>,
    recover: Option<String>,
) -> (Option<CmdRun>, Option<CmdRun>) {
    tokio::time::sleep_until((started + at).into()).await;
    let began = Instant::now();
    let fault = match fault {
        Some(c) => Some(run_cmd(c, started).await),
        None => None,
    };
    tokio::time::sleep_until((began + for_).into()).await;
    let recover = match recover {
        Some(c) => Some(run_cmd(c, started).await),
        None => None,
    };
    (fault, recover)
}

fn cmd_note(label: &str, c: &Option<CmdRun>) -> Option<String> {
    c.as_ref().map(|c| match c.status {
        Some(0) => format!("{label} at {:.0}s ok ({:.1}s)", c.at_s, c.took_s),
        s => format!("{label} at {:.0}s FAILED ({s:?})", c.at_s),
    })
}

pub const TABLE_HEADER: &str = "| fault | sent | acked | unavailable | delivered / expected | in history | lost | duplicated | out of order | notes |\n|---|---|---|---|---|---|---|---|---|---|\n";

/// One Markdown table row.
pub fn table_row(fault: &str, a: &Accounting, notes: &str) -> String {
    let opt = |v: Option<u64>| v.map_or("not checked".to_string(), |v| v.to_string());
    format!(
        "| {fault} | {} | {} | {} | {} / {} | {} | {} | {} | {} | {} |\n",
        a.sent,
        a.acked,
        a.unavailable,
        a.delivered,
        a.expected_deliveries,
        opt(a.in_history),
        opt(a.lost),
        a.duplicated,
        a.out_of_order,
        notes.replace('|', "/"),
    )
}

/// Append `row` to `file`, with the header first when the file is new or empty.
pub fn append_row(file: &Path, row: &str) -> Result<()> {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let new = std::fs::metadata(file).map_or(true, |m| m.len() == 0);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .with_context(|| format!("open {}", file.display()))?;
    if new {
        f.write_all(TABLE_HEADER.as_bytes())?;
    }
    f.write_all(row.as_bytes())?;
    Ok(())
}

fn sum_maps<'a>(maps: impl Iterator<Item = &'a BTreeMap<String, u64>>) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for m in maps {
        for (k, v) in m {
            *out.entry(k.clone()).or_default() += v;
        }
    }
    out
}

pub async fn run(ctx: &Ctx) -> Result<()> {
    let a = &ctx.args;
    let members = a.members_or(5).max(2);
    let groups = (a.clients / members).max(1);
    let n = groups * members;
    let rate = a.rate_or(200);
    let duration = a.duration();
    let fault_name = a
        .fault_name
        .clone()
        .or_else(|| a.fault_cmd.clone())
        .unwrap_or_else(|| "none".into());
    let accounts = ctx.accounts(n).await?;
    let member_lists: Vec<Vec<usize>> = (0..groups)
        .map(|g| (g * members..(g + 1) * members).collect())
        .collect();
    eprintln!("creating {groups} groups of {members}");
    let ids = setup::create_groups(&ctx.http, &a.gateways[0], &accounts, &member_lists).await?;

    let tracker = Arc::new(Tracker::new());
    let sampler = Sampler::start(
        sample::discover(&ctx.connector.ports(), &a.watch),
        tracker.clone(),
        Duration::from_secs(1),
    );
    let targets = (0..n)
        .map(|i| {
            (
                a.gateways[i % a.gateways.len()].clone(),
                accounts[i].token.clone(),
            )
        })
        .collect();
    let (sockets, connect_hist) = live::connect_all(
        &ctx.connector,
        targets,
        a.connect_concurrency,
        a.connect_rate,
        &tracker,
    )
    .await;
    let every = Duration::from_secs_f64(n as f64 / rate as f64);
    let (phase_tx, phase_rx) = watch::channel(Phase::Sending);
    let outstanding = Arc::new(AtomicI64::new(0));
    let started = Instant::now();
    let until = started + duration;
    let mut tasks = Vec::new();
    for (i, ws) in sockets.into_iter().enumerate() {
        let spec = Spec {
            index: i,
            conversation: i / members,
            conversation_id: ids[i / members].clone(),
            token: accounts[i].token.clone(),
            gateways: a.gateways.clone(),
            gateway: i % a.gateways.len(),
            every,
            // Staggered so clients do not send in step.
            first_send: started + every.mul_f64((i % 100) as f64 / 100.0),
            until,
            body_bytes: a.body_bytes,
            drop_before_pong: a.drop_before_pong,
        };
        tasks.push(tokio::spawn(resilient::run(
            spec,
            ws,
            ctx.connector.clone(),
            tracker.clone(),
            outstanding.clone(),
            phase_rx.clone(),
        )));
    }
    eprintln!(
        "running: {rate} msgs/s from {n} members over {:?} gateway(s) for {duration:?}; fault {fault_name:?} at {:?} for {:?}",
        a.gateways.len(),
        a.fault_at,
        a.fault_for
    );
    let faults = tokio::spawn(timeline(
        started,
        a.fault_at,
        a.fault_for,
        a.fault_cmd.clone(),
        a.recover_cmd.clone(),
    ));
    tokio::time::sleep_until(until.into()).await;
    let _ = phase_tx.send(Phase::Settling);
    let sending = started.elapsed();
    eprintln!("sending ended; waiting for the recovery");
    let (fault_run, recover_run) =
        match tokio::time::timeout(Duration::from_secs(900), faults).await {
            Ok(Ok(r)) => r,
            _ => (None, None),
        };
    let settle_started = Instant::now();
    while outstanding.load(Ordering::Relaxed) > 0 && settle_started.elapsed() < a.settle_wait {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let settle = settle_started.elapsed();
    eprintln!(
        "settled in {:.1} s ({} sends unanswered); draining",
        settle.as_secs_f64(),
        outstanding.load(Ordering::Relaxed)
    );
    let drained = tracker
        .drain(Duration::from_secs(5), Duration::from_secs(120))
        .await;
    let _ = phase_tx.send(Phase::FinalSync);
    let final_started = Instant::now();
    let mut outcomes: Vec<Outcome> = Vec::new();
    let stop_at = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut stopped = false;
    for t in tasks {
        let mut t = t;
        let r = if stopped {
            t.await
        } else {
            match tokio::time::timeout_at(stop_at, &mut t).await {
                Ok(r) => r,
                Err(_) => {
                    stopped = true;
                    let _ = phase_tx.send(Phase::Stop);
                    t.await
                }
            }
        };
        match r {
            Ok(o) => outcomes.push(o),
            Err(e) => tracker.error(&format!("client_task_{e}")),
        }
    }
    let _ = phase_tx.send(Phase::Stop);
    let final_sync_s = final_started.elapsed().as_secs_f64();
    let samples = sampler.stop().await;

    // The messages the run sent, with their acks.
    let msgs: HashMap<String, SentMsg> = {
        let t = tracker.lock();
        t.msgs
            .iter()
            .map(|(k, m)| {
                let sender = k
                    .split_once('-')
                    .and_then(|(p, _)| p.parse().ok())
                    .unwrap_or(usize::MAX);
                let ack = m.ack.as_ref().map(|a| (a.seq, a.message_id.clone()));
                (
                    k.clone(),
                    SentMsg {
                        conversation: m.conversation,
                        sender,
                        ack,
                    },
                )
            })
            .collect()
    };
    let history = if a.no_history_check {
        None
    } else {
        eprintln!("paging every conversation's history");
        let deadline = Instant::now() + a.history_wait;
        let mut last = vec![None::<i64>; groups];
        let mut want = vec![HashSet::new(); groups];
        for m in msgs.values() {
            if let Some((seq, id)) = &m.ack {
                let l = &mut last[m.conversation];
                *l = Some(l.map_or(*seq, |x: i64| x.max(*seq)));
                want[m.conversation].insert(id.clone());
            }
        }
        let mut pages = Vec::new();
        let mut not_caught_up = 0u64;
        for (g, id) in ids.iter().enumerate() {
            let (stored, caught_up) = verify::page_all(
                &ctx.http,
                &a.gateways[0],
                id,
                &accounts[g * members].token,
                last[g],
                &want[g],
                deadline,
            )
            .await?;
            not_caught_up += u64::from(!caught_up);
            pages.push(stored);
        }
        Some((pages, not_caught_up))
    };

    let unavailable: u64 = outcomes.iter().map(|o| o.outbox.unavailable).sum();
    let failures = sum_maps(outcomes.iter().map(|o| &o.failures));
    let failed: u64 = failures.values().sum();
    let records: Vec<MemberRecord> = outcomes
        .iter()
        .map(|o| MemberRecord {
            index: o.index,
            keys: &o.applied.keys,
            out_of_order: o.applied.out_of_order,
            dropped: Some(&o.applied.dropped),
            max_seq: o.applied.max_seq,
        })
        .collect();
    let acc = account(
        &msgs,
        &member_lists,
        &records,
        history.as_ref().map(|(p, _)| p.as_slice()),
        unavailable,
        failed,
    );
    let closes = sum_maps(outcomes.iter().map(|o| &o.closes));
    let connect_failures = sum_maps(outcomes.iter().map(|o| &o.connect_failures));
    let reconnects: u64 = outcomes.iter().map(|o| o.reconnects).sum();
    let replayed: u64 = outcomes.iter().map(|o| o.replayed).sum();
    let by_final_sync: u64 = outcomes.iter().map(|o| o.by_final_sync).sum();
    let unacked_at_end: usize = outcomes.iter().map(|o| o.outbox.len()).sum();
    let never_sent: usize = outcomes.iter().map(|o| o.outbox.never_sent()).sum();
    let not_final_synced = outcomes.iter().filter(|o| !o.final_synced).count();
    let gaps: u64 = outcomes.iter().map(|o| o.gaps).sum();
    let early_frames: u64 = outcomes.iter().map(|o| o.early_frames).sum();
    let syncs: u64 = outcomes.iter().map(|o| o.syncs).sum();
    let not_caught_up = history.as_ref().map_or(0, |(_, n)| *n);

    let mut notes = Vec::new();
    notes.extend(cmd_note("fault", &fault_run));
    notes.extend(cmd_note("recover", &recover_run));
    notes.push(format!("{reconnects} reconnects"));
    if !closes.is_empty() {
        let c: Vec<String> = closes.iter().map(|(k, v)| format!("{k} x{v}")).collect();
        notes.push(format!("socket ends: {}", c.join(", ")));
    }
    notes.push(format!("{replayed} by sync"));
    if by_final_sync > 0 {
        notes.push(format!("{by_final_sync} only by the final sync"));
    }
    if !failures.is_empty() {
        notes.push(format!("failed: {failures:?}"));
    }
    if unacked_at_end > 0 {
        notes.push(format!("{unacked_at_end} never acked"));
    }
    if acc.unacked_in_history > 0 {
        notes.push(format!("{} unacked but in history", acc.unacked_in_history));
    }
    if not_final_synced > 0 {
        notes.push(format!("{not_final_synced} clients not synced at the end"));
    }
    if not_caught_up > 0 {
        notes.push(format!(
            "{not_caught_up} conversations' history not caught up"
        ));
    }
    notes.push(if acc.clean() { "PASS" } else { "FAIL" }.into());
    let notes = notes.join("; ");

    let t = tracker.lock();
    let secs = sending.as_secs_f64();
    let mut summary = Summary::new("faults", a.params());
    summary.connections = n;
    summary.sent = acc.sent;
    summary.acked = acc.acked;
    summary.delivered = acc.delivered;
    summary.lost = acc.lost.unwrap_or(0);
    summary.errors = t.errors.clone();
    summary.ack_ms = Latency::from_micros(&t.ack);
    summary.deliver_ms = Latency::from_micros(&t.deliver);
    summary.msgs_per_s = acc.acked as f64 / secs;
    summary.deliveries_per_s = acc.delivered as f64 / secs;
    summary.elapsed_s = secs;
    summary.set(
        "faults",
        json!({
            "fault": fault_name,
            "accounting": acc,
            "clean": acc.clean(),
            "fault_cmd": fault_run,
            "recover_cmd": recover_run,
            "failures": failures,
            "reconnects": reconnects,
            "socket_ends": closes,
            "connect_failures": connect_failures,
            "replayed_deliveries": replayed,
            "final_sync_deliveries": by_final_sync,
            "unacked_at_end": unacked_at_end,
            "never_sent": never_sent,
            "clients_not_final_synced": not_final_synced,
            "gaps": gaps,
            "frames_before_pong": early_frames,
            "syncs": syncs,
            "history_not_caught_up": not_caught_up,
            "settle_s": settle.as_secs_f64(),
            "drain_s": drained.as_secs_f64(),
            "final_sync_s": final_sync_s,
            "notes": notes,
        }),
    );
    summary.set("groups", groups);
    summary.set("members", members);
    summary.set("offered_rate", rate);
    summary.set("connect_ms", Latency::from_micros(&connect_hist));
    summary.resources = samples.resources();
    summary.rss_bytes_per_connection = summary.resources.rss_bytes_per_connection;
    let mut report = Report::default();
    report.latency(&t.seconds, &t.ack, &t.deliver);
    report.resources(&samples);
    drop(t);
    report.write(&a.out, &summary)?;
    let mut md = std::fs::read_to_string(a.out.join("report.md")).unwrap_or_default();
    let _ = write!(
        md,
        "\n## Faults\n\n{TABLE_HEADER}{}",
        table_row(&fault_name, &acc, &notes)
    );
    for (label, c) in [("fault", &fault_run), ("recover", &recover_run)] {
        if let Some(c) = c {
            let _ = write!(
                md,
                "\n`{label}`: `{}` at {:.1} s, took {:.1} s, status {:?}\n\n```\n{}\n```\n",
                c.cmd, c.at_s, c.took_s, c.status, c.output
            );
        }
    }
    if !acc.missing_examples.is_empty() {
        let _ = writeln!(md, "\nNot delivered (first 10): {:?}", acc.missing_examples);
    }
    if !acc.lost_examples.is_empty() {
        let _ = writeln!(md, "\nLost (first 10): {:?}", acc.lost_examples);
    }
    if !acc.duplicate_examples.is_empty() {
        let _ = writeln!(
            md,
            "\nApplied twice (first 10): {:?}",
            acc.duplicate_examples
        );
    }
    if !acc.ack_seq_examples.is_empty() {
        let _ = writeln!(
            md,
            "\nAcked at a seq history does not hold (first 10): {:?}",
            acc.ack_seq_examples
        );
    }
    std::fs::write(a.out.join("report.md"), md)?;
    // The trace of every member that missed a delivery (at most 10).
    let mut traced = std::collections::BTreeSet::new();
    for ex in &acc.missing_examples {
        if let Some(m) = ex
            .split(" to member ")
            .nth(1)
            .and_then(|r| r.split(':').next())
            .and_then(|m| m.parse::<usize>().ok())
        {
            traced.insert(m);
        }
    }
    for m in traced {
        if let Some(o) = outcomes.iter().find(|o| o.index == m) {
            let text: Vec<&str> = o.trace.iter().map(String::as_str).collect();
            std::fs::write(a.out.join(format!("trace-member-{m}.txt")), text.join("\n"))?;
        }
    }
    let row = table_row(&fault_name, &acc, &notes);
    eprint!("{TABLE_HEADER}{row}");
    if let Some(file) = &a.table {
        append_row(file, &row)?;
    }
    if !acc.clean() {
        bail!(
            "fault {fault_name}: lost {:?}, duplicated {}, out of order {}, deliveries missing {}",
            acc.lost,
            acc.duplicated,
            acc.out_of_order,
            acc.missing_live_or_sync
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(conversation: usize, sender: usize, seq: Option<i64>) -> SentMsg {
        SentMsg {
            conversation,
            sender,
            ack: seq.map(|s| (s, format!("m{s}"))),
        }
    }

    fn stored(seq: i64, key: &str) -> Stored {
        Stored {
            seq,
            message_id: format!("m{seq}"),
            key: Some(key.into()),
        }
    }

    #[test]
    fn a_clean_run_accounts_exactly() {
        // One conversation of members 0, 1, 2; two acked messages, one never acked.
        let msgs = HashMap::from([
            ("0-1".to_string(), msg(0, 0, Some(10))),
            ("1-1".to_string(), msg(0, 1, Some(11))),
            ("2-1".to_string(), msg(0, 2, None)),
        ]);
        let k = |list: &[&str]| -> HashMap<String, u32> {
            list.iter().map(|s| (s.to_string(), 1)).collect()
        };
        let (a0, a1, a2) = (k(&["0-1", "1-1"]), k(&["0-1", "1-1"]), k(&["0-1", "1-1"]));
        let records = [
            MemberRecord {
                index: 0,
                keys: &a0,
                out_of_order: 0,
                dropped: None,
                max_seq: None,
            },
            MemberRecord {
                index: 1,
                keys: &a1,
                out_of_order: 0,
                dropped: None,
                max_seq: None,
            },
            MemberRecord {
                index: 2,
                keys: &a2,
                out_of_order: 0,
                dropped: None,
                max_seq: None,
            },
        ];
        let history = vec![vec![stored(11, "1-1"), stored(10, "0-1")]];
        let acc = account(&msgs, &[vec![0, 1, 2]], &records, Some(&history), 3, 1);
        assert_eq!(
            (acc.sent, acc.acked, acc.unavailable, acc.failed),
            (3, 2, 3, 1)
        );
        assert_eq!((acc.expected_deliveries, acc.delivered), (4, 4));
        assert_eq!((acc.in_history, acc.lost), (Some(2), Some(0)));
        assert_eq!((acc.duplicated, acc.out_of_order), (0, 0));
        assert!(acc.clean());
        let row = table_row("gateway", &acc, "ok");
        assert_eq!(
            row,
            "| gateway | 3 | 2 | 3 | 4 / 4 | 2 | 0 | 0 | 0 | ok |\n"
        );
    }

    #[test]
    fn losses_duplicates_and_disorder_are_counted() {
        let msgs = HashMap::from([
            ("0-1".to_string(), msg(0, 0, Some(10))),
            ("0-2".to_string(), msg(0, 0, Some(12))),
            ("1-1".to_string(), msg(0, 1, None)),
        ]);
        // Member 1 applied 0-1 twice and never got 0-2; member 2 has no record at all.
        let a1: HashMap<String, u32> = HashMap::from([("0-1".into(), 2)]);
        let a0: HashMap<String, u32> = HashMap::new();
        let records = [
            MemberRecord {
                index: 0,
                keys: &a0,
                out_of_order: 1,
                dropped: None,
                max_seq: None,
            },
            MemberRecord {
                index: 1,
                keys: &a1,
                out_of_order: 0,
                dropped: None,
                max_seq: None,
            },
        ];
        // History lacks 0-2, holds 0-1 twice, and has the unacked 1-1.
        let history = vec![vec![
            stored(13, "1-1"),
            stored(10, "0-1"),
            Stored {
                seq: 11,
                message_id: "m10".into(),
                key: Some("0-1".into()),
            },
        ]];
        let acc = account(&msgs, &[vec![0, 1, 2]], &records, Some(&history), 0, 0);
        assert_eq!(
            (acc.acked, acc.expected_deliveries, acc.delivered),
            (2, 4, 1)
        );
        assert_eq!(acc.missing_live_or_sync, 3);
        assert_eq!(
            acc.missing_examples[0],
            "0-1 (acked seq 10) to member 2: no record"
        );
        assert_eq!(
            acc.missing_examples[1],
            "0-2 (acked seq 12) to member 1: never received; its last seq None"
        );
        assert_eq!((acc.in_history, acc.lost), (Some(1), Some(1)));
        assert_eq!(acc.lost_examples, vec!["0-2".to_string()]);
        assert_eq!((acc.applied_twice, acc.history_duplicates), (1, 1));
        assert_eq!((acc.duplicated, acc.out_of_order), (2, 1));
        assert_eq!(acc.unacked_in_history, 1);
        assert_eq!(
            acc.duplicate_examples,
            vec!["0-1 applied 2 times by member 1"]
        );
        assert_eq!(acc.ack_seq_not_in_history, 0);
        assert!(!acc.clean());
        // Without a history check nothing is known lost.
        let acc = account(&msgs, &[vec![0, 1, 2]], &records, None, 0, 0);
        assert_eq!((acc.in_history, acc.lost, acc.duplicated), (None, None, 1));
        assert!(table_row("x", &acc, "a|b").contains("| not checked | not checked | 1 | 1 | a/b |"));
    }

    #[test]
    fn a_message_appended_twice_is_seen_by_its_seqs() {
        // 0-1 reached the log at 10, its retry was appended again at 20 and acked there;
        // history keeps the message (one message_id) at 10. Members applied both.
        let msgs = HashMap::from([("0-1".to_string(), msg(0, 0, Some(20)))]);
        let mut history = vec![vec![stored(10, "0-1")]];
        history[0][0].message_id = "m20".into();
        let twice: HashMap<String, u32> = HashMap::from([("0-1".into(), 2)]);
        let records = [MemberRecord {
            index: 1,
            keys: &twice,
            out_of_order: 0,
            dropped: None,
            max_seq: None,
        }];
        let acc = account(&msgs, &[vec![0, 1]], &records, Some(&history), 0, 0);
        assert_eq!(
            (acc.in_history, acc.lost, acc.duplicated),
            (Some(1), Some(0), 1)
        );
        assert_eq!(acc.ack_seq_not_in_history, 1);
        assert_eq!(
            acc.ack_seq_examples,
            vec!["0-1: acked at seq 20, history holds it at seq [10]"]
        );
    }

    #[test]
    fn the_table_gets_its_header_once() {
        let dir = std::env::temp_dir().join(format!("faults-table-{}", std::process::id()));
        let file = dir.join("t.md");
        let _ = std::fs::remove_file(&file);
        append_row(&file, "| a |\n").unwrap();
        append_row(&file, "| b |\n").unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(text, format!("{TABLE_HEADER}| a |\n| b |\n"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
