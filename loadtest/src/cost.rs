//! What a run's messages cost, process by process: CPU seconds used over the sending
//! phase (utime + stime from /proc/PID/stat, read at the instants sending started and
//! ended), per 1,000 acked messages and per 1,000 deliveries, and the RSS peak within
//! the phase. `summary.json`'s `cost` object and a table in report.md
//! (loadtest/README.md, "Cost per message").
//!
//! Why the sending phase: it is where the platform runs at the offered rate. Work on
//! messages still in flight when it ends falls into the drain after it, reported apart
//! (`drain_cpu_seconds`): when that is large next to the phase's own, the run was
//! saturated and the per-1,000 figures understate what a message costs.

use std::fmt::Write;
use std::time::Instant;

use serde::Serialize;

use crate::sample::{self, Samples, Watched, SELF_LABEL};

/// The groups of the cost table, in its order.
const GROUPS: [&str; 6] = [
    "gateways",
    "projectors",
    "jvms",
    "redis",
    "other",
    "loadgen",
];

/// The CPU time every watched process had used at one instant, and the machine's.
pub struct Mark {
    at: Instant,
    /// In the order of the watched processes; None for one that is gone.
    ticks: Vec<Option<u64>>,
    /// (busy, total) ticks of all CPUs, from /proc/stat.
    machine: Option<(u64, u64)>,
}

impl Mark {
    /// Read now. `procs` must be the sampler's ([`crate::sample::Sampler::procs`]), so
    /// the marks line up with the samples.
    pub fn take(procs: &[Watched]) -> Mark {
        Mark {
            at: Instant::now(),
            ticks: procs.iter().map(|p| sample::cpu_ticks(p.pid)).collect(),
            machine: machine_ticks(),
        }
    }
}

/// Busy and total time of all CPUs in ticks, from the first line of /proc/stat (user
/// nice system idle iowait irq softirq steal ...; guest time is inside user). Time the
/// hypervisor gave to others (steal) counts as neither this machine's busy nor idle.
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let busy = v.first()? + v.get(1)? + v.get(2)? + v.get(5)? + v.get(6)?;
    let idle = v.get(3)? + v.get(4)?;
    Some((busy, busy + idle))
}

/// Which line of the cost table a watched process adds to, by its label.
pub fn group_of(label: &str) -> &'static str {
    if label == SELF_LABEL {
        return "loadgen";
    }
    match label.split(':').next().unwrap_or(label) {
        "chat-gateway" => "gateways",
        "chat-projector" => "projectors",
        "kafka" | "cassandra" | "registry" => "jvms",
        "redis" | "redis-sentinel" => "redis",
        // The object store, the KMS, HAProxy, and `--watch` pids.
        _ => "other",
    }
}

#[derive(Serialize)]
pub struct ProcessCost {
    pub label: String,
    pub pid: u32,
    pub group: &'static str,
    /// CPU seconds over the sending phase; None when the process was gone at either end.
    pub cpu_seconds: Option<f64>,
    pub cpu_seconds_per_1k_messages: Option<f64>,
    pub cpu_seconds_per_1k_deliveries: Option<f64>,
    /// The highest of the once-a-second samples within the phase.
    pub rss_peak_bytes: Option<u64>,
    /// CPU seconds from the end of sending to the end of the drain.
    pub drain_cpu_seconds: Option<f64>,
}

#[derive(Serialize)]
pub struct GroupCost {
    pub group: String,
    /// Processes in it (those with no CPU figure add nothing).
    pub processes: usize,
    pub cpu_seconds: f64,
    pub cpu_seconds_per_1k_messages: Option<f64>,
    pub cpu_seconds_per_1k_deliveries: Option<f64>,
    /// The sum of its processes' peaks (an upper bound of their peak together).
    pub rss_peak_bytes: Option<u64>,
    pub drain_cpu_seconds: Option<f64>,
}

#[derive(Serialize)]
pub struct Cost {
    /// The sending phase: its length, and its start in seconds into the sampling (the
    /// charts' time axis).
    pub window_s: f64,
    pub window_start_s: f64,
    /// What the figures are per: messages acked and deliveries received (the run's
    /// `acked` and `delivered`).
    pub messages: u64,
    pub deliveries: u64,
    pub processes: Vec<ProcessCost>,
    /// gateways, projectors, jvms (Kafka, Cassandra, the registry), redis, other,
    /// loadgen: those with a process.
    pub groups: Vec<GroupCost>,
    /// Every process but the load generator.
    pub total: GroupCost,
    /// All CPUs' busy time over the phase (/proc/stat), and what they could have given.
    pub machine_busy_cpu_seconds: Option<f64>,
    pub machine_capacity_cpu_seconds: Option<f64>,
    /// Busy time in no watched process (the generator included): the kernel's own
    /// work, or anything else running. Large means the machine was not quiet.
    pub unwatched_cpu_seconds: Option<f64>,
}

