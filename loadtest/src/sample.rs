//! Resource sampling of the platform's processes while a run goes on: resident memory
//! (`VmRSS` in /proc/PID/status) and CPU time (utime + stime in /proc/PID/stat), once a
//! second, together with how many sockets the run holds open. Linux only: it reads
//! /proc, as the processes being measured run on the same machine. Which processes:
//! [`discover`] (the infrastructure's own through [`crate::stack`]).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::tracker::Tracker;

/// Linux reports CPU times to user space in USER_HZ ticks, 100 a second on every
/// architecture it runs on (the kernel's own HZ is hidden behind it).
pub(crate) const TICKS_PER_SEC: f64 = 100.0;

/// The label of this process among the watched ones.
pub const SELF_LABEL: &str = "chat-loadtest (self)";

#[derive(Clone, Debug)]
pub struct Watched {
    pub pid: u32,
    pub label: String,
}

/// The gateways listening on `gateway_ports` and the projectors run from the same
/// directory as them (found in /proc by executable name, labelled with their port or
/// role), the dev stack's infrastructure processes (Kafka, Cassandra, the registry,
/// Redis, the object store, the KMS: [`crate::stack::infra_processes`]), the `extra`
/// pids, and this process. Gateways and projectors of other builds (e.g. test suites'
/// private stacks) are left out.
pub fn discover(gateway_ports: &[u16], extra: &[u32]) -> Vec<Watched> {
    let mut gateways = Vec::new();
    let mut projectors = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            let comm = comm.trim();
            if comm != "chat-gateway" && comm != "chat-projector" {
                continue;
            }
            let args = cmdline(pid);
            let flag = |name: &str| {
                args.iter()
                    .position(|a| a == name)
                    .and_then(|i| args.get(i + 1))
                    .cloned()
            };
            let dir = std::fs::read_link(format!("/proc/{pid}/exe"))
                .ok()
                .and_then(|p| p.parent().map(|d| d.to_path_buf()));
            if comm == "chat-gateway" {
                let port = flag("--port").unwrap_or_else(|| "8080".into());
                if port.parse().is_ok_and(|p: u16| gateway_ports.contains(&p)) {
                    gateways.push((
                        Watched {
                            pid,
                            label: format!("chat-gateway:{port}"),
                        },
                        dir,
                    ));
                }
            } else {
                let role = flag("--role").unwrap_or_else(|| "?".into());
                projectors.push((
                    Watched {
                        pid,
                        label: format!("chat-projector:{role}"),
                    },
                    dir,
                ));
            }
        }
    }
    let dirs: Vec<_> = gateways.iter().filter_map(|g| g.1.clone()).collect();
    // Where the platform's binaries run from: the checkout whose `.state` holds the
    // infrastructure they use (the gateways', or the projectors' when no gateway is up).
    let exe_dirs: Vec<_> = if dirs.is_empty() {
        projectors.iter().filter_map(|p| p.1.clone()).collect()
    } else {
        dirs.clone()
    };
    let mut out: Vec<Watched> = gateways.into_iter().map(|g| g.0).collect();
    out.extend(
        projectors
            .into_iter()
            .filter(|p| dirs.is_empty() || p.1.as_ref().is_some_and(|d| dirs.contains(d)))
            .map(|p| p.0),
    );
    let me = std::process::id();
    for w in crate::stack::infra_processes(&exe_dirs) {
        if w.pid != me && !out.iter().any(|o| o.pid == w.pid) {
            out.push(w);
        }
    }
    for &pid in extra {
        if out.iter().any(|w| w.pid == pid) {
            continue;
        }
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        out.push(Watched {
            pid,
            label: format!("{}:{pid}", comm.trim()),
        });
    }
    out.sort_by(|a, b| a.label.cmp(&b.label));
    out.push(Watched {
        pid: me,
        label: SELF_LABEL.into(),
    });
    out
}

