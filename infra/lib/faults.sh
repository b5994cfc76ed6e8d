# shellcheck shell=bash
# The fault suite: chat traffic through clients that follow every rule of the protocol
# (`chat-loadtest --scenario faults`, loadtest/README.md "Faults"), one fault injected
# per run, and exact accounting per fault: one table row each.
# Sourced by infra/dev after common.sh, the component files and services.sh.
#
#   infra/dev faults [--short] [--out DIR]
#
# The fault and recovery commands the scenario runs are `infra/dev _fault ACTION NAME`
# (fault_ctl below): they act on the processes named by infra's own pid files and start
# them again with the same functions `infra/dev up` uses.

FAULTS_RUN_LIMIT_SECS="${FAULTS_RUN_LIMIT_SECS:-900}"
# FAULTS_RATE: messages per second over all clients (the scenario's --rate); 200 unless
# set (the replicated topology sets 50, `infra/dev test` 100).

# fault_ctl ACTION NAME
#   kill NAME      SIGKILL the process of NAME's pid file, wait until it is gone
#   restart NAME   start NAME again as `infra/dev up` does, wait until it is healthy
#   stop NAME      SIGSTOP (the process hangs: sockets open, nothing answered)
#   cont NAME      SIGCONT
# NAME: a server's process (kafka, cassandra, redis, registry; on the replicated
# topology kafka-N, cassandra-N, redis-N, sentinel-N, haproxy, and redis-primary for
# whichever Redis node is the primary now), or a service of services_spec.
fault_ctl() {
  local action="${1:-}" name="${2:-}" pid i
  [ -n "$name" ] || die "usage: infra/dev _fault kill|restart|stop|cont NAME"
  if [ "$name" = redis-primary ] && [ "$action" = cont ]; then
    # The node stopped as the primary is no longer the primary: continue whichever is
    # stopped.
    local n
    for n in redis-1 redis-2; do
      pid=$(pid_of "$n") && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = "T" ] && name="$n"
    done
  elif [ "$name" = redis-primary ] && [ "$action" != restart ]; then
    local port
    port=$(redis_primary_port) || die "no Redis node is the primary"
    name="redis-$((port - REDIS_PORT))"
  fi
  case "$action" in
    kill)
      pid=$(pid_of "$name") || die "$name is not running (no live pid in $PID_DIR/$name.pid)"
      kill -KILL "$pid"
      for ((i = 0; i < 100; i++)); do
        # Gone, or a zombie waiting for its reaper: either way it holds nothing.
        [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = "" ] && break
        [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = "Z" ] && break
        sleep 0.1
      done
      # The start functions skip a name whose pid file names a live process.
      rm -f "$PID_DIR/$name.pid"
      log "SIGKILL $name (pid $pid)"
      ;;
    stop | cont)
      pid=$(pid_of "$name") || die "$name is not running"
      kill "-${action^^}" "$pid"
      log "SIG${action^^} $name (pid $pid)"
      ;;
    restart)
      local component="$name"
      case "$name" in
        kafka-*) component=kafka ;;
        cassandra-*) component=cassandra ;;
        redis-* | sentinel-*) component=redis ;;
      esac
      case "$component" in
        kafka | cassandra | redis | registry | objects | kms | haproxy)
          "${component}_start" && "${component}_wait" || die "$name did not come back (infra/dev logs $name)"
          ;;
        *)
          services_start
          fault_service_wait "$name" || die "$name did not come back (infra/dev logs $name)"
          ;;
      esac
      log "$name is back"
      ;;
    *) die "unknown fault action '$action' (kill, restart, stop, cont)" ;;
  esac
}

fault_service_wait() { # NAME
  local name port bin args
  while read -r name port bin args; do
    [ "$name" = "$1" ] && { wait_until "$name" 60 service_healthy "$port"; return; }
  done < <(services_spec)
  die "no service named $1 (services_spec)"
}

