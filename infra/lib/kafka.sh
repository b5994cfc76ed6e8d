# shellcheck shell=bash
# Kafka for development: one KRaft process (broker + controller), jars from Maven Central
# (infra/maven/kafka/pom.xml), run on the machine's Java 17. Follows the contract described in
# common.sh (source that first).
#
#   KAFKA_BROKERS          when set, a Kafka we must not start or stop (host:port[,host:port...])
#   KAFKA_PORT             PLAINTEXT listener on 127.0.0.1 (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller listener on 127.0.0.1 (default 9093)
#   KAFKA_HEAP_OPTS        JVM heap flags (default -Xms512m -Xmx1g)
#
# State: $STATE_DIR/kafka/{server.properties,cluster.id,data/}, log: $LOG_DIR/kafka.log.

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_STATE="$STATE_DIR/kafka"
KAFKA_LIB="$DIST_DIR/kafka-lib"
KAFKA_CONF_DIR="$INFRA_DIR/config/kafka"

kafka_external() { [ -n "${KAFKA_BROKERS:-}" ]; }

# kafka_bootstrap -> host:port clients should use (the first of $KAFKA_BROKERS when external).
kafka_bootstrap() {
  if kafka_external; then echo "${KAFKA_BROKERS%%,*}"; else echo "127.0.0.1:$KAFKA_PORT"; fi
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
  local hp host port reply
  hp=$(kafka_bootstrap); host="${hp%:*}"; port="${hp##*:}"
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
  sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" \
      -e "s|@KAFKA_CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
      -e "s|@KAFKA_DATA_DIR@|$KAFKA_STATE/data|g" \
      "$KAFKA_CONF_DIR/server.properties.in" >"$KAFKA_STATE/server.properties.tmp" &&
    mv "$KAFKA_STATE/server.properties.tmp" "$KAFKA_STATE/server.properties"
}

# Format the data directory once. The cluster id is kept in cluster.id so a wiped data dir
# comes back with the same id. Kafka ids are 16 random bytes in unpadded url-safe base64;
# one starting with '-' would read as a command-line flag, so draw again.
_kafka_format() {
  [ -f "$KAFKA_STATE/data/meta.properties" ] && return 0
  local id=""
  [ -s "$KAFKA_STATE/cluster.id" ] && id=$(cat "$KAFKA_STATE/cluster.id")
  while [ -z "$id" ] || [ "${id:0:1}" = "-" ]; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  done
  echo "$id" >"$KAFKA_STATE/cluster.id"
  log "formatting Kafka storage (cluster id $id)"
  kafka_admin kafka.tools.StorageTool format --config "$KAFKA_STATE/server.properties" \
    --cluster-id "$id" >>"$LOG_DIR/kafka.log" 2>&1 ||
    { tail -n 20 "$LOG_DIR/kafka.log" >&2; die "kafka storage format failed"; }
}

kafka_start() {
  kafka_external && return 0
  if kafka_healthy; then log "kafka already running on $(kafka_bootstrap)"; return 0; fi
  if pid_of kafka >/dev/null; then log "kafka already starting (pid $(pid_of kafka))"; return 0; fi
  port_open 127.0.0.1 "$KAFKA_PORT" && die "port $KAFKA_PORT is taken by something that is not Kafka"
  port_open 127.0.0.1 "$KAFKA_CONTROLLER_PORT" && die "port $KAFKA_CONTROLLER_PORT (Kafka controller) is taken"
  kafka_install || return 1
  _kafka_render_config || die "cannot write $KAFKA_STATE/server.properties"
  _kafka_format
  log "starting kafka on 127.0.0.1:$KAFKA_PORT"
  # JVM flags as in Kafka's own kafka-server-start.sh / kafka-run-class.sh.
  # shellcheck disable=SC2086
  start_bg kafka "$JAVA_BIN" ${KAFKA_HEAP_OPTS:--Xms512m -Xmx1g} \
    -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_CONF_DIR/log4j2.xml" \
    -Dkafka.logs.dir="$LOG_DIR" \
    -cp "$KAFKA_LIB/*" kafka.Kafka "$KAFKA_STATE/server.properties"
}

kafka_wait() { wait_until kafka 120 kafka_healthy; }

# Kafka shuts down cleanly on SIGTERM (flushes logs, writes clean-shutdown markers, which makes
# the next start skip log recovery); give it time before common.sh falls back to SIGKILL.
kafka_stop() { kafka_external || stop_pid kafka 60; }

kafka_describe() {
  if kafka_external; then
    printf '%-10s %s (external)\n' kafka "$KAFKA_BROKERS"
  else
    printf '%-10s %s (KRaft, single node)\n' kafka "127.0.0.1:$KAFKA_PORT"
  fi
}
