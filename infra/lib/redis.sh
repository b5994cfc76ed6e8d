# shellcheck shell=bash
# Redis for local development: Debian's redis-server, run by us (not by the init system)
# on 127.0.0.1:$REDIS_PORT with an append-only file under $STATE_DIR/redis (the platform
# keeps dedup state there, so it must survive a restart).
# Sourced after common.sh; follows the component contract described there.
#
# REDIS_SENTINEL=1 (the replicated topology, infra/lib/topology.sh): a primary and a
# replica (redis-1 on REDIS_PORT+1, redis-2 on REDIS_PORT+2) watched by three Sentinels
# (sentinel-1..3 on 26379..26381, quorum 2) that promote the replica when the primary is
# gone. Clients keep using REDIS_PORT: HAProxy (infra/lib/haproxy.sh) listens there and
# forwards to whichever node says `role:master`, as a managed service's primary endpoint
# does. Why not Sentinel-aware clients: every service would need a Sentinel client and
# its own failover handling, and the cloud's managed Redis hands out one endpoint anyway.
#
# The single node also listens with TLS on REDIS_TLS_PORT (default 6390; the dev
# certificate of tls.sh, clients not asked for certificates) and has an ACL user `chat`
# whose password is $STATE_DIR/tls/redis.secret. The `default` user stays passwordless
# on both ports, for the plaintext users of REDIS_URL.

REDIS_PORT="${REDIS_PORT:-6379}"
REDIS_TLS_PORT="${REDIS_TLS_PORT:-6390}"
REDIS_TLS_USER=chat
REDIS_DIR="$STATE_DIR/redis"
REDIS_SENTINEL="${REDIS_SENTINEL:-}"
SENTINEL_PORT="${SENTINEL_PORT:-26379}"
# Sentinel's name for the primary it watches.
SENTINEL_MASTER=chat

redis_external() { [ -n "${REDIS_URL:-}" ]; }

# redis_node_names -> the pid-file names of every Redis process.
redis_node_names() {
  if [ -n "$REDIS_SENTINEL" ]; then echo redis-1 redis-2 sentinel-1 sentinel-2 sentinel-3 | tr ' ' '\n'; else echo redis; fi
}

redis_install() {
  [ "$(dpkg-query -W -f='${Status}' redis-server 2>/dev/null)" = "install ok installed" ] &&
    command -v redis-cli >/dev/null && return 0
  local sudo="" rc=0 own_policy=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  # Debian's postinst starts a system redis on 6379, which would squat our port. A
  # policy-rc.d that answers 101 forbids invoke-rc.d from starting any service during the
  # install; we only add (and later remove) one when the machine has none of its own.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null &&
      $sudo chmod 755 /usr/sbin/policy-rc.d && own_policy=1
  fi
  (apt_ensure redis-server) || rc=$?
  [ -n "$own_policy" ] && $sudo rm -f /usr/sbin/policy-rc.d
  [ "$rc" -eq 0 ] || die "could not install redis-server"
  # Belt and braces: should a system redis have started anyway, stop it and keep it off.
  $sudo service redis-server stop >/dev/null 2>&1 || true
  $sudo update-rc.d redis-server disable >/dev/null 2>&1 || true
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    $sudo systemctl disable --now redis-server >/dev/null 2>&1 || true
  fi
}

redis_healthy() {
  if redis_external; then
    [ "$(redis-cli -u "$REDIS_URL" ping 2>/dev/null)" = "PONG" ]
  elif [ -n "$REDIS_SENTINEL" ]; then
    local n
    for n in $(redis_node_names); do _redis_answers "$(_redis_port_of "$n")" || return 1; done
  else
    _redis_answers "$REDIS_PORT"
  fi
}

_redis_answers() { [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = "PONG" ]; }