# Everything of the platform healthy again: a process left stopped is continued, one
# that is down is started as `infra/dev up` starts it.
faults_heal() {
  local c pid
  for c in $(redis_node_names) $(cassandra_node_names) $(kafka_node_names) registry objects kms haproxy; do
    if pid=$(pid_of "$c") && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = "T" ]; then
      warn "$c was left stopped; SIGCONT"
      kill -CONT "$pid" || true
    fi
  done
  for c in "${COMPONENTS[@]}"; do "${c}_external" || "${c}_healthy" || "${c}_start"; done
  for c in "${COMPONENTS[@]}"; do "${c}_wait" || die "$c did not become healthy (infra/dev logs $c)"; done
  services_start
  services_wait || die "a service did not become healthy (infra/dev status; infra/dev logs)"
}

# The platform up, with as many gateways as GATEWAYS: only what is missing is started;
# with nothing built yet, the whole of `infra/dev up`.
faults_platform_up() {
  if cmd_status_table >/dev/null 2>&1; then return 0; fi
  if [ -x "$RELEASE_DIR/chat-gateway" ] && [ -x "$RELEASE_DIR/chat-projector" ]; then
    local c ok=1
    for c in "${COMPONENTS[@]}"; do "${c}_healthy" || ok=""; done
    if [ -n "$ok" ]; then
      log "starting what is not running (GATEWAYS=$GATEWAYS)"
      faults_heal
      return 0
    fi
  fi
  log "the platform is not up: infra/dev up (GATEWAYS=$GATEWAYS)"
  cmd_up
}

# One line per fault: NAME|FAULT COMMAND|RECOVER COMMAND|FAULT FOR
faults_list() {
  local short="$1" dev
  dev=$(printf '%q' "$INFRA_DIR/dev")
  # _fk PROCESS [FAULT NAME]: SIGKILL, restart 10 s later.
  # _fh PROCESS: SIGSTOP, SIGCONT 30 s later.
  _fk() { echo "${2:-$1}|$dev _fault kill $1|$dev _fault restart $1|10s"; }
  _fh() { echo "$1-hang|$dev _fault stop $1|$dev _fault cont $1|30s"; }
  if [ "$CHAT_TOPOLOGY" = replicated ]; then
    if [ -n "$short" ]; then
      _fk gateway-1 gateway
      _fk kafka-1
      echo "redis-failover|$dev _fault kill redis-primary|$dev _fault restart redis|10s"
      return
    fi
    _fk gateway-1 gateway
    _fk projector-history
    _fk projector-fanout
    _fk projector-presence
    _fk projector-notifications
    _fk kafka-1
    # A broker that stays down until the run is accounted (the suite heals it after).
    echo "kafka-2-down|$dev _fault kill kafka-2|true|10s"
    _fk cassandra-2
    # The primary is killed: the Sentinels promote the replica, HAProxy follows, and the
    # old primary comes back as a replica.
    echo "redis-failover|$dev _fault kill redis-primary|$dev _fault restart redis|10s"
    echo "redis-primary-hang|$dev _fault stop redis-primary|$dev _fault cont redis-primary|30s"
    _fh kafka-1
    _fh cassandra-2
    return
  fi
  if [ -n "$short" ]; then
    _fk gateway-1 gateway
    _fk projector-fanout
    _fk redis
    return
  fi
  _fk gateway-1 gateway
  _fk projector-history
  _fk projector-fanout
  _fk projector-presence
  _fk projector-notifications
  _fk kafka
  _fk cassandra
  _fk redis
  _fh redis
  _fh cassandra
}

