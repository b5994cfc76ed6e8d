//! The results of a run: `summary.json` (machine-readable, the same core fields for
//! every scenario) and `report.md` with SVG charts beside it in `--out`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::chart::{self, Series};
use crate::sample::{Resources, Samples};
use crate::tracker::Second;

#[derive(Serialize, serde::Deserialize, Clone, Copy, Default)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub count: u64,
}

impl Latency {
    /// From a histogram of microseconds, in milliseconds.
    pub fn from_micros(h: &Histogram<u64>) -> Self {
        let ms = |v: u64| v as f64 / 1000.0;
        Latency {
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            count: h.len(),
        }
    }
}

/// `summary.json`: the fields every scenario has, then the scenario's own (`extra`),
/// then what the processes used and the parameters of the run.
#[derive(Serialize)]
pub struct Summary {
    pub scenario: String,
    /// WebSocket connections the run held at its peak.
    pub connections: usize,
    pub sent: u64,
    pub acked: u64,
    /// Deliveries of acked messages to online members other than the sender.
    pub delivered: u64,
    /// Acked messages that some online member never got, or that history lacks.
    pub lost: u64,
    pub errors: BTreeMap<String, u64>,
    pub ack_ms: Latency,
    pub deliver_ms: Latency,
    /// Acks per second over the sending time.
    pub msgs_per_s: f64,
    pub deliveries_per_s: f64,
    pub rss_bytes_per_connection: Option<f64>,
    pub elapsed_s: f64,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    pub resources: Resources,
    pub params: Value,
}

impl Summary {
    pub fn new(scenario: &str, params: Value) -> Self {
        Summary {
            scenario: scenario.to_string(),
            connections: 0,
            sent: 0,
            acked: 0,
            delivered: 0,
            lost: 0,
            errors: BTreeMap::new(),
            ack_ms: Latency::default(),
            deliver_ms: Latency::default(),
            msgs_per_s: 0.0,
            deliveries_per_s: 0.0,
            rss_bytes_per_connection: None,
            elapsed_s: 0.0,
            extra: Map::new(),
            resources: Resources::default(),
            params,
        }
    }

    pub fn set(&mut self, key: &str, v: impl Serialize) {
        self.extra.insert(
            key.to_string(),
            serde_json::to_value(v).unwrap_or(Value::Null),
        );
    }
}

/// What goes into report.md besides the summary.
#[derive(Default)]
pub struct Report {
    charts: Vec<(String, String, String)>,
    /// Markdown sections of their own (cost, flame graphs), before the charts.
    sections: Vec<String>,
}

impl Report {
    /// Add a Markdown section (starting with its `##` heading), placed before the charts.
    pub fn section(&mut self, markdown: String) {
        self.sections.push(markdown);
    }

    pub fn chart(&mut self, file: &str, caption: &str, svg: String) {
        self.charts
            .push((file.to_string(), caption.to_string(), svg));
    }

