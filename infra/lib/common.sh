# shellcheck shell=bash
# Shared helpers for infra/dev and the per-component files in infra/lib/.
#
# Every component file (kafka.sh, cassandra.sh, redis.sh, registry.sh) defines the
# same small set of functions, so infra/dev can treat them alike:
#   <c>_external   exit 0 when an environment variable points at a server we must not start
#   <c>_install    fetch what is missing (idempotent, quiet when nothing to do)
#   <c>_start      launch in the background if not already healthy (returns at once)
#   <c>_wait       block until healthy or fail with the tail of its log
#   <c>_healthy    exit 0 when the component answers a real request
#   <c>_stop       stop what we started (by pid file), wait for it to exit
#   <c>_describe   one line: where it listens
# Everything a component writes lives under $STATE_DIR/<c>/ and $STATE_DIR/logs/<c>.log.

set -o pipefail

INFRA_DIR="${INFRA_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
REPO_ROOT="${REPO_ROOT:-$(cd "$INFRA_DIR/.." && pwd)}"
STATE_DIR="${CHAT_STATE_DIR:-$REPO_ROOT/.state}"
LOG_DIR="$STATE_DIR/logs"
PID_DIR="$STATE_DIR/pids"
# Downloaded distributions (jars, binaries). Kept under the state directory so `rm -rf
# .state` is a full reset; Maven's own cache (~/.m2) makes a re-fetch cheap. Both
# topologies share one (CHAT_DIST_DIR, set by topology.sh).
DIST_DIR="${CHAT_DIST_DIR:-$STATE_DIR/dist}"
mkdir -p "$LOG_DIR" "$PID_DIR" "$DIST_DIR"

JAVA_BIN="${JAVA_BIN:-java}"

log()  { printf '\033[1;34m[infra]\033[0m %s\n' "$*" >&2; }
warn() { printf '\033[1;33m[infra]\033[0m %s\n' "$*" >&2; }
die()  { printf '\033[1;31m[infra]\033[0m %s\n' "$*" >&2; exit 1; }

# pid_of NAME -> prints the pid from $PID_DIR/NAME.pid if that process is alive.
pid_of() {
  local f="$PID_DIR/$1.pid" pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && { echo "$pid"; return 0; }
  return 1
}

# start_bg NAME CMD... : run CMD detached (own session, survives the calling shell),
# stdout+stderr appended to $LOG_DIR/NAME.log, pid in $PID_DIR/NAME.pid.
start_bg() {
  local name="$1"; shift
  local logf="$LOG_DIR/$name.log"
  printf '\n==== %s starting %s\n' "$(date -u +%FT%TZ)" "$name" >>"$logf"
  setsid nohup "$@" >>"$logf" 2>&1 </dev/null &
  echo $! >"$PID_DIR/$name.pid"
}

# stop_pid NAME [SECONDS]: SIGTERM, wait, then SIGKILL. Quiet if not running.
stop_pid() {
  local name="$1" secs="${2:-30}" pid i
  pid=$(pid_of "$name") || { rm -f "$PID_DIR/$name.pid"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < secs * 5; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    warn "$name (pid $pid) did not stop in ${secs}s; killing"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PID_DIR/$name.pid"
}

# port_open HOST PORT: exit 0 if a TCP connect succeeds.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# wait_until NAME SECONDS CMD...: poll CMD every second until it succeeds. On timeout,
# or when NAME's process died, print the tail of its log and fail.
wait_until() {
  local name="$1" secs="$2"; shift 2
  local i
  for ((i = 0; i < secs; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if [ -f "$PID_DIR/$name.pid" ] && ! pid_of "$name" >/dev/null; then
      warn "$name exited during start-up; last lines of $LOG_DIR/$name.log:"
      tail -n 40 "$LOG_DIR/$name.log" >&2 || true
      return 1
    fi
    sleep 1
  done
  warn "$name not healthy after ${secs}s; last lines of $LOG_DIR/$name.log:"
  tail -n 40 "$LOG_DIR/$name.log" >&2 || true
  return 1
}

# maven_fetch POM_DIR DEST: resolve the runtime dependencies of a small pom into DEST
# (once; a marker file records the pom's checksum so an edited pom re-resolves).
maven_fetch() {
  local pom_dir="$1" dest="$2" sum
  sum=$(sha256sum "$pom_dir/pom.xml" | cut -c1-16)
  if [ -f "$dest/.resolved-$sum" ]; then return 0; fi
  command -v mvn >/dev/null || die "mvn is missing (apt-get install maven)"
  log "resolving $(basename "$pom_dir") from Maven Central into $dest (first time only)"
  rm -rf "$dest" && mkdir -p "$dest"
  mvn -q -B -f "$pom_dir/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$dest" >"$LOG_DIR/maven-$(basename "$pom_dir").log" 2>&1 ||
    { tail -n 30 "$LOG_DIR/maven-$(basename "$pom_dir").log" >&2; die "maven could not resolve $pom_dir"; }
  touch "$dest/.resolved-$sum"
}

# apt_ensure PKG...: install Debian packages that are missing (needs root).
apt_ensure() {
  local missing=() p
  # dpkg -s also succeeds for a removed package whose config files remain, so read the status.
  for p in "$@"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null ||
    die "apt-get install ${missing[*]} failed"
}
