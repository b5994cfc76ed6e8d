//! The dev stack's infrastructure processes on this machine, as `infra/dev` starts them
//! (infra/lib/*.sh): the Kafka broker(s), the Cassandra node(s), the schema registry,
//! Redis (and the replicated topology's Sentinels and HAProxy), the object store and the
//! KMS. Found in /proc so that their CPU and memory count in what a run costs
//! ([`crate::cost`]); a message touches them as much as the platform's own processes.
//!
//! The rule (loadtest/README.md, "Cost per message"): a process is one of them when
//!
//! 1. its command line has the shape infra/dev launches, which also names its role:
//!    `java ... kafka.Kafka <dir>/server.properties` (`kafka`, or `kafka:N` for the
//!    node directory `kafka-N`), `java ... org.apache.cassandra.service.CassandraDaemon`
//!    (`cassandra`, or `cassandra:N` from `-Dcassandra.storagedir=.../cassandra-N`),
//!    `java ... apicurio-registry...-runner.jar` (Quarkus: `registry`), `redis-server`
//!    (`redis:PORT`; a Sentinel `redis-sentinel:PORT`), `weed` (`objects`), `local-kms`
//!    (`kms`), `haproxy` (`haproxy`); and
//! 2. it belongs to a dev stack's state directory: an argument names a path inside it
//!    (the JVMs' classpaths, data and config; weed's and local-kms's binaries), or its
//!    working directory is inside it (Redis chdirs to its `--dir` and rewrites its
//!    command line to `redis-server 127.0.0.1:PORT`, so only its cwd tells).
//!
//! The state directories: `$CHAT_STATE_DIR` when set, and `.state` in the current
//! directory or any directory above it, or above the running gateways' (else
//! projectors') executables (`<checkout>/target/release`). The replicated topology's
//! `.state/replicated` lies inside `.state`. Test suites' private servers (under the
//! temporary directory) and a system-wide Redis are thereby not counted.

use std::path::{Path, PathBuf};

use crate::sample::{self, Watched};

/// The programs infra/dev runs for the infrastructure, by `/proc/PID/comm`: a cheap
/// first filter before reading a process's command line.
const PROGRAMS: [&str; 6] = [
    "java",
    "redis-server",
    "redis-sentinel",
    "weed",
    "local-kms",
    "haproxy",
];

/// The dev stack's infrastructure processes, labelled by role (see the module doc).
/// `exe_dirs`: the directories the platform's running binaries were started from.
pub fn infra_processes(exe_dirs: &[PathBuf]) -> Vec<Watched> {
    let states = state_dirs(exe_dirs);
    if states.is_empty() {
        return Vec::new();
    }
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        // A process may end between the listing and these reads: it is then skipped.
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let comm = comm.trim();
        if !PROGRAMS.contains(&comm) {
            continue;
        }
        let args = sample::cmdline(pid);
        let Some(label) = classify(comm, &args) else {
            continue;
        };
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).ok();
        if in_state_dirs(&args, cwd.as_deref(), &states) {
            found.push(Watched { pid, label });
        }
    }
    distinct_labels(&mut found);
    found
}

/// Where infra/dev keeps each stack's state (see the module doc).
pub fn state_dirs(exe_dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    let mut add = |p: PathBuf| {
        if p.is_dir() && !out.contains(&p) {
            out.push(p);
        }
    };
    if let Some(d) = std::env::var_os("CHAT_STATE_DIR") {
        let d = PathBuf::from(d);
        // /proc shows resolved paths; the variable may hold a relative or linked one.
        if let Ok(c) = d.canonicalize() {
            add(c);
        }
        add(d);
    }
    let mut starts: Vec<PathBuf> = exe_dirs.to_vec();
    if let Ok(cwd) = std::env::current_dir() {
        starts.push(cwd);
    }
    for start in &starts {
        for dir in start.ancestors() {
            add(dir.join(".state"));
        }
    }
    out
}

