//! `chat-loadtest`: a load generator that speaks the real client protocol
//! (services/gateway/PROTOCOL.md) to running gateways. Bounded in connections and time, it
//! stops by itself and writes `summary.json`, `report.md` and SVG charts to `--out`.
//!
//! Scenarios, one module each: [`idle`], [`chat`], [`fanout`], [`history`], [`search`],
//! [`reconnect`], [`faults`], [`stuck`]. Shared pieces: accounts and groups ([`setup`]), sockets and frames
//! ([`client`]), the client's ordering rule ([`gap_rule`]), connected members sending and receiving
//! ([`live`]), a client that follows every rule across drops ([`resilient`]), what is recorded ([`tracker`]), the history check ([`verify`]), process
//! sampling ([`sample`]) and the infrastructure's processes among them ([`stack`]), what
//! a message costs ([`cost`]), flame graphs ([`profile`]) and the output ([`report`], [`chart`]).

mod chart;
mod chat;
mod client;
mod cost;
mod fanout;
mod faults;
mod gap_rule;
mod history;
mod idle;
mod live;
mod profile;
mod reconnect;
mod report;
mod resilient;
mod sample;
mod search;
mod setup;
mod stack;
mod stuck;
mod tracker;
mod verify;

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, CommandFactory, FromArgMatches, Parser};
use serde_json::{json, Value};

use crate::client::Connector;

#[derive(Parser, Clone, Debug)]
#[command(
    name = "chat-loadtest",
    about = "Load generator for the chat gateways",
    // A flag given on the command line overrides the same one from --scenario-file.
    args_override_self = true
)]
pub struct Args {
    /// Scenario: idle, chat, fanout, history, search, reconnect, faults or stuck.
    #[arg(long, default_value = "chat")]
    scenario: String,
    /// A TOML file of flags (`rate = 1000`, `gateways = ["http://..."]`,
    /// `duration = "30s"`); flags on the command line win.
    #[arg(long)]
    scenario_file: Option<PathBuf>,
    /// How long to send for (chat, fanout, reconnect, faults) or to hold the sockets
    /// (idle). Default 30s (faults: 45s).
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// Gateway base URLs; connections are spread over them in turn.
    #[arg(long, default_value = "http://127.0.0.1:8080", value_delimiter = ',', action = ArgAction::Set)]
    gateways: Vec<String>,
    /// A PEM CA file to trust for `https://` gateways (besides the system's roots), e.g.
    /// the dev CA `.state/tls/ca.crt` of the replicated topology.
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// Where to write summary.json, report.md and the charts.
    #[arg(long, default_value = "loadtest-output")]
    out: PathBuf,

    /// chat: group conversations.
    #[arg(long, default_value_t = 10)]
    conversations: usize,
    /// chat: members per conversation; fanout: the group's size; reconnect: group size
    /// (one sender that stays, the rest drop); history: sockets that fill; stuck: stuck
    /// users per group (default: as many as a group may have at creation).
    #[arg(long)]
    members: Option<usize>,
    /// Messages per second, in total (chat, fanout, reconnect, stuck).
    #[arg(long)]
    rate: Option<u64>,
    /// chat, fanout (v1.1 mix): percent of each sender's sends that are thread replies
    /// (in the thread of its first message) instead of plain messages.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    thread_percent: u8,
    /// chat, fanout (v1.1 mix): percent of sends that are reactions to the sender's first
    /// message instead of messages (acked, not counted as messages).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    react_percent: u8,
    /// Padding of each message body, in bytes (stuck: default 4000).
    #[arg(long, default_value_t = 64)]
    body_bytes: usize,
    /// fanout: how many of the members send; stuck: normal members that send (default 5).
    #[arg(long, default_value_t = 4)]
    senders: usize,
    /// stuck: sockets, of distinct users, that stop reading after their first pong.
    #[arg(long, default_value_t = 1000)]
    stuck: usize,