cmd_faults() {
  local short="" out=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --short) short=1 ;;
      --out) out="${2:?--out needs a directory}"; shift ;;
      --out=*) out="${1#--out=}" ;;
      *) die "usage: infra/dev faults [--short] [--out DIR]" ;;
    esac
    shift
  done
  # Two gateways, so the clients of a killed one go to the other.
  [ "$GATEWAYS" -ge 2 ] 2>/dev/null || GATEWAYS=2
  # The fault commands run as `infra/dev _fault ...` from the load generator: same state
  # directory, binaries and gateway count.
  export GATEWAYS CHAT_STATE_DIR="$STATE_DIR" CARGO_TARGET_DIR CHAT_TOPOLOGY
  [ -n "${CHAT_BIN_DIR:-}" ] && export CHAT_BIN_DIR
  local stamp dir table accounts duration at
  stamp=$(date -u +%Y%m%d-%H%M%S)
  out="${out:-$STATE_DIR/faults}"
  mkdir -p "$out"
  out=$(cd "$out" && pwd)
  dir="$out/faults-$stamp"
  table="$out/faults-$stamp.md"
  accounts="$out/accounts.jsonl"
  mkdir -p "$dir"
  if [ -n "$short" ]; then duration=30s at=10s; else duration=45s at=15s; fi

  faults_platform_up
  if [ -z "${CHAT_BIN_DIR:-}" ]; then
    log "building chat-loadtest (release)"
    (cd "$REPO_ROOT" && cargo build --release --locked -q -p loadtest) || die "cargo build -p loadtest failed"
  fi
  # A copy, so a rebuild of the shared target directory cannot change it mid-suite.
  cp "$RELEASE_DIR/chat-loadtest" "$dir/chat-loadtest"

  # Clients connect to the gateways themselves, or through the load balancer.
  local gateways="" name port _
  if [ "$CHAT_TOPOLOGY" = replicated ]; then
    gateways="$(lb_scheme)://127.0.0.1:$LB_PORT"
  else
    while read -r name port _; do
      [[ "$name" == gateway-* ]] && gateways="${gateways:+$gateways,}http://127.0.0.1:$port"
    done < <(services_spec)
  fi

  local rc=0 fault recover for before after run_rc
  while IFS='|' read -r name fault recover for; do
    log "fault $name: $fault, then after $for: $recover (log: $dir/$name.log)"
    before=0; [ -f "$table" ] && before=$(wc -l <"$table")
    run_rc=0
    timeout --kill-after=30 "$FAULTS_RUN_LIMIT_SECS" "$dir/chat-loadtest" --scenario faults \
      --gateways "$gateways" --ca-file "$TLS_DIR/ca.crt" --source-addrs none --rate "${FAULTS_RATE:-200}" \
      --duration "$duration" --fault-at "$at" --fault-for "$for" \
      --fault-name "$name" --fault-cmd "$fault" --recover-cmd "$recover" \
      --table "$table" --accounts "$accounts" --out "$dir/$name" \
      >"$dir/$name.log" 2>&1 || run_rc=$?
    after=0; [ -f "$table" ] && after=$(wc -l <"$table")
    if [ "$after" -eq "$before" ]; then
      # It ended before it could account (timed out, or failed to set up).
      [ -s "$table" ] || printf '| fault | sent | acked | unavailable | delivered / expected | in history | lost | duplicated | out of order | notes |\n|---|---|---|---|---|---|---|---|---|---|\n' >"$table"
      local why="exit $run_rc"
      [ "$run_rc" -eq 124 ] && why="timed out after ${FAULTS_RUN_LIMIT_SECS}s"
      printf '| %s | - | - | - | - | - | - | - | - | no result (%s): %s |\n' "$name" "$why" "$(tail -n 1 "$dir/$name.log" | tr '|' '/')" >>"$table"
    fi
    if [ "$run_rc" -ne 0 ]; then
      rc=1
      warn "fault $name: FAILED (exit $run_rc); the last lines of $dir/$name.log:"
      tail -n 5 "$dir/$name.log" >&2
    fi
    # Whatever the run left behind, the next fault starts on a healthy platform.
    faults_heal
    sleep 5
  done < <(faults_list "$short")

  echo
  cat "$table"
  echo
  log "table: $table; per fault: $dir/<fault>/report.md and summary.json, logs $dir/<fault>.log"
  return $rc
}