/// Whether an argument names a path inside one of `states`, or `cwd` is inside one.
fn in_state_dirs(args: &[String], cwd: Option<&Path>, states: &[PathBuf]) -> bool {
    states.iter().any(|s| {
        let prefix = format!("{}/", s.display());
        cwd.is_some_and(|c| c.starts_with(s)) || args.iter().any(|a| a.contains(&prefix))
    })
}

/// The role of an infrastructure process from its command line, or None when it is not
/// one infra/dev starts.
pub fn classify(comm: &str, args: &[String]) -> Option<String> {
    // Redis rewrites its command line to one argument, `redis-server 127.0.0.1:6379`.
    let words: Vec<&str> = args.iter().flat_map(|a| a.split_whitespace()).collect();
    // The kernel's name of the executable (immune to a rewritten command line and to
    // spaces in paths), else the first word's file name.
    let program: &str = if comm.is_empty() {
        words.first().map_or("", |w| basename(w))
    } else {
        comm
    };
    if program == "java" {
        if let Some(i) = args.iter().position(|a| a == "kafka.Kafka") {
            // The node's state directory holds its server.properties: kafka, kafka-2, ...
            let node = args
                .get(i + 1)
                .and_then(|p| Path::new(p).parent())
                .and_then(|d| d.file_name())
                .and_then(|n| n.to_str())
                .unwrap_or("kafka");
            return Some(node_label("kafka", node));
        }
        if args.iter().any(|a| a.ends_with("CassandraDaemon")) {
            let node = args
                .iter()
                .find_map(|a| a.strip_prefix("-Dcassandra.storagedir="))
                .and_then(|d| Path::new(d).file_name())
                .and_then(|n| n.to_str())
                .unwrap_or("cassandra");
            return Some(node_label("cassandra", node));
        }
        if args
            .iter()
            .any(|a| a.contains("apicurio-registry") || a.contains("quarkus"))
        {
            return Some("registry".into());
        }
        return None;
    }
    match program {
        "redis-server" | "redis-sentinel" => {
            let sentinel = program == "redis-sentinel"
                || words
                    .iter()
                    .any(|w| *w == "[sentinel]" || *w == "--sentinel");
            // The port: from the rewritten title (`127.0.0.1:6379`), else `--port`.
            let port = words
                .iter()
                .skip(1)
                .find_map(|w| w.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok()))
                .or_else(|| {
                    words
                        .iter()
                        .position(|w| *w == "--port")
                        .and_then(|i| words.get(i + 1))
                        .and_then(|p| p.parse::<u16>().ok())
                });
            let kind = if sentinel { "redis-sentinel" } else { "redis" };
            Some(match port {
                Some(p) => format!("{kind}:{p}"),
                None => kind.to_string(),
            })
        }
        "weed" => Some("objects".into()),
        "local-kms" => Some("kms".into()),
        "haproxy" => Some("haproxy".into()),
        _ => None,
    }
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `kafka` for the single node's directory `kafka`, `kafka:2` for `kafka-2`.
fn node_label(kind: &str, dir_name: &str) -> String {
    match dir_name
        .strip_prefix(kind)
        .and_then(|r| r.strip_prefix('-'))
    {
        Some(n) if !n.is_empty() => format!("{kind}:{n}"),
        _ => kind.to_string(),
    }
}