    /// p50/p99 per second (by send time) and the histograms of a message run.
    pub fn latency(&mut self, seconds: &[Second], ack: &Histogram<u64>, deliver: &Histogram<u64>) {
        fn ack_of(s: &Second) -> &Histogram<u64> {
            &s.ack
        }
        fn deliver_of(s: &Second) -> &Histogram<u64> {
            &s.deliver
        }
        let mut series = Vec::new();
        for (name, of) in [
            ("ack", ack_of as fn(&Second) -> &Histogram<u64>),
            ("deliver", deliver_of),
        ] {
            for (label, quantile) in [("p50", 0.5), ("p99", 0.99)] {
                let points: Vec<(f64, f64)> = seconds
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| !of(s).is_empty())
                    .map(|(i, s)| (i as f64, of(s).value_at_quantile(quantile) as f64 / 1000.0))
                    .collect();
                if !points.is_empty() {
                    series.push(Series {
                        name: format!("{name} {label}"),
                        points,
                    });
                }
            }
        }
        if !series.is_empty() {
            self.chart(
                "latency_over_time.svg",
                "Latency over time (p50 and p99 of the messages sent in each second)",
                chart::lines("Latency over time", "seconds into the run", "ms", &series),
            );
            let rates = vec![
                Series {
                    name: "acks/s".into(),
                    points: seconds
                        .iter()
                        .enumerate()
                        .map(|(i, s)| (i as f64, s.ack.len() as f64))
                        .collect(),
                },
                Series {
                    name: "deliveries/s".into(),
                    points: seconds
                        .iter()
                        .enumerate()
                        .map(|(i, s)| (i as f64, s.deliver.len() as f64))
                        .collect(),
                },
            ];
            self.chart(
                "throughput_over_time.svg",
                "Acks and live deliveries per second (by send time)",
                chart::lines("Throughput", "seconds into the run", "per second", &rates),
            );
        }
        if !ack.is_empty() {
            self.chart(
                "ack_histogram.svg",
                "Send-to-ack latency histogram",
                chart::histogram("send-to-ack", ack),
            );
        }
        if !deliver.is_empty() {
            self.chart(
                "deliver_histogram.svg",
                "Send-to-deliver latency histogram",
                chart::histogram("send-to-deliver", deliver),
            );
        }
    }

    /// Memory and CPU of the watched processes over time, and the open sockets.
    pub fn resources(&mut self, s: &Samples) {
        let mut rss = Vec::new();
        let mut cpu = Vec::new();
        for (i, w) in s.procs.iter().enumerate() {
            rss.push(Series {
                name: w.label.clone(),
                points: s
                    .points
                    .iter()
                    .filter_map(|p| p.rss[i].map(|b| (p.t, b as f64 / 1048576.0)))
                    .collect(),
            });
            cpu.push(Series {
                name: w.label.clone(),
                points: s
                    .points
                    .iter()
                    .filter_map(|p| p.cpu[i].map(|c| (p.t, c)))
                    .collect(),
            });
        }
        if s.points.len() < 2 {
            return;
        }
        self.chart(
            "rss_over_time.svg",
            "Resident memory of the watched processes",
            chart::lines("RSS", "seconds", "MiB", &rss),
        );
        self.chart(
            "cpu_over_time.svg",
            "CPU of the watched processes (100 = one core)",
            chart::lines("CPU", "seconds", "%", &cpu),
        );
        let conns = Series {
            name: "open sockets".into(),
            points: s
                .points
                .iter()
                .map(|p| (p.t, p.connections as f64))
                .collect(),
        };
        self.chart(
            "connections_over_time.svg",
            "Sockets held open by the generator",
            chart::lines("Connections", "seconds", "sockets", &[conns]),
        );
    }

    /// Write summary.json, the charts and report.md to `out`; print the summary.
    pub fn write(&self, out: &Path, summary: &Summary) -> Result<()> {
        std::fs::create_dir_all(out).with_context(|| format!("create {}", out.display()))?;
        let json = serde_json::to_string_pretty(summary)?;
        std::fs::write(out.join("summary.json"), &json)?;
        for (file, _, svg) in &self.charts {
            std::fs::write(out.join(file), svg)?;
        }
        std::fs::write(out.join("report.md"), self.markdown(summary))?;
        println!("{json}");
        eprintln!("wrote {0}/summary.json and {0}/report.md", out.display());
        Ok(())
    }

    fn markdown(&self, s: &Summary) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# chat-loadtest: {}\n", s.scenario);
        let _ = writeln!(md, "Parameters: `{}`\n", s.params);
        let _ = writeln!(md, "| metric | value |\n|---|---|");
        let rows: Vec<(&str, String)> = vec![
            ("connections", s.connections.to_string()),
            ("sent", s.sent.to_string()),
            ("acked", s.acked.to_string()),
            ("delivered", s.delivered.to_string()),
            ("lost", s.lost.to_string()),
            ("msgs/s (acked)", format!("{:.0}", s.msgs_per_s)),
            ("deliveries/s", format!("{:.0}", s.deliveries_per_s)),
            (
                "RSS per connection (gateways)",
                s.rss_bytes_per_connection.map_or("-".into(), |b| {
                    format!("{:.0} bytes ({:.1} KiB)", b, b / 1024.0)
                }),
            ),
            ("elapsed", format!("{:.1} s", s.elapsed_s)),
            (
                "errors",
                if s.errors.is_empty() {
                    "none".into()
                } else {
                    format!("{:?}", s.errors)
                },
            ),
        ];
        for (k, v) in rows {
            let _ = writeln!(md, "| {k} | {v} |");
        }
        for (k, v) in &s.extra {
            match v.as_f64() {
                Some(f) if v.is_f64() => {
                    let _ = writeln!(md, "| {k} | {:.3} |", f);
                }
                _ if !v.is_object() => {
                    let _ = writeln!(md, "| {k} | {v} |");
                }
                _ => {}
            }
        }
        let _ = writeln!(
            md,
            "\n## Latency (ms)\n\n| | p50 | p90 | p99 | p99.9 | max | count |\n|---|---|---|---|---|---|---|"
        );
        let mut lat: Vec<(String, Latency)> = vec![
            ("send-to-ack".into(), s.ack_ms),
            ("send-to-deliver".into(), s.deliver_ms),
        ];
        for (k, v) in &s.extra {
            if let Ok(l) = serde_json::from_value::<Latency>(v.clone()) {
                lat.push((k.clone(), l));
            }
        }
        for (name, l) in lat {
            let _ = writeln!(
                md,
                "| {name} | {} | {} | {} | {} | {} | {} |",
                l.p50, l.p90, l.p99, l.p999, l.max, l.count
            );
        }
        let r = &s.resources;
        let _ = writeln!(
            md,
            "\n## Processes\n\nPeak sockets: {}; gateway RSS before: {}, at peak: {}; gateway CPU per 1,000 sockets at peak: {}\n",
            r.peak_connections,
            mib(r.gateway_rss_before_bytes),
            mib(r.gateway_rss_at_peak_bytes),
            r.gateway_cpu_percent_per_1k_connections
                .map_or("-".into(), |c| format!("{c} %"))
        );
        let _ = writeln!(
            md,
            "| process | pid | RSS start | RSS peak | RSS end | CPU mean % | CPU max % |\n|---|---|---|---|---|---|---|"
        );
        for p in &r.processes {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} |",
                p.label,
                p.pid,
                mib(p.rss_start_bytes),
                mib(p.rss_peak_bytes),
                mib(p.rss_end_bytes),
                p.cpu_mean_percent.map_or("-".into(), |c| c.to_string()),
                p.cpu_max_percent.map_or("-".into(), |c| c.to_string()),
            );
        }
        for section in &self.sections {
            md.push_str(section);
        }
        let _ = writeln!(md, "\n## Charts\n");
        for (file, caption, _) in &self.charts {
            let _ = writeln!(md, "{caption}\n\n![{caption}]({file})\n");
        }
        md
    }
}

fn mib(b: Option<u64>) -> String {
    b.map_or("-".into(), |b| format!("{:.1} MiB", b as f64 / 1048576.0))
}
