//! `--profile SECS` (chat, fanout): CPU flame graphs of the gateways and the fanout
//! projector while the run sends. `perf record` samples each process for SECS seconds
//! in the middle of the sending phase; once the run has measured what it measures,
//! `perf script` turns each recording into stacks, which are folded and drawn as an SVG
//! (`flame-<label>.svg` in `--out`, linked from report.md).
//!
//! The drawing is the `inferno` crate used as a library: FlameGraph's perl scripts
//! (stackcollapse-perf.pl, flamegraph.pl) are not in Debian's packages, and a library
//! needs no program on the machine besides perf. inferno is CDDL-1.0: a file-level
//! copyleft, which binds changes to its own files only, so using it as an unmodified
//! dependency puts no terms on this code.
//!
//! Stacks are unwound from DWARF call frame information (`--call-graph dwarf`), not
//! frame pointers (`-g`): release builds of Rust, its standard library included, omit
//! frame pointers, so `-g` gives stacks one or two frames deep. The cost is ~8 KiB of
//! stack copied per sample (about 16 MB for 20 s of a busy process).
//!
//! Nothing here stops the run: a missing perf, a refused recording (see
//! /proc/sys/kernel/perf_event_paranoid), a process that used no CPU: each target gets
//! its reason in summary.json and report.md instead of a graph.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use inferno::collapse::perf::Folder;
use inferno::collapse::Collapse;
use inferno::flamegraph;
use serde::Serialize;
use tokio::task::JoinHandle;

use crate::sample::Watched;

/// Samples per second: off the beat of timers that tick at round rates, and low enough
/// that recording costs the profiled process little.
const FREQUENCY_HZ: u32 = 99;
const CALL_GRAPH: &str = "dwarf";

/// The processes profiled: every gateway, and the fanout role (the per-recipient work).
fn is_target(label: &str) -> bool {
    label.starts_with("chat-gateway") || label == "chat-projector:fanout"
}