/// Two stacks on one machine (two checkouts) may give the same label twice: the pid
/// then tells them apart, after a `:` so the label's kind (its group) stays in front.
fn distinct_labels(found: &mut [Watched]) {
    let labels: Vec<String> = found.iter().map(|w| w.label.clone()).collect();
    for w in found.iter_mut() {
        if labels.iter().filter(|l| **l == w.label).count() > 1 {
            w.label = format!("{}:pid{}", w.label, w.pid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split(' ').map(String::from).collect()
    }

    #[test]
    fn roles_from_the_command_lines_infra_dev_uses() {
        let kafka = args("java -Xms512m -cp /r/.state/dist/kafka-lib/* kafka.Kafka /r/.state/kafka/server.properties");
        assert_eq!(classify("java", &kafka).as_deref(), Some("kafka"));
        let kafka2 = args("java -cp /r/.state/dist/kafka-lib/* kafka.Kafka /r/.state/replicated/kafka-2/server.properties");
        assert_eq!(classify("java", &kafka2).as_deref(), Some("kafka:2"));
        let cassandra = args("java -Xms1g -Dcassandra.storagedir=/r/.state/cassandra -cp /r/.state/dist/cassandra-lib/* org.apache.cassandra.service.CassandraDaemon");
        assert_eq!(classify("java", &cassandra).as_deref(), Some("cassandra"));
        let cassandra3 = args("java -Dcassandra.storagedir=/r/.state/replicated/cassandra-3 org.apache.cassandra.service.CassandraDaemon");
        assert_eq!(
            classify("java", &cassandra3).as_deref(),
            Some("cassandra:3")
        );
        let registry = args("java -Xms64m -Dquarkus.http.port=8081 -jar /r/.state/dist/registry/app/apicurio-registry-app-2.6.13.Final-runner.jar");
        assert_eq!(classify("java", &registry).as_deref(), Some("registry"));
        assert_eq!(classify("java", &args("java -jar other.jar")), None);
        // Redis's rewritten title, with the padding it leaves.
        let redis = vec!["redis-server 127.0.0.1:6379          ".to_string()];
        assert_eq!(
            classify("redis-server", &redis).as_deref(),
            Some("redis:6379")
        );
        let sentinel = vec!["redis-server 127.0.0.1:26380 [sentinel]".to_string()];
        assert_eq!(
            classify("redis-server", &sentinel).as_deref(),
            Some("redis-sentinel:26380")
        );
        let untitled = args("redis-server --bind 127.0.0.1 --port 6381 --dir /r/.state/redis-2");
        assert_eq!(
            classify("redis-server", &untitled).as_deref(),
            Some("redis:6381")
        );
        let weed = args(
            "/r/.state/dist/seaweedfs-4.48/weed -logtostderr mini -dir=/r/.state/objects/data",
        );
        assert_eq!(classify("weed", &weed).as_deref(), Some("objects"));
        let kms = args("/r/.state/dist/local-kms-v0/local-kms");
        assert_eq!(classify("local-kms", &kms).as_deref(), Some("kms"));
        assert_eq!(classify("bash", &args("bash /dev/fd/3")), None);
    }

    #[test]
    fn only_processes_of_a_state_directory() {
        let states = vec![PathBuf::from("/r/.state")];
        let kafka = args(
            "java -cp /r/.state/dist/kafka-lib/* kafka.Kafka /r/.state/kafka/server.properties",
        );
        assert!(in_state_dirs(&kafka, Some(Path::new("/r")), &states));
        // A test's private Redis under the temporary directory, a system one.
        let redis = vec!["redis-server 127.0.0.1:40123".to_string()];
        assert!(!in_state_dirs(
            &redis,
            Some(Path::new("/tmp/chat-e2e-redis-1")),
            &states
        ));
        assert!(!in_state_dirs(
            &redis,
            Some(Path::new("/var/lib/redis")),
            &states
        ));
        assert!(in_state_dirs(
            &redis,
            Some(Path::new("/r/.state/redis")),
            &states
        ));
        // Another checkout's stack whose name starts the same.
        let other = args("java kafka.Kafka /r/.state2/kafka/server.properties");
        assert!(!in_state_dirs(&other, None, &states));
    }

    #[test]
    fn repeated_labels_get_their_pid() {
        let mut found = vec![
            Watched {
                pid: 7,
                label: "kafka".into(),
            },
            Watched {
                pid: 9,
                label: "kafka".into(),
            },
            Watched {
                pid: 11,
                label: "redis:6379".into(),
            },
        ];
        distinct_labels(&mut found);
        let labels: Vec<&str> = found.iter().map(|w| w.label.as_str()).collect();
        assert_eq!(labels, ["kafka:pid7", "kafka:pid9", "redis:6379"]);
    }
}