    /// idle: sockets to open and hold.
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// idle: distinct users behind the sockets (each holds connections/users of them;
    /// signing up costs the gateway two argon2 hashes). Default: min(connections, 1000).
    #[arg(long)]
    users: Option<usize>,
    /// idle: ping interval per socket.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    heartbeat: Duration,
    /// Sockets opened per second at most while connecting.
    #[arg(long, default_value_t = 1000)]
    connect_rate: u64,
    /// Connection attempts in flight at most while connecting.
    #[arg(long, default_value_t = 200)]
    connect_concurrency: usize,

    /// reconnect: clients that drop at once and come back with sync; faults: sockets
    /// (one member each).
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// reconnect: how long they stay away while the others keep sending.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    outage: Duration,

    /// history: messages to fill the conversation with; search: in all the groups.
    #[arg(long, default_value_t = 100_000)]
    messages: usize,
    /// history: page requests to time; search: searches to time.
    #[arg(long, default_value_t = 2000)]
    pages: usize,
    /// history: concurrent page readers; search: concurrent searchers.
    #[arg(long, default_value_t = 8)]
    readers: usize,
    /// search: the search role's /metrics (how many documents its index holds).
    #[arg(long, default_value = "http://127.0.0.1:9106/metrics")]
    search_metrics: String,

    /// Source addresses for sockets to loopback gateways: auto (127.0.0.1-127.0.0.250),
    /// none, a range A-B, or a comma-separated list.
    #[arg(long, default_value = "auto")]
    source_addrs: String,
    /// More pids to sample besides the chat-gateway and chat-projector processes and
    /// the dev stack's infrastructure found in /proc.
    #[arg(long, value_delimiter = ',', action = ArgAction::Set)]
    watch: Vec<u32>,
    /// chat, fanout: record the gateways and the fanout projector with `perf` for SECS
    /// seconds in the middle of the sending phase, and draw their flame graphs.
    #[arg(long, value_name = "SECS")]
    profile: Option<u64>,
    /// Keep accounts (and their tokens) in this file between runs; JSON lines.
    #[arg(long)]
    accounts: Option<PathBuf>,
    /// Skip reading every acked message back from the history API after the run.
    #[arg(long)]
    no_history_check: bool,
    /// Longest wait for the history projection to catch up before checking.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    history_wait: Duration,

    /// faults: a shell command (`sh -c`) that injects the fault.
    #[arg(long)]
    fault_cmd: Option<String>,
    /// faults: when to run --fault-cmd, counted from the start of sending.
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    fault_at: Duration,
    /// faults: how long after --fault-cmd started to run --recover-cmd.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    fault_for: Duration,
    /// faults: a shell command (`sh -c`) that ends the fault.
    #[arg(long)]
    recover_cmd: Option<String>,
    /// faults: the fault's name in the table (default: none, or the fault command).
    #[arg(long)]
    fault_name: Option<String>,
    /// faults: append the result as one Markdown table row to this file (header
    /// written when the file is new).
    #[arg(long)]
    table: Option<PathBuf>,
    /// faults: discard the frames that come on a new socket before its pong (as a client
    /// that starts reading only then), so everything missed must come through `sync`.
    #[arg(long)]
    drop_before_pong: bool,
    /// faults: longest wait, after sending and recovery, for sends still unacked.
    #[arg(long, default_value = "90s", value_parser = humantime::parse_duration)]
    settle_wait: Duration,
}

impl Args {
    fn members_or(&self, default: usize) -> usize {
        self.members.unwrap_or(default).max(1)
    }

    /// The sending (or holding) time: `--duration`, else 30s (faults: 45s).
    fn duration(&self) -> Duration {
        self.duration
            .unwrap_or(Duration::from_secs(if self.scenario == "faults" {
                45
            } else {
                30
            }))
    }

    /// Defaults that differ by scenario for flags that scenarios share, applied where
    /// the flag was given neither on the command line nor in `--scenario-file`.
    fn scenario_defaults(&mut self, matches: &ArgMatches) {
        let unset = |id: &str| matches.value_source(id) == Some(ValueSource::DefaultValue);
        if self.scenario == "stuck" {
            if unset("senders") {
                self.senders = stuck::DEFAULT_SENDERS;
            }
            if unset("body_bytes") {
                self.body_bytes = stuck::DEFAULT_BODY_BYTES;
            }
        }
    }