/// The cost of the run from the marks at the start and end of sending (and after the
/// drain), the samples for the RSS, and the counts the figures are per.
pub fn compute(
    samples: &Samples,
    sampler_started: Instant,
    start: &Mark,
    end: &Mark,
    after_drain: Option<&Mark>,
    messages: u64,
    deliveries: u64,
) -> Cost {
    let into = |m: &Mark| {
        m.at.saturating_duration_since(sampler_started)
            .as_secs_f64()
    };
    let (from, to) = (into(start), into(end));
    let processes: Vec<ProcessCost> = samples
        .procs
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let cpu = cpu_seconds(start, end, i);
            ProcessCost {
                label: w.label.clone(),
                pid: w.pid,
                group: group_of(&w.label),
                cpu_seconds: cpu,
                cpu_seconds_per_1k_messages: cpu.and_then(|c| per_1k(c, messages)),
                cpu_seconds_per_1k_deliveries: cpu.and_then(|c| per_1k(c, deliveries)),
                rss_peak_bytes: samples
                    .points
                    .iter()
                    .filter(|p| p.t >= from && p.t <= to)
                    .filter_map(|p| p.rss.get(i).copied().flatten())
                    .max(),
                drain_cpu_seconds: after_drain.and_then(|d| cpu_seconds(end, d, i)),
            }
        })
        .collect();
    let groups: Vec<GroupCost> = GROUPS
        .iter()
        .filter_map(|g| {
            let members: Vec<&ProcessCost> = processes.iter().filter(|p| p.group == *g).collect();
            (!members.is_empty()).then(|| sum(g, &members, messages, deliveries))
        })
        .collect();
    let platform: Vec<&ProcessCost> = processes.iter().filter(|p| p.group != "loadgen").collect();
    let total = sum(
        "total (without the load generator)",
        &platform,
        messages,
        deliveries,
    );
    let machine = match (start.machine, end.machine) {
        (Some((b0, t0)), Some((b1, t1))) => Some((
            b1.saturating_sub(b0) as f64 / sample::TICKS_PER_SEC,
            t1.saturating_sub(t0) as f64 / sample::TICKS_PER_SEC,
        )),
        _ => None,
    };
    let watched: f64 = processes.iter().filter_map(|p| p.cpu_seconds).sum();
    Cost {
        window_s: round(end.at.saturating_duration_since(start.at).as_secs_f64(), 3),
        window_start_s: round(from, 3),
        messages,
        deliveries,
        processes,
        groups,
        total,
        machine_busy_cpu_seconds: machine.map(|m| round(m.0, 2)),
        machine_capacity_cpu_seconds: machine.map(|m| round(m.1, 2)),
        unwatched_cpu_seconds: machine.map(|m| round((m.0 - watched).max(0.0), 2)),
    }
}

/// CPU seconds process `i` used between two marks.
fn cpu_seconds(a: &Mark, b: &Mark, i: usize) -> Option<f64> {
    let before = a.ticks.get(i).copied().flatten()?;
    let after = b.ticks.get(i).copied().flatten()?;
    // Fewer ticks after than before: the pid now names another process.
    (after >= before).then(|| round((after - before) as f64 / sample::TICKS_PER_SEC, 2))
}

fn per_1k(cpu_seconds: f64, count: u64) -> Option<f64> {
    (count > 0).then(|| round(cpu_seconds / (count as f64 / 1000.0), 5))
}

fn sum(name: &str, members: &[&ProcessCost], messages: u64, deliveries: u64) -> GroupCost {
    let cpu = round(members.iter().filter_map(|p| p.cpu_seconds).sum::<f64>(), 2);
    let rss: Vec<u64> = members.iter().filter_map(|p| p.rss_peak_bytes).collect();
    let drain: Vec<f64> = members.iter().filter_map(|p| p.drain_cpu_seconds).collect();
    GroupCost {
        group: name.to_string(),
        processes: members.len(),
        cpu_seconds: cpu,
        cpu_seconds_per_1k_messages: per_1k(cpu, messages),
        cpu_seconds_per_1k_deliveries: per_1k(cpu, deliveries),
        rss_peak_bytes: (!rss.is_empty()).then(|| rss.iter().sum::<u64>()),
        drain_cpu_seconds: (!drain.is_empty()).then(|| round(drain.iter().sum::<f64>(), 2)),
    }
}

