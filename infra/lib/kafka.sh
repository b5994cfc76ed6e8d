# shellcheck shell=bash
# Kafka for development: KRaft processes (each broker + controller), jars from Maven
# Central (infra/maven/kafka/pom.xml), run on the machine's Java 17. One node by default;
# the replicated topology (infra/lib/topology.sh) runs three. Follows the contract
# described in common.sh (source that first).
#
#   KAFKA_BROKERS          when set, a Kafka we must not start or stop (host:port[,host:port...])
#   KAFKA_NODES            how many nodes (default 1). Node i listens on KAFKA_PORT + 100*(i-1)
#   KAFKA_PORT             PLAINTEXT listener of node 1 on 127.0.0.1 (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller listener of node 1 (default 9093)
#   KAFKA_SASL_PORT        SASL_SSL listener of node 1 (default 9094): TLS with the dev
#                          certificate (tls.sh), SCRAM-SHA-512 user `chat` whose password
#                          is $STATE_DIR/tls/kafka.secret
#   KAFKA_RF, KAFKA_MIN_ISR  replication of internal topics and the default for new ones,
#                          and min.insync.replicas (default 1 and 1)
#   KAFKA_HEAP_OPTS        JVM heap flags (default -Xms512m -Xmx1g)
#
# State: $STATE_DIR/kafka/{server.properties,cluster.id,data/} and log $LOG_DIR/kafka.log
# for a single node; kafka-1, kafka-2, ... (names, directories, logs) for several.

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_SASL_PORT="${KAFKA_SASL_PORT:-9094}"
KAFKA_SASL_USER=chat
KAFKA_SASL_MECHANISM=SCRAM-SHA-512
KAFKA_NODES="${KAFKA_NODES:-1}"
KAFKA_LIB="$DIST_DIR/kafka-lib"
KAFKA_CONF_DIR="$INFRA_DIR/config/kafka"

kafka_external() { [ -n "${KAFKA_BROKERS:-}" ]; }

# _kafka_node I: select node I (1-based): KAFKA_NAME (pid file and log), its id, ports
# and state directory.
_kafka_node() {
  local i="$1"
  if [ "$KAFKA_NODES" -eq 1 ]; then KAFKA_NAME=kafka; else KAFKA_NAME="kafka-$i"; fi
  KAFKA_NODE_ID="$i"
  KAFKA_NODE_PORT=$((KAFKA_PORT + 100 * (i - 1)))
  KAFKA_NODE_CONTROLLER_PORT=$((KAFKA_CONTROLLER_PORT + 100 * (i - 1)))
  KAFKA_NODE_SASL_PORT=$((KAFKA_SASL_PORT + 100 * (i - 1)))
  KAFKA_STATE="$STATE_DIR/$KAFKA_NAME"
}
_kafka_node 1

# kafka_node_names -> the pid-file names of the nodes, one a line.
kafka_node_names() {
  local i
  for ((i = 1; i <= KAFKA_NODES; i++)); do (_kafka_node "$i"; echo "$KAFKA_NAME"); done
}

# kafka_bootstrap -> host:port list clients should use ($KAFKA_BROKERS when external).
kafka_bootstrap() {
  if kafka_external; then echo "$KAFKA_BROKERS"; return; fi
  local i out=""
  for ((i = 1; i <= KAFKA_NODES; i++)); do
    out="${out:+$out,}127.0.0.1:$((KAFKA_PORT + 100 * (i - 1)))"
  done
  echo "$out"
}

# kafka_sasl_bootstrap -> host:port list of the SASL_SSL listeners (local nodes only).
kafka_sasl_bootstrap() {
  local i out=""
  for ((i = 1; i <= KAFKA_NODES; i++)); do
    out="${out:+$out,}127.0.0.1:$((KAFKA_SASL_PORT + 100 * (i - 1)))"
  done
  echo "$out"
}

kafka_install() { maven_fetch "$INFRA_DIR/maven/kafka" "$KAFKA_LIB"; }

# Health: one real Kafka request, sent from bash over /dev/tcp, no JVM (a tool class from
# the classpath costs 2-4 s of JVM start per probe, and wait_until polls every second).
# The request is ApiVersions v0 (api key 18), which every broker must answer whatever its
# version (clients send it first on each connection); a KRaft broker only opens its PLAINTEXT
# listener once it has caught up with the metadata log and been unfenced by the controller,
# so a well-formed answer means it serves clients. Frame: int32 size 12, int16 api_key 18,
# int16 version 0, int32 correlation id 0x0000c4a7, string client id "hc"; the answer must
# start with int32 size, the same correlation id and int16 error_code 0.
kafka_healthy() {
  local hp
  if kafka_external; then _kafka_answers "${KAFKA_BROKERS%%,*}"; return; fi
  for hp in $(kafka_bootstrap | tr ',' ' '); do _kafka_answers "$hp" || return 1; done
}

