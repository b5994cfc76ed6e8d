# shellcheck shell=bash
# The platform's own long-running services, run from release builds in the background.
# Sourced after common.sh and the component files.
#
# services_spec prints one line per service instance: NAME PORT BINARY [ARGS...]. It is
# the single list `infra/dev up/down/status` work from; a service that lands in the
# workspace adds its line here.

CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
# The binaries `up` runs: release builds, or CHAT_BIN_DIR (the test suite's fault runs use
# the debug builds it has just made).
RELEASE_DIR="${CHAT_BIN_DIR:-$CARGO_TARGET_DIR/release}"

# GATEWAYS=N runs N gateways side by side: 8080, then 8082, 8083, ... (8081 is the
# schema registry's). Each has its own port, gateway id and ops port (/readyz and
# /metrics, on 127.0.0.1 only): 9180 for the first, 9181 for the second, ...
GATEWAYS="${GATEWAYS:-1}"
GATEWAY_PORT="${GATEWAY_PORT:-8080}"
GATEWAY_OPS_PORT="${GATEWAY_OPS_PORT:-9180}"

# gateway_ops_port I: the ops port of gateway-I.
gateway_ops_port() { echo $((GATEWAY_OPS_PORT + $1 - 1)); }

services_spec() {
  local i port
  for ((i = 1; i <= GATEWAYS; i++)); do
    if [ "$i" -eq 1 ]; then port=$GATEWAY_PORT; else port=$((GATEWAY_PORT + i)); fi
    echo "gateway-$i $port chat-gateway --port $port --ops-port $(gateway_ops_port "$i") --gateway-id gw-$i"
  done
  # Projector roles: one process per role (each its own consumer group); PORT serves
  # /healthz, /readyz and /metrics.
  echo "projector-history 9101 chat-projector --role history --port 9101"
  echo "projector-fanout 9102 chat-projector --role fanout --port 9102"
  echo "projector-presence 9103 chat-projector --role presence --port 9103"
  echo "projector-notifications 9104 chat-projector --role notifications --port 9104"
  # Search: its index under the state directory (search.dir), queried by the gateways
  # on 9110 (the gateways' default search_urls).
  echo "projector-search 9106 chat-projector --role search --port 9106"
  # The webhook sink runs when there is somewhere to send to: CHAT__WEBHOOK__URL (and
  # its signing key, CHAT__WEBHOOK__SECRET) in the environment of `infra/dev up`, which
  # every service inherits (README: Notifications).
  if [ -n "${CHAT__WEBHOOK__URL:-}" ]; then
    echo "projector-webhook 9105 chat-projector --role webhook --port 9105"
  fi
}

# The HS256 secret all gateways share, made once per state directory (never printed).
jwt_secret() {
  local f="$STATE_DIR/secrets/jwt_secret"
  if [ ! -s "$f" ]; then
    mkdir -p "$STATE_DIR/secrets" && chmod 700 "$STATE_DIR/secrets"
    (umask 077 && head -c 48 /dev/urandom | base64 | tr -d '\n/+=' >"$f")
  fi
  cat "$f"
}