fn round(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

impl Cost {
    /// The report.md section: one row per process, then per group, then the total.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(
            md,
            "\n## Cost per message\n\nCPU seconds (utime + stime, all threads) used over the sending phase \
             ({:.1} s, from {:.1} s into the charts), per 1,000 acked messages ({}) and per 1,000 \
             deliveries ({}); RSS peak within the phase. `drain` is the CPU from the end of sending \
             to the end of the drain (large next to the phase's own: the run was saturated, and the \
             per-1,000 figures understate).\n",
            self.window_s, self.window_start_s, self.messages, self.deliveries
        );
        let _ = writeln!(
            md,
            "| process | group | CPU s | per 1k messages | per 1k deliveries | RSS peak | drain CPU s |\n|---|---|---|---|---|---|---|"
        );
        for p in &self.processes {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} |",
                p.label,
                p.group,
                num(p.cpu_seconds, 2),
                num(p.cpu_seconds_per_1k_messages, 4),
                num(p.cpu_seconds_per_1k_deliveries, 5),
                mib(p.rss_peak_bytes),
                num(p.drain_cpu_seconds, 2),
            );
        }
        for g in self.groups.iter().chain(std::iter::once(&self.total)) {
            let _ = writeln!(
                md,
                "| **{}** ({} processes) | | **{:.2}** | **{}** | **{}** | {} | {} |",
                g.group,
                g.processes,
                g.cpu_seconds,
                num(g.cpu_seconds_per_1k_messages, 4),
                num(g.cpu_seconds_per_1k_deliveries, 5),
                mib(g.rss_peak_bytes),
                num(g.drain_cpu_seconds, 2),
            );
        }
        if let (Some(busy), Some(capacity)) = (
            self.machine_busy_cpu_seconds,
            self.machine_capacity_cpu_seconds,
        ) {
            let _ = writeln!(
                md,
                "\nThe machine over the phase: {busy:.2} CPU s busy of {capacity:.2}; in no watched \
                 process: {} CPU s (the kernel's own work, or something else running).",
                num(self.unwatched_cpu_seconds, 2)
            );
        }
        md
    }
}

fn num(v: Option<f64>, decimals: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.decimals$}"))
}

fn mib(b: Option<u64>) -> String {
    b.map_or("-".into(), |b| format!("{:.1} MiB", b as f64 / 1048576.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::Point;

    #[test]
    fn cost_over_the_window_by_process_and_group() {
        let watched = |pid: u32, label: &str| Watched {
            pid,
            label: label.into(),
        };
        let procs = vec![
            watched(1, "chat-gateway:8080"),
            watched(2, "kafka"),
            watched(3, "redis:6379"),
            watched(4, SELF_LABEL),
        ];
        let t0 = Instant::now();
        let point = |t: f64, rss: u64| Point {
            t,
            connections: 0,
            rss: vec![Some(rss), Some(2 * rss), None, Some(1)],
            cpu: vec![None; 4],
        };
        let samples = Samples {
            procs,
            points: vec![
                point(0.0, 500),
                point(1.0, 10),
                point(2.0, 30),
                point(3.0, 20),
            ],
        };
        let mark = |secs: u64, ticks: Vec<Option<u64>>| Mark {
            at: t0 + std::time::Duration::from_secs(secs),
            ticks,
            machine: Some((secs * 150, secs * 200)),
        };
        let start = mark(1, vec![Some(100), Some(50), Some(10), Some(0)]);
        let end = mark(3, vec![Some(300), Some(150), None, Some(40)]);
        let drained = mark(4, vec![Some(310), Some(160), None, Some(40)]);
        let c = compute(&samples, t0, &start, &end, Some(&drained), 2000, 8000);
        assert_eq!((c.window_s, c.window_start_s), (2.0, 1.0));
        let gw = &c.processes[0];
        assert_eq!(gw.group, "gateways");
        assert_eq!(gw.cpu_seconds, Some(2.0));
        assert_eq!(gw.cpu_seconds_per_1k_messages, Some(1.0));
        assert_eq!(gw.cpu_seconds_per_1k_deliveries, Some(0.25));
        // The sample before the window (500) is not its peak.
        assert_eq!(gw.rss_peak_bytes, Some(30));
        assert_eq!(gw.drain_cpu_seconds, Some(0.1));
        // Gone at the end: no figure.
        assert_eq!(c.processes[2].cpu_seconds, None);
        let groups: Vec<&str> = c.groups.iter().map(|g| g.group.as_str()).collect();
        assert_eq!(groups, ["gateways", "jvms", "redis", "loadgen"]);
        assert_eq!(c.total.processes, 3);
        assert_eq!(c.total.cpu_seconds, 3.0);
        assert_eq!(c.total.cpu_seconds_per_1k_messages, Some(1.5));
        assert_eq!(c.total.rss_peak_bytes, Some(90));
        // 3 s busy of 4; the watched used 3.4 (the generator's 0.4 included).
        assert_eq!(c.machine_busy_cpu_seconds, Some(3.0));
        assert_eq!(c.machine_capacity_cpu_seconds, Some(4.0));
        assert_eq!(c.unwatched_cpu_seconds, Some(0.0));
        assert!(c
            .markdown()
            .contains("| chat-gateway:8080 | gateways | 2.00 |"));
    }

    #[test]
    fn groups_by_label() {
        assert_eq!(group_of("chat-projector:fanout"), "projectors");
        assert_eq!(group_of("cassandra:2"), "jvms");
        assert_eq!(group_of("registry"), "jvms");
        assert_eq!(group_of("redis-sentinel:26379"), "redis");
        assert_eq!(group_of("kms"), "other");
        assert_eq!(group_of(SELF_LABEL), "loadgen");
    }
}
