# shellcheck shell=bash
# Redis for local development: Debian's redis-server, run by us (not by the init system)
# on 127.0.0.1:$REDIS_PORT with an append-only file under $STATE_DIR/redis (the platform
# keeps dedup state there, so it must survive a restart).
# Sourced after common.sh; follows the component contract described there.

REDIS_PORT="${REDIS_PORT:-6379}"
REDIS_DIR="$STATE_DIR/redis"

redis_external() { [ -n "${REDIS_URL:-}" ]; }

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
  else
    [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]
  fi
}

redis_start() {
  redis_healthy && return 0
  if pid_of redis >/dev/null; then return 0; fi   # ours, still starting (loading the AOF)
  port_open 127.0.0.1 "$REDIS_PORT" &&
    die "port $REDIS_PORT is taken by something that is not our redis (a system redis-server? try: service redis-server stop)"
  mkdir -p "$REDIS_DIR"
  # No config file: everything on the command line, so /etc/redis/redis.conf (logfile,
  # daemonize, dir) never applies. Logs go to stdout, which start_bg appends to the log.
  # Durability is the append-only file (fsync every second); the periodic RDB snapshots
  # Redis also takes by default are off (`--save ""`): under chat load they fork and
  # rewrite the whole dataset every minute, for nothing the AOF does not already keep.
  start_bg redis redis-server \
    --bind 127.0.0.1 --port "$REDIS_PORT" \
    --dir "$REDIS_DIR" \
    --appendonly yes --appendfsync everysec --save "" \
    --daemonize no --supervised no --logfile "" \
    --protected-mode yes
}

redis_wait() { wait_until redis 60 redis_healthy; }

# SIGTERM makes redis flush the AOF (and write an RDB snapshot) before it exits.
redis_stop() { stop_pid redis 30; }

redis_describe() {
  if redis_external; then echo "redis      $REDIS_URL (external)"; else echo "redis      127.0.0.1:$REDIS_PORT"; fi
}