/// A label as a file name: `chat-gateway:8080` -> `chat-gateway-8080`.
pub fn file_label(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

struct Recording {
    target: Watched,
    data: PathBuf,
    task: JoinHandle<Result<(), String>>,
}

/// The recordings under way.
pub struct Profiler {
    seconds: u64,
    delay: Duration,
    out: PathBuf,
    recordings: Vec<Recording>,
}

#[derive(Serialize)]
pub struct Flame {
    pub label: String,
    pub pid: u32,
    /// perf's recording, in `--out` (for `perf report -i`).
    pub perf_data: String,
    /// The flame graph, in `--out`, when drawn.
    pub svg: Option<String>,
    /// Stacks sampled.
    pub samples: Option<u64>,
    /// Why there is no flame graph.
    pub error: Option<String>,
}

#[derive(Serialize)]
pub struct ProfileSummary {
    pub seconds: u64,
    /// When recording began, in seconds into the sending phase.
    pub started_after_s: f64,
    pub frequency_hz: u32,
    pub call_graph: &'static str,
    pub flames: Vec<Flame>,
}

impl Profiler {
    /// Start recording the targets among `procs` for `seconds` (at most the sending
    /// time), centred in a sending phase of `sending` that starts now. Call from within
    /// the runtime.
    pub fn start(procs: &[Watched], out: &Path, seconds: u64, sending: Duration) -> Profiler {
        let seconds = seconds.clamp(1, sending.as_secs().max(1));
        let delay = sending.saturating_sub(Duration::from_secs(seconds)) / 2;
        let created = std::fs::create_dir_all(out)
            .map_err(|e| format!("could not create {}: {e}", out.display()));
        let recordings = procs
            .iter()
            .filter(|w| is_target(&w.label))
            .map(|w| {
                let data = out.join(format!("{}.perf.data", file_label(&w.label)));
                let task = tokio::spawn(record_after(
                    delay,
                    created.clone(),
                    w.pid,
                    data.clone(),
                    seconds,
                ));
                Recording {
                    target: w.clone(),
                    data,
                    task,
                }
            })
            .collect::<Vec<_>>();
        if recordings.is_empty() {
            eprintln!("--profile: no gateway or fanout projector among the watched processes");
        } else {
            eprintln!(
                "--profile: recording {} process(es) for {seconds} s from {:.1} s into sending",
                recordings.len(),
                delay.as_secs_f64()
            );
        }
        Profiler {
            seconds,
            delay,
            out: out.to_path_buf(),
            recordings,
        }
    }

    /// Wait for the recordings and draw their flame graphs. Call once the run's
    /// measuring is over: `perf script` and the drawing take CPU of their own.
    pub async fn finish(self) -> ProfileSummary {
        let mut flames = Vec::new();
        for r in self.recordings {
            let recorded = match r.task.await {
                Ok(result) => result,
                Err(e) => Err(format!("the recording task failed: {e}")),
            };
            let svg_name = format!("flame-{}.svg", file_label(&r.target.label));
            let title = format!(
                "{} (pid {}): {} s at {FREQUENCY_HZ} Hz",
                r.target.label, r.target.pid, self.seconds
            );
            let drawn = match recorded {
                Ok(()) => draw(r.data.clone(), self.out.join(&svg_name), title).await,
                Err(e) => Err(e),
            };
            if let Err(e) = &drawn {
                eprintln!("--profile: {}: {e}", r.target.label);
            }
            let perf_data = r
                .data
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let (svg, samples, error) = match drawn {
                Ok(n) => (Some(svg_name), Some(n), None),
                Err(e) => (None, None, Some(e)),
            };
            flames.push(Flame {
                label: r.target.label,
                pid: r.target.pid,
                perf_data,
                svg,
                samples,
                error,
            });
        }
        ProfileSummary {
            seconds: self.seconds,
            started_after_s: self.delay.as_secs_f64(),
            frequency_hz: FREQUENCY_HZ,
            call_graph: CALL_GRAPH,
            flames,
        }
    }
}

/// Once `delay` has passed, `perf record` (unless the output directory could not be made).
async fn record_after(
    delay: Duration,
    created: Result<(), String>,
    pid: u32,
    data: PathBuf,
    seconds: u64,
) -> Result<(), String> {
    created?;
    tokio::time::sleep(delay).await;
    record(pid, &data, seconds).await
}

/// `perf record` of one process for `seconds`, into `data`.
async fn record(pid: u32, data: &Path, seconds: u64) -> Result<(), String> {
    let (pid, freq, secs) = (
        pid.to_string(),
        FREQUENCY_HZ.to_string(),
        seconds.to_string(),
    );
    let mut cmd = Command::new("perf");
    cmd.args([
        "record",
        "-F",
        freq.as_str(),
        "--call-graph",
        CALL_GRAPH,
        "-p",
        pid.as_str(),
        "-o",
    ])
    .arg(data)
    .args(["--", "sleep", secs.as_str()]);
    run(cmd).await.map(|_| ())
}

/// `perf script` of a recording, folded and drawn into `svg`: the number of samples.
async fn draw(data: PathBuf, svg: PathBuf, title: String) -> Result<u64, String> {
    let mut cmd = Command::new("perf");
    // --no-inline: resolving inlined frames runs addr2line on every address, minutes
    // for a busy recording; the functions they were inlined into remain.
    cmd.arg("script").arg("-i").arg(&data).arg("--no-inline");
    let script = run(cmd).await?;
    tokio::task::spawn_blocking(move || flame(&script, &svg, &title))
        .await
        .map_err(|e| format!("drawing failed: {e}"))?
}

/// Fold `perf script` output and draw it as an SVG flame graph: the number of samples.
fn flame(script: &[u8], svg: &Path, title: &str) -> Result<u64, String> {
    // perf script prints each sample as a header line (`comm pid time: period event:`)
    // and then its frames, indented, and a blank line.
    let headers: Vec<&[u8]> = script
        .split(|&b| b == b'\n')
        .filter(|l| l.first().is_some_and(|b| !b.is_ascii_whitespace()))
        .collect();
    let samples = headers.len() as u64;
    let mut folded = Vec::new();
    Folder::default()
        .collapse(script, &mut folded)
        .map_err(|e| format!("folding perf script's output: {e}"))?;
    let folded = String::from_utf8_lossy(&folded);
    if samples == 0 || folded.trim().is_empty() {
        return Err(
            "no samples: the process used no CPU while recorded, or perf could not read its stacks"
                .into(),
        );
    }
    let mut opt = flamegraph::Options::default();
    opt.title = title.to_string();
    opt.subtitle = Some(format!(
        "{samples} samples; width: share of the CPU time; bottom to top: caller to callee"
    ));
    // inferno weighs each sample by its period: nanoseconds for perf's software clock
    // event (the default where there is no hardware counter, as in a VM), else cycles.
    let clock = headers
        .first()
        .is_some_and(|h| String::from_utf8_lossy(h).contains("-clock:"));
    opt.count_name = (if clock { "ns" } else { "events" }).to_string();
    let file = std::fs::File::create(svg)
        .map_err(|e| format!("could not create {}: {e}", svg.display()))?;
    let mut w = std::io::BufWriter::new(file);
    flamegraph::from_lines(&mut opt, folded.lines(), &mut w)
        .map_err(|e| format!("drawing the flame graph: {e}"))?;
    w.flush()
        .map_err(|e| format!("writing {}: {e}", svg.display()))?;
    Ok(samples)
}

/// Run a command on the blocking pool (a recording lasts seconds): its stdout, or why
/// it failed, with the end of what it printed.
async fn run(mut cmd: Command) -> Result<Vec<u8>, String> {
    cmd.stdin(Stdio::null());
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .map_err(|e| format!("could not run perf: {e}"))?;
    match out {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err("perf is not installed (Debian: apt-get install linux-perf)".into())
        }
        Err(e) => Err(format!("could not run perf: {e}")),
        Ok(o) if !o.status.success() => {
            let stderr = String::from_utf8_lossy(&o.stderr);
            let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
            Err(format!(
                "perf failed ({}): {}",
                o.status,
                lines[lines.len().saturating_sub(3)..].join(" / ")
            ))
        }
        Ok(o) => Ok(o.stdout),
    }
}