_kafka_answers() { # HOST:PORT
  local hp="$1" host port reply
  host="${hp%:*}"; port="${hp##*:}"
  port_open "$host" "$port" || return 1
  # shellcheck disable=SC2016 # $1/$2 are expanded by the inner bash
  reply=$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    printf "\x00\x00\x00\x0c\x00\x12\x00\x00\x00\x00\xc4\xa7\x00\x02hc" >&3
    head -c 10 <&3 | od -An -tx1 | tr -d " \n"' _ "$host" "$port" 2>/dev/null) || return 1
  [ "${#reply}" -eq 20 ] && [ "${reply:8}" = "0000c4a70000" ]
}

# kafka_admin CLASS ARGS...: run one of Kafka's tool classes from the broker's classpath,
# e.g. `kafka_admin TopicCommand --bootstrap-server "$(kafka_bootstrap)" --list`.
# A CLASS without a package is taken from org.apache.kafka.tools (TopicCommand,
# ConsoleProducer, GroupsCommand, MetadataQuorumCommand...); others are given in full:
# org.apache.kafka.tools.consumer.ConsoleConsumer, kafka.admin.ConfigCommand, kafka.tools.StorageTool.
kafka_admin() {
  local cls="${1:?usage: kafka_admin CLASS ARGS...}"; shift
  [[ "$cls" == *.* ]] || cls="org.apache.kafka.tools.$cls"
  kafka_install || return 1
  "$JAVA_BIN" -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_CONF_DIR/tools-log4j2.xml" \
    -cp "$KAFKA_LIB/*" "$cls" "$@"
}

# Render the properties template with this run's ports and paths.
_kafka_render_config() {
  mkdir -p "$KAFKA_STATE/data"
  local voters="" i
  for ((i = 1; i <= KAFKA_NODES; i++)); do
    voters="${voters:+$voters,}$i@127.0.0.1:$((KAFKA_CONTROLLER_PORT + 100 * (i - 1)))"
  done
  sed -e "s|@KAFKA_PORT@|$KAFKA_NODE_PORT|g" \
      -e "s|@KAFKA_CONTROLLER_PORT@|$KAFKA_NODE_CONTROLLER_PORT|g" \
      -e "s|@KAFKA_SASL_PORT@|$KAFKA_NODE_SASL_PORT|g" \
      -e "s|@TLS_DIR@|$TLS_DIR|g" \
      -e "s|@KAFKA_NODE_ID@|$KAFKA_NODE_ID|g" \
      -e "s|@KAFKA_VOTERS@|$voters|g" \
      -e "s|@KAFKA_RF@|${KAFKA_RF:-1}|g" \
      -e "s|@KAFKA_MIN_ISR@|${KAFKA_MIN_ISR:-1}|g" \
      -e "s|@KAFKA_DATA_DIR@|$KAFKA_STATE/data|g" \
      "$KAFKA_CONF_DIR/server.properties.in" >"$KAFKA_STATE/server.properties.tmp" &&
    mv "$KAFKA_STATE/server.properties.tmp" "$KAFKA_STATE/server.properties"
}

# Format the data directory once. The cluster id is kept in cluster.id (of node 1, which
# every node shares) so a wiped data dir comes back with the same id. Kafka ids are 16 random bytes in unpadded url-safe base64;
# one starting with '-' would read as a command-line flag, so draw again.
_kafka_format() {
  [ -f "$KAFKA_STATE/data/meta.properties" ] && return 0
  local id="" id_file
  id_file="$(_kafka_node 1; echo "$KAFKA_STATE")/cluster.id"
  mkdir -p "$(dirname "$id_file")"
  [ -s "$id_file" ] && id=$(cat "$id_file")
  while [ -z "$id" ] || [ "${id:0:1}" = "-" ]; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  done
  echo "$id" >"$id_file"
  log "formatting Kafka storage of $KAFKA_NAME (cluster id $id)"
  # The SCRAM user of the SASL_SSL listener is in the first metadata records, so it
  # exists before any client can connect.
  kafka_admin kafka.tools.StorageTool format --config "$KAFKA_STATE/server.properties" \
    --cluster-id "$id" \
    --add-scram "$KAFKA_SASL_MECHANISM=[name=$KAFKA_SASL_USER,password=$(tls_secret kafka)]" \
    >>"$LOG_DIR/$KAFKA_NAME.log" 2>&1 ||
    { tail -n 20 "$LOG_DIR/$KAFKA_NAME.log" >&2; die "kafka storage format failed"; }
  touch "$KAFKA_STATE/scram-user"
}

# A data directory formatted before the SASL_SSL listener existed has no SCRAM user:
# add it once, through the PLAINTEXT listener (KRaft stores it in the metadata log).
_kafka_ensure_scram_user() {
  local marker
  marker="$(_kafka_node 1; echo "$KAFKA_STATE")/scram-user"
  [ -f "$marker" ] && return 0
  log "adding the SCRAM user $KAFKA_SASL_USER to Kafka"
  kafka_admin kafka.admin.ConfigCommand --bootstrap-server "$(kafka_bootstrap)" --alter \
    --add-config "$KAFKA_SASL_MECHANISM=[password=$(tls_secret kafka)]" \
    --entity-type users --entity-name "$KAFKA_SASL_USER" >>"$LOG_DIR/kafka-tools.log" 2>&1 ||
    { tail -n 20 "$LOG_DIR/kafka-tools.log" >&2; return 1; }
  touch "$marker"
}

kafka_start() {
  kafka_external && return 0
  local i
  for ((i = 1; i <= KAFKA_NODES; i++)); do (_kafka_node "$i" && _kafka_node_start) || return 1; done
}

_kafka_node_start() {
  if _kafka_answers "127.0.0.1:$KAFKA_NODE_PORT"; then log "$KAFKA_NAME already running on 127.0.0.1:$KAFKA_NODE_PORT"; return 0; fi
  if pid_of "$KAFKA_NAME" >/dev/null; then log "$KAFKA_NAME already starting (pid $(pid_of "$KAFKA_NAME"))"; return 0; fi
  port_open 127.0.0.1 "$KAFKA_NODE_PORT" && die "port $KAFKA_NODE_PORT is taken by something that is not Kafka"
  port_open 127.0.0.1 "$KAFKA_NODE_CONTROLLER_PORT" && die "port $KAFKA_NODE_CONTROLLER_PORT (Kafka controller) is taken"
  port_open 127.0.0.1 "$KAFKA_NODE_SASL_PORT" && die "port $KAFKA_NODE_SASL_PORT (Kafka SASL_SSL) is taken"
  tls_ensure "$TLS_DIR"
  kafka_install || return 1
  _kafka_render_config || die "cannot write $KAFKA_STATE/server.properties"
  _kafka_format
  log "starting $KAFKA_NAME on 127.0.0.1:$KAFKA_NODE_PORT"
  # JVM flags as in Kafka's own kafka-server-start.sh / kafka-run-class.sh.
  # shellcheck disable=SC2086
  start_bg "$KAFKA_NAME" "$JAVA_BIN" ${KAFKA_HEAP_OPTS:--Xms512m -Xmx1g} \
    -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_CONF_DIR/log4j2.xml" \
    -Dkafka.logs.dir="$LOG_DIR" \
    -cp "$KAFKA_LIB/*" kafka.Kafka "$KAFKA_STATE/server.properties"
}

# Every node answering (a quorum of KRaft controllers must be up for any to serve).
kafka_wait() {
  kafka_external && { wait_until kafka 120 kafka_healthy; return; }
  local i
  for ((i = 1; i <= KAFKA_NODES; i++)); do
    (_kafka_node "$i" && wait_until "$KAFKA_NAME" 120 _kafka_answers "127.0.0.1:$KAFKA_NODE_PORT") || return 1
  done
  _kafka_ensure_scram_user
}

# Kafka shuts down cleanly on SIGTERM (flushes logs, writes clean-shutdown markers, which makes
# the next start skip log recovery); give it time before common.sh falls back to SIGKILL.
# Nodes stop together: the last of a KRaft quorum to go cannot finish its controlled
# shutdown without the others, so one at a time would wait out each timeout.
kafka_stop() {
  kafka_external && return 0
  local n
  for n in $(kafka_node_names); do stop_pid "$n" 60 & done
  wait
}

kafka_describe() {
  if kafka_external; then
    printf '%-10s %s (external)\n' kafka "$KAFKA_BROKERS"
  else
    if [ "$KAFKA_NODES" -eq 1 ]; then
      printf '%-10s %s (KRaft, single node; SASL_SSL on %s)\n' kafka "127.0.0.1:$KAFKA_PORT" "$(kafka_sasl_bootstrap)"
    else
      printf '%-10s %s (KRaft, %s nodes, RF %s, min.insync.replicas %s; SASL_SSL on %s)\n' kafka "$(kafka_bootstrap)" \
        "$KAFKA_NODES" "${KAFKA_RF:-1}" "${KAFKA_MIN_ISR:-1}" "$(kafka_sasl_bootstrap)"
    fi
  fi
}