/// The arguments of a process (empty when it is gone or not ours to read).
pub(crate) fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .split(|&b| b == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

fn rss_bytes(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// utime + stime of the whole process (all its threads), in ticks of [`TICKS_PER_SEC`].
pub(crate) fn cpu_ticks(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15; `rest` starts at field 3.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

#[derive(Clone)]
pub struct Point {
    pub t: f64,
    pub connections: usize,
    pub rss: Vec<Option<u64>>,
    /// CPU % since the previous point (100 = one core).
    pub cpu: Vec<Option<f64>>,
}

pub struct Samples {
    pub procs: Vec<Watched>,
    pub points: Vec<Point>,
}

pub struct Sampler {
    stop: watch::Sender<bool>,
    handle: JoinHandle<Samples>,
    /// The processes sampled, in the order of every point's vectors.
    procs: Vec<Watched>,
    /// What each point's `t` counts from.
    started: Instant,
}

impl Sampler {
    pub fn start(procs: Vec<Watched>, tracker: Arc<Tracker>, every: Duration) -> Self {
        let (stop, mut stopped) = watch::channel(false);
        let started = Instant::now();
        let watched = procs.clone();
        let handle = tokio::spawn(async move {
            let mut points = Vec::new();
            let mut last: Vec<Option<u64>> = procs.iter().map(|p| cpu_ticks(p.pid)).collect();
            let mut last_t = Instant::now();
            loop {
                let now = Instant::now();
                let dt = now.duration_since(last_t).as_secs_f64();
                let ticks: Vec<Option<u64>> = procs.iter().map(|p| cpu_ticks(p.pid)).collect();
                let cpu = ticks
                    .iter()
                    .zip(&last)
                    .map(|(t, l)| match (t, l) {
                        (Some(t), Some(l)) if dt > 0.0 && !points.is_empty() => {
                            Some(t.saturating_sub(*l) as f64 / TICKS_PER_SEC / dt * 100.0)
                        }
                        _ => None,
                    })
                    .collect();
                points.push(Point {
                    t: now.duration_since(started).as_secs_f64(),
                    connections: tracker.open.load(Ordering::Relaxed),
                    rss: procs.iter().map(|p| rss_bytes(p.pid)).collect(),
                    cpu,
                });
                last = ticks;
                last_t = now;
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stopped.changed() => break,
                }
            }
            Samples { procs, points }
        });
        Sampler {
            stop,
            handle,
            procs: watched,
            started,
        }
    }

    /// The processes being sampled (the same order as [`Samples::procs`]).
    pub fn procs(&self) -> &[Watched] {
        &self.procs
    }

    /// The instant the points' `t` counts from.
    pub fn started(&self) -> Instant {
        self.started
    }

    pub async fn stop(self) -> Samples {
        let _ = self.stop.send(true);
        self.handle.await.unwrap_or(Samples {
            procs: Vec::new(),
            points: Vec::new(),
        })
    }
}

#[derive(Serialize)]
pub struct ProcessStats {
    pub label: String,
    pub pid: u32,
    pub rss_start_bytes: Option<u64>,
    pub rss_peak_bytes: Option<u64>,
    pub rss_end_bytes: Option<u64>,
    pub cpu_mean_percent: Option<f64>,
    pub cpu_max_percent: Option<f64>,
}

#[derive(Serialize, Default)]
pub struct Resources {
    pub processes: Vec<ProcessStats>,
    pub peak_connections: usize,
    /// Sum over the gateways: RSS at peak connections minus RSS before connecting.
    pub gateway_rss_before_bytes: Option<u64>,
    pub gateway_rss_at_peak_bytes: Option<u64>,
    pub rss_bytes_per_connection: Option<f64>,
    /// Mean gateway CPU (100 = one core) while the peak number of sockets was open, per
    /// 1,000 of them.
    pub gateway_cpu_percent_per_1k_connections: Option<f64>,
}

impl Samples {
    fn gateway_idx(&self) -> Vec<usize> {
        (0..self.procs.len())
            .filter(|&i| self.procs[i].label.starts_with("chat-gateway"))
            .collect()
    }

    pub fn resources(&self) -> Resources {
        let processes = self
            .procs
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let rss: Vec<u64> = self.points.iter().filter_map(|p| p.rss[i]).collect();
                let cpu: Vec<f64> = self.points.iter().filter_map(|p| p.cpu[i]).collect();
                ProcessStats {
                    label: w.label.clone(),
                    pid: w.pid,
                    rss_start_bytes: rss.first().copied(),
                    rss_peak_bytes: rss.iter().max().copied(),
                    rss_end_bytes: rss.last().copied(),
                    cpu_mean_percent: (!cpu.is_empty())
                        .then(|| round1(cpu.iter().sum::<f64>() / cpu.len() as f64)),
                    cpu_max_percent: cpu.iter().copied().reduce(f64::max).map(round1),
                }
            })
            .collect();
        let g = self.gateway_idx();
        let peak = self.points.iter().map(|p| p.connections).max().unwrap_or(0);
        let gw = |p: &Point| -> Option<u64> {
            let v: Vec<u64> = g.iter().filter_map(|&i| p.rss[i]).collect();
            (!v.is_empty()).then(|| v.iter().sum())
        };
        let before = self.points.first().and_then(gw);
        let at_peak: Vec<&Point> = self
            .points
            .iter()
            .filter(|p| peak > 0 && p.connections == peak)
            .collect();
        let rss_at_peak = at_peak.iter().filter_map(|p| gw(p)).max();
        let cpu_at_peak: Vec<f64> = at_peak
            .iter()
            .filter_map(|p| {
                let v: Vec<f64> = g.iter().filter_map(|&i| p.cpu[i]).collect();
                (!v.is_empty()).then(|| v.iter().sum())
            })
            .collect();
        Resources {
            processes,
            peak_connections: peak,
            gateway_rss_before_bytes: before,
            gateway_rss_at_peak_bytes: rss_at_peak,
            rss_bytes_per_connection: match (before, rss_at_peak) {
                (Some(b), Some(p)) if peak > 0 => {
                    Some((p.saturating_sub(b) as f64 / peak as f64).round())
                }
                _ => None,
            },
            // Per-socket CPU means something only with enough sockets to dominate.
            gateway_cpu_percent_per_1k_connections: (!cpu_at_peak.is_empty() && peak >= 100).then(
                || {
                    round1(
                        cpu_at_peak.iter().sum::<f64>()
                            / cpu_at_peak.len() as f64
                            / (peak as f64 / 1000.0),
                    )
                },
            ),
        }
    }
}

pub fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() {
        let me = std::process::id();
        assert!(rss_bytes(me).is_some_and(|b| b > 0));
        assert!(cpu_ticks(me).is_some());
    }
}