# with_platform_env CMD...: run CMD with the variables every service and test reads,
# pointing at the servers infra/dev manages (or the external ones the caller named).
platform_env_args() {
  if [ -n "${CHAT_KAFKA_SASL:-}" ] && ! kafka_external; then
    # The replicated topology: every Kafka client (services, chatctl) on SASL_SSL.
    printf '%s\n' \
      "KAFKA_BROKERS=$(kafka_sasl_bootstrap)" \
      "CHAT__KAFKA__SECURITY_PROTOCOL=sasl_ssl" \
      "CHAT__KAFKA__SASL__MECHANISM=$KAFKA_SASL_MECHANISM" \
      "CHAT__KAFKA__SASL__USERNAME=$KAFKA_SASL_USER" \
      "CHAT__KAFKA__SASL__PASSWORD=$(tls_secret kafka)" \
      "CHAT__KAFKA__TLS__CA_PATH=$TLS_DIR/ca.crt"
  else
    printf '%s\n' "KAFKA_BROKERS=$(kafka_bootstrap)"
  fi
  if [ -n "${CHAT_GATEWAY_TLS:-}" ]; then
    printf '%s\n' \
      "CHAT__GATEWAY__TLS__CERT_PATH=$TLS_DIR/server.crt" \
      "CHAT__GATEWAY__TLS__KEY_PATH=$TLS_DIR/server.key"
  fi
  printf '%s\n' \
    "CQL_NODES=${CQL_NODES:-$(cassandra_contact_points)}" \
    "REDIS_URL=${REDIS_URL:-redis://127.0.0.1:$REDIS_PORT}" \
    "SCHEMA_REGISTRY_URL=$REGISTRY_URL" \
    "CHAT__SEARCH__DIR=$STATE_DIR/search" \
    "CHAT_ANALYTICS_PYTHON=$ANALYTICS_PYTHON"
  # The attachments' object store (objects.sh): S3_* for tests and tools, and the
  # gateway's own settings, CHAT__GATEWAY__ATTACHMENTS__* (endpoint, bucket, region and the key
  # it presigns URLs with).
  objects_env
  # The KMS that wraps the per-user data keys (kms.sh): KMS_ENDPOINT, KMS_KEY_ID and
  # KMS_REGION, for chat_core::sealing::kms::AwsKmsKek and its tests.
  kms_env
  # The same servers with TLS and credentials (tls.sh), under names of their own so the
  # plaintext users above are unchanged: what tests and manual runs with TLS use.
  if ! kafka_external && ! redis_external && ! cassandra_external; then
    printf '%s\n' \
      "CHAT_TLS_DIR=$TLS_DIR" \
      "CHAT_TLS_CA=$TLS_DIR/ca.crt" \
      "KAFKA_SASL_BROKERS=$(kafka_sasl_bootstrap)" \
      "KAFKA_SASL_MECHANISM=$KAFKA_SASL_MECHANISM" \
      "KAFKA_SASL_USERNAME=$KAFKA_SASL_USER" \
      "KAFKA_SASL_PASSWORD=$(tls_secret kafka)"
    [ -n "$REDIS_SENTINEL" ] || printf '%s\n' \
      "REDIS_TLS_URL=rediss://$REDIS_TLS_USER:$(tls_secret redis)@127.0.0.1:$REDIS_TLS_PORT"
  fi
}
# Exported in a subshell rather than given to `env` as arguments: the variables hold
# passwords (the TLS endpoints' credentials), and a command line is readable by every
# local user in /proc/PID/cmdline.
with_platform_env() {
  (
    local v
    while read -r v; do export "${v?}"; done < <(platform_env_args)
    "$@"
  )
}

services_build() {
  command -v cargo >/dev/null || die "cargo is missing: install Rust (rustup) first"
  # The browser client first (seconds): the gateways serve its dist/ at /.
  web_build
  # Binaries given (CHAT_BIN_DIR, e.g. the debug builds of a test run): nothing to build.
  if [ -n "${CHAT_BIN_DIR:-}" ]; then
    [ -x "$RELEASE_DIR/chat-gateway" ] || die "CHAT_BIN_DIR=$CHAT_BIN_DIR holds no chat-gateway"
    log "using the binaries in $RELEASE_DIR (CHAT_BIN_DIR)"
    return 0
  fi
  log "building release binaries (cargo build --release; the first build takes several minutes on 2 cores)"
  (cd "$REPO_ROOT" && cargo build --release --locked --bins -q) || die "cargo build --release failed"
}

service_healthy() { # PORT
  curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$1/healthz" ||
    { [ -n "${CHAT_GATEWAY_TLS:-}" ] &&
      curl -sf -o /dev/null --max-time 2 --cacert "$TLS_DIR/ca.crt" "https://127.0.0.1:$1/healthz"; }
}

services_start() {
  local name port bin args
  while read -r name port bin args; do
    [ -n "$name" ] || continue
    if service_healthy "$port"; then continue; fi
    pid_of "$name" >/dev/null && continue
    # In a subshell, so the raised open-files limit and the variables apply to this
    # service only. The variables are exported, not passed as `env NAME=value`
    # arguments: a secret on a command line is readable by every local user in
    # /proc/PID/cmdline and `ps`.
    # shellcheck disable=SC2086 # args is a word list by design
    (
      local v
      while read -r v; do export "${v?}"; done < <(platform_env_args)
      export CHAT__GATEWAY__JWT_SECRET="${CHAT__GATEWAY__JWT_SECRET:-$(jwt_secret)}"
      export CHAT__GATEWAY__WEB_DIR="${CHAT__GATEWAY__WEB_DIR:-$WEB_DIST}"
      raise_nofile && start_bg "$name" "$RELEASE_DIR/$bin" $args
    )
  done < <(services_spec)
}

# Every WebSocket is a file descriptor: lift the open-files limit so one gateway can hold
# 50,000+ sockets (login shells often have 1,024). Root may raise the hard limit up to
# fs.nr_open; anyone else gets the soft limit raised to the hard one.
raise_nofile() {
  ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
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