_redis_port_of() { # NAME
  case "$1" in
    redis) echo "$REDIS_PORT" ;;
    redis-*) echo $((REDIS_PORT + ${1#redis-})) ;;
    sentinel-*) echo $((SENTINEL_PORT + ${1#sentinel-} - 1)) ;;
  esac
}

redis_start() {
  redis_external && return 0
  if [ -z "$REDIS_SENTINEL" ]; then _redis_node_start redis ""; return; fi
  local n primary
  # A node (re)joining follows the primary the Sentinels know (after a failover, that is
  # no longer redis-1); with no Sentinel up yet, redis-1 is the primary.
  primary=$(redis-cli -p "$SENTINEL_PORT" sentinel get-master-addr-by-name "$SENTINEL_MASTER" 2>/dev/null | tail -n 1 || true)
  [ -n "$primary" ] || primary=$((REDIS_PORT + 1))
  for n in redis-1 redis-2; do
    if [ "$(_redis_port_of "$n")" = "$primary" ]; then
      _redis_node_start "$n" ""
    else
      _redis_node_start "$n" "$primary"
    fi
  done
  for n in sentinel-1 sentinel-2 sentinel-3; do _sentinel_start "$n"; done
}

_redis_node_start() { # NAME [PRIMARY_PORT]
  local name="$1" primary="${2:-}" port dir
  port=$(_redis_port_of "$name")
  _redis_answers "$port" && return 0
  if pid_of "$name" >/dev/null; then return 0; fi   # ours, still starting (loading the AOF)
  port_open 127.0.0.1 "$port" &&
    die "port $port is taken by something that is not our redis (a system redis-server? try: service redis-server stop)"
  if [ "$name" = redis ]; then dir="$REDIS_DIR"; else dir="$STATE_DIR/$name"; fi
  mkdir -p "$dir"
  local replica=() conf=()
  [ -n "$primary" ] && replica=(--replicaof 127.0.0.1 "$primary")
  if [ "$name" = redis ]; then
    port_open 127.0.0.1 "$REDIS_TLS_PORT" && die "port $REDIS_TLS_PORT (Redis TLS) is taken"
    tls_ensure "$TLS_DIR"
    # The TLS port and the password-protected user, in a file of our own (0600) so the
    # password is not on the command line.
    (umask 077 && cat >"$dir/tls.conf" <<CONF
tls-port $REDIS_TLS_PORT
tls-cert-file $TLS_DIR/server.crt
tls-key-file $TLS_DIR/server.key
tls-ca-cert-file $TLS_DIR/ca.crt
tls-auth-clients no
user $REDIS_TLS_USER on >$(tls_secret redis) ~* &* +@all
CONF
    )
    conf=("$dir/tls.conf")
  fi
  # Otherwise no config file: everything on the command line, so /etc/redis/redis.conf
  # (logfile, daemonize, dir) never applies. Logs go to stdout, which start_bg appends to the log.
  # Durability is the append-only file (fsync every second); the periodic RDB snapshots
  # Redis also takes by default are off (`--save ""`): under chat load they fork and
  # rewrite the whole dataset every minute, for nothing the AOF does not already keep.
  start_bg "$name" redis-server "${conf[@]}" \
    --bind 127.0.0.1 --port "$port" \
    --dir "$dir" \
    --appendonly yes --appendfsync everysec --save "" \
    --daemonize no --supervised no --logfile "" \
    --protected-mode yes "${replica[@]}"
}

# A Sentinel rewrites its own configuration file with what it learns (the current
# primary, the other Sentinels), so the file is written once and kept.
_sentinel_start() { # NAME
  local name="$1" port dir
  port=$(_redis_port_of "$name")
  _redis_answers "$port" && return 0
  if pid_of "$name" >/dev/null; then return 0; fi
  port_open 127.0.0.1 "$port" && die "port $port is taken by something that is not our Sentinel"
  dir="$STATE_DIR/$name"
  mkdir -p "$dir"
  if [ ! -s "$dir/sentinel.conf" ]; then
    # down-after 2 s: a primary that answers nothing for 2 s is down to this Sentinel;
    # two of three agreeing start the failover.
    cat >"$dir/sentinel.conf" <<CONF
port $port
bind 127.0.0.1
dir $dir
sentinel monitor $SENTINEL_MASTER 127.0.0.1 $((REDIS_PORT + 1)) 2
sentinel down-after-milliseconds $SENTINEL_MASTER 2000
sentinel failover-timeout $SENTINEL_MASTER 10000
sentinel parallel-syncs $SENTINEL_MASTER 1
CONF
  fi
  start_bg "$name" redis-server "$dir/sentinel.conf" --sentinel --daemonize no --logfile ""
}

redis_wait() {
  redis_external && { wait_until redis 60 redis_healthy; return; }
  local n
  for n in $(redis_node_names); do wait_until "$n" 60 _redis_answers "$(_redis_port_of "$n")" || return 1; done
}

# SIGTERM makes redis flush the AOF (and write an RDB snapshot) before it exits.
redis_stop() {
  redis_external && return 0
  local n
  for n in $(redis_node_names); do stop_pid "$n" 30; done
}

# redis_primary_port -> the port of the node that is the primary now.
redis_primary_port() {
  local n port
  for n in redis-1 redis-2; do
    port=$(_redis_port_of "$n")
    redis-cli -p "$port" info replication 2>/dev/null | grep -q '^role:master' && { echo "$port"; return 0; }
  done
  return 1
}

redis_describe() {
  if redis_external; then
    echo "redis      $REDIS_URL (external)"
  elif [ -n "$REDIS_SENTINEL" ]; then
    echo "redis      127.0.0.1:$REDIS_PORT (through HAProxy to the primary, now 127.0.0.1:$(redis_primary_port || echo none); replica and 3 Sentinels)"
  else
    echo "redis      127.0.0.1:$REDIS_PORT (TLS on 127.0.0.1:$REDIS_TLS_PORT)"
  fi
}