    fn from_argv(argv: Vec<OsString>) -> Result<Self> {
        let matches = Args::command().try_get_matches_from(argv)?;
        let mut args = Args::from_arg_matches(&matches)?;
        args.scenario_defaults(&matches);
        Ok(args)
    }

    fn rate_or(&self, default: u64) -> u64 {
        self.rate.unwrap_or(default).max(1)
    }

    /// The parameters as recorded in summary.json.
    fn params(&self) -> Value {
        json!({
            "scenario": self.scenario,
            "duration": humantime::format_duration(self.duration()).to_string(),
            "gateways": self.gateways,
            "conversations": self.conversations,
            "members": self.members,
            "rate": self.rate,
            "body_bytes": self.body_bytes,
            "thread_percent": self.thread_percent,
            "react_percent": self.react_percent,
            "senders": self.senders,
            "stuck": self.stuck,
            "connections": self.connections,
            "users": self.users,
            "heartbeat": humantime::format_duration(self.heartbeat).to_string(),
            "connect_rate": self.connect_rate,
            "clients": self.clients,
            "outage": humantime::format_duration(self.outage).to_string(),
            "messages": self.messages,
            "pages": self.pages,
            "readers": self.readers,
            "search_metrics": self.search_metrics,
            "source_addrs": self.source_addrs,
            "history_check": !self.no_history_check,
            "fault_name": self.fault_name,
            "fault_cmd": self.fault_cmd,
            "fault_at": humantime::format_duration(self.fault_at).to_string(),
            "fault_for": humantime::format_duration(self.fault_for).to_string(),
            "recover_cmd": self.recover_cmd,
            "settle_wait": humantime::format_duration(self.settle_wait).to_string(),
            "drop_before_pong": self.drop_before_pong,
            "profile": self.profile,
        })
    }
}

/// What every scenario gets.
pub struct Ctx {
    pub args: Args,
    pub http: reqwest::Client,
    pub connector: Arc<Connector>,
    /// A short id naming this run's users.
    pub run: String,
    /// The open-files limit in force (each socket is one).
    pub nofile: u64,
}

impl Ctx {
    /// `n` accounts for this run, signed up through the first gateway (or reused from
    /// `--accounts`).
    pub async fn accounts(&self, n: usize) -> Result<Vec<setup::Account>> {
        setup::accounts(
            &self.http,
            &self.args.gateways[0],
            &self.run,
            n,
            self.args.accounts.as_deref(),
        )
        .await
    }
}

/// The command line with the flags of `--scenario-file` (if any) put before the
/// others, so the command line wins.
fn argv() -> Result<Vec<OsString>> {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let mut file = None;
    for (i, a) in argv.iter().enumerate() {
        let a = a.to_string_lossy();
        if let Some(p) = a.strip_prefix("--scenario-file=") {
            file = Some(PathBuf::from(p));
        } else if a == "--scenario-file" {
            file = argv.get(i + 1).map(PathBuf::from);
        }
    }
    let Some(file) = file else { return Ok(argv) };
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("read {}", file.display()))?;
    let mut out = vec![argv
        .first()
        .cloned()
        .unwrap_or_else(|| "chat-loadtest".into())];
    out.extend(file_flags(&text).with_context(|| format!("in {}", file.display()))?);
    out.extend(argv.into_iter().skip(1));
    Ok(out)
}

fn file_flags(text: &str) -> Result<Vec<OsString>> {
    let table: toml::Table = toml::from_str(text)?;
    let mut out = Vec::new();
    for (k, v) in table {
        let flag = format!("--{}", k.replace('_', "-"));
        let value = match v {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(true) => {
                out.push(flag.into());
                continue;
            }
            toml::Value::Boolean(false) => continue,
            toml::Value::Array(a) => a
                .iter()
                .map(|x| match x {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Float(f) => f.to_string(),
                    other => format!("{other:?}"),
                })
                .collect::<Vec<_>>()
                .join(","),
            other => bail!("{k}: unsupported value {other:?}"),
        };
        out.push(flag.into());
        out.push(value.into());
    }
    Ok(out)
}

