# shellcheck shell=bash
# The platform's own long-running services, run from release builds in the background.
# Sourced after common.sh and the component files.
#
# services_spec prints one line per service instance: NAME PORT BINARY [ARGS...]. It is
# the single list `infra/dev up/down/status` work from; a service that lands in the
# workspace adds its line here.

CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
RELEASE_DIR="$CARGO_TARGET_DIR/release"

services_spec() {
  :   # no long-running service yet: chatctl is a command, run by `infra/dev up` itself
}

# with_platform_env CMD...: run CMD with the variables every service and test reads,
# pointing at the servers infra/dev manages (or the external ones the caller named).
platform_env_args() {
  printf '%s\n' \
    "KAFKA_BROKERS=$(kafka_bootstrap)" \
    "CQL_NODES=${CQL_NODES:-127.0.0.1:${CQL_PORT:-9042}}" \
    "REDIS_URL=${REDIS_URL:-redis://127.0.0.1:$REDIS_PORT}" \
    "SCHEMA_REGISTRY_URL=$REGISTRY_URL"
}
with_platform_env() {
  local vars
  mapfile -t vars < <(platform_env_args)
  env "${vars[@]}" "$@"
}

services_build() {
  command -v cargo >/dev/null || die "cargo is missing: install Rust (rustup) first"
  log "building release binaries (cargo build --release; the first build takes several minutes on 2 cores)"
  (cd "$REPO_ROOT" && cargo build --release --locked --bins -q) || die "cargo build --release failed"
}

service_healthy() { # PORT
  curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$1/healthz"
}

services_start() {
  local name port bin args
  while read -r name port bin args; do
    [ -n "$name" ] || continue
    if service_healthy "$port"; then continue; fi
    pid_of "$name" >/dev/null && continue
    local vars
    mapfile -t vars < <(platform_env_args)
    # shellcheck disable=SC2086 # args is a word list by design
    start_bg "$name" env "${vars[@]}" "$RELEASE_DIR/$bin" $args
  done < <(services_spec)
}

services_wait() {
  local name port bin args rc=0
  while read -r name port bin args; do
    [ -n "$name" ] || continue
    wait_until "$name" 60 service_healthy "$port" || rc=1
  done < <(services_spec)
  return $rc
}

services_stop() {
  local name port bin args
  while read -r name port bin args; do
    [ -n "$name" ] && stop_pid "$name" 30
  done < <(services_spec)
}