impl ProfileSummary {
    /// The report.md section: a row per profiled process, linking its flame graph.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(
            md,
            "\n## Flame graphs\n\n`perf record -F {} --call-graph {}` of each process for {} s, \
             from {:.1} s into the sending phase. Open an SVG in a browser: click a frame to \
             zoom, Ctrl-F to search (loadtest/README.md, \"Flame graphs\").\n",
            self.frequency_hz, self.call_graph, self.seconds, self.started_after_s
        );
        if self.flames.is_empty() {
            let _ = writeln!(
                md,
                "No gateway or fanout projector was among the watched processes: nothing recorded.\n"
            );
            return md;
        }
        let _ = writeln!(
            md,
            "| process | pid | samples | flame graph |\n|---|---|---|---|"
        );
        for f in &self.flames {
            let graph = match (&f.svg, &f.error) {
                (Some(svg), _) => format!("[{svg}]({svg})"),
                (None, Some(e)) => format!("none: {}", e.replace('|', "/")),
                (None, None) => "none".into(),
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                f.label,
                f.pid,
                f.samples.map_or("-".into(), |n| n.to_string()),
                graph
            );
        }
        md
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_file_names() {
        assert!(is_target("chat-gateway:8080"));
        assert!(is_target("chat-projector:fanout"));
        assert!(!is_target("chat-projector:history"));
        assert!(!is_target("kafka"));
        assert_eq!(file_label("chat-gateway:8080"), "chat-gateway-8080");
        assert_eq!(file_label("chat-loadtest (self)"), "chat-loadtest--self-");
    }

    /// The folding and drawing, on `perf script` output in the shape perf 6.1 prints.
    #[test]
    fn folds_and_draws_perf_script_output() {
        let script = b"chat-gateway 42 123.456: 10101010 cpu-clock:ppp: \n\
\t    55d1 tokio::runtime::task::raw::poll+0x10 (/x/chat-gateway)\n\
\t    44c1 std::thread::local::LocalKey::with+0x20 (/x/chat-gateway)\n\
\t    33b1 main+0x30 (/x/chat-gateway)\n\
\n\
chat-gateway 42 123.466: 10101010 cpu-clock:ppp: \n\
\t    66e1 __libc_sendto+0x10 (/usr/lib/x86_64-linux-gnu/libc.so.6)\n\
\t    33b1 main+0x30 (/x/chat-gateway)\n\
\n";
        let dir = std::env::temp_dir().join(format!("loadtest-flame-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let svg = dir.join("flame.svg");
        assert_eq!(flame(script, &svg, "test").unwrap(), 2);
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.contains("<svg") && text.contains("__libc_sendto"));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(flame(b"", &dir.join("none.svg"), "empty").is_err());
    }
}