/// Raise this process's open-files limit as far as allowed: to the kernel's
/// `fs.nr_open` when we may raise the hard limit (root), else the soft limit to the
/// hard one. Every socket is a descriptor; 50,000 of them need more than the usual
/// defaults (1,024 soft).
fn raise_nofile() -> u64 {
    let want: libc::rlim_t = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1 << 20);
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read or write the struct we pass by pointer.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return 0;
        }
        let raised = libc::rlimit {
            rlim_cur: want.max(r.rlim_max),
            rlim_max: want.max(r.rlim_max),
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
            return raised.rlim_cur;
        }
        let soft = libc::rlimit {
            rlim_cur: r.rlim_max,
            rlim_max: r.rlim_max,
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &soft) == 0 {
            return soft.rlim_cur;
        }
        r.rlim_cur
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::from_argv(argv()?)?;
    if args.gateways.is_empty() {
        bail!("--gateways is empty");
    }
    if args.profile.is_some() && !matches!(args.scenario.as_str(), "chat" | "fanout") {
        eprintln!("--profile applies to the chat and fanout scenarios only: ignored");
    }
    let nofile = raise_nofile();
    let ca = args.ca_file.as_deref().map(client::read_ca).transpose()?;
    let connector =
        Arc::new(Connector::new(&args.gateways, &args.source_addrs, ca.as_deref()).await?);
    eprintln!(
        "scenario {}: open-files limit {nofile}, {} source address(es) for loopback",
        args.scenario,
        connector.source_count()
    );
    let ctx = Ctx {
        http: {
            let mut http = reqwest::Client::builder().timeout(Duration::from_secs(60));
            if let Some(pem) = &ca {
                http = http.tls_certs_merge([reqwest::Certificate::from_pem(pem)?]);
            }
            http.build()?
        },
        connector,
        run: setup::run_id(),
        nofile,
        args,
    };
    match ctx.args.scenario.as_str() {
        "idle" => idle::run(&ctx).await,
        "chat" => chat::run(&ctx).await,
        "fanout" => fanout::run(&ctx).await,
        "history" => history::run(&ctx).await,
        "search" => search::run(&ctx).await,
        "reconnect" => reconnect::run(&ctx).await,
        "faults" => faults::run(&ctx).await,
        "stuck" => stuck::run(&ctx).await,
        other => bail!(
            "unknown scenario {other} (idle, chat, fanout, history, search, reconnect, faults, stuck)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_flags_then_command_line() {
        let flags = file_flags(
            "scenario = \"fanout\"\nrate = 50\nduration = \"10s\"\ngateways = [\"http://a:1\", \"http://b:2\"]\nno_history_check = true\n",
        )
        .unwrap();
        let mut argv: Vec<OsString> = vec!["x".into()];
        argv.extend(flags);
        argv.extend(["--rate", "70"].map(OsString::from));
        let a = Args::try_parse_from(argv).unwrap();
        assert_eq!(a.scenario, "fanout");
        assert_eq!(a.rate, Some(70));
        assert_eq!(a.duration(), Duration::from_secs(10));
        assert_eq!(a.gateways, vec!["http://a:1", "http://b:2"]);
        assert!(a.no_history_check);
        let a = Args::try_parse_from([
            "x",
            "--gateways",
            "http://a:1,http://b:2",
            "--gateways",
            "http://c:3",
        ])
        .unwrap();
        assert_eq!(a.gateways, vec!["http://c:3"]);
        assert!(file_flags("nope = {a = 1}").is_err());
    }

    #[test]
    fn scenario_defaults_only_where_unset() {
        let parse = |v: &[&str]| Args::from_argv(v.iter().map(OsString::from).collect()).unwrap();
        let a = parse(&["x", "--scenario", "stuck"]);
        assert_eq!((a.senders, a.body_bytes, a.stuck), (5, 4000, 1000));
        let a = parse(&[
            "x",
            "--scenario",
            "stuck",
            "--senders",
            "2",
            "--body-bytes",
            "64",
        ]);
        assert_eq!((a.senders, a.body_bytes), (2, 64));
        let a = parse(&["x", "--scenario", "fanout"]);
        assert_eq!((a.senders, a.body_bytes), (4, 64));
    }
}
