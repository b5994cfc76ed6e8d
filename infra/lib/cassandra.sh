# shellcheck shell=bash
# Apache Cassandra 5.0: the local stand-in for ScyllaDB (same CQL native protocol, which
# the Rust `scylla` driver speaks). Runs from the jars Maven resolves for
# infra/maven/cassandra/pom.xml, on the machine's Java 17, as a single node bound to
# 127.0.0.1, or (CASSANDRA_NODES=3, the replicated topology) as nodes on 127.0.0.1,
# 127.0.0.2, ... (Linux routes all of 127.0.0.0/8 to the loopback interface, so each
# node gets its own address with the same ports). See common.sh for the contract these
# functions follow.
#
# Environment:
#   CQL_NODES               host:port[,host:port...] of an external cluster: nothing is
#                           started or stopped, health/describe look at its first node
#   CQL_PORT                CQL native port (default 9042)
#   CASSANDRA_STORAGE_PORT  inter-node port, bound on 127.0.0.1 only (default 7000)
#   CASSANDRA_JMX_PORT      JMX port for nodetool, 127.0.0.1 only, no auth (default 7199)
#   CASSANDRA_HEAP_MIN/MAX  JVM heap (default 1g / 2g)
#   CASSANDRA_CLUSTER_NAME  cluster_name (default chat-dev); fixed once data exists
#   CASSANDRA_NUM_TOKENS    num_tokens (default 1); fixed once data exists
#   CASSANDRA_NODES         how many nodes (default 1); node i is 127.0.0.i, named
#                           cassandra-i (pid file, log, state), JMX port 7199 + 100*(i-1)

CASSANDRA_LIB="$DIST_DIR/cassandra-lib"
CASSANDRA_CONF_SRC="$INFRA_DIR/config/cassandra"
CASSANDRA_NODES="${CASSANDRA_NODES:-1}"

# _cassandra_node I: select node I: CASSANDRA_NAME, CASSANDRA_ADDRESS, CASSANDRA_DIR and
# its JMX port.
_cassandra_node() {
  local i="$1"
  if [ "$CASSANDRA_NODES" -eq 1 ]; then CASSANDRA_NAME=cassandra; else CASSANDRA_NAME="cassandra-$i"; fi
  CASSANDRA_INDEX="$i"
  CASSANDRA_ADDRESS="127.0.0.$i"
  CASSANDRA_DIR="$STATE_DIR/$CASSANDRA_NAME"
  CASSANDRA_NODE_JMX_PORT=$((${CASSANDRA_JMX_PORT:-7199} + 100 * (i - 1)))
}
_cassandra_node 1

# cassandra_node_names -> the pid-file names of the nodes, one a line.
cassandra_node_names() {
  local i
  for ((i = 1; i <= CASSANDRA_NODES; i++)); do (_cassandra_node "$i"; echo "$CASSANDRA_NAME"); done
}

# cassandra_contact_points -> host:port of every node (what CQL_NODES would say).
cassandra_contact_points() {
  local i out=""
  for ((i = 1; i <= CASSANDRA_NODES; i++)); do out="${out:+$out,}127.0.0.$i:$(_cassandra_port)"; done
  echo "$out"
}

_cassandra_port() { echo "${CQL_PORT:-9042}"; }

# host and port of the node to talk to: ours, or the first of CQL_NODES.
_cassandra_target() {
  if cassandra_external; then
    local first="${CQL_NODES%%,*}"
    first="${first// /}"
    case "$first" in
      \[*\]:*) echo "${first%:*}" "${first##*:}" ;; # [v6]:port
      *:*:*) echo "$first" 9042 ;;                  # bare IPv6
      *:*) echo "${first%:*}" "${first##*:}" ;;
      *) echo "$first" 9042 ;;
    esac
  else
    echo 127.0.0.1 "$(_cassandra_port)"
  fi
}

cassandra_external() { [ -n "${CQL_NODES:-}" ]; }

cassandra_install() {
  cassandra_external && return 0
  maven_fetch "$INFRA_DIR/maven/cassandra" "$CASSANDRA_LIB"
}

# _cassandra_query_version HOST PORT: speaks CQL native protocol v4 over bash's
# /dev/tcp (no client to install): STARTUP, then QUERY
# "SELECT release_version FROM system.local", and prints the version from the ROWS
# result. A real request served by the storage engine, not just an open port; every
# read is bounded by `timeout`, so a wedged server cannot hang the caller.
# Frame header (9 bytes): version 0x04 (0x84 in replies), flags, stream (2 bytes),
# opcode, body length (4 bytes). Opcodes: STARTUP 0x01, READY 0x02, QUERY 0x07,
# RESULT 0x08, ERROR 0x00.
_cassandra_query_version() {
  local host="$1" port="$2"
  (
    exec 3<>"/dev/tcp/$host/$port" || exit 1
    # read_frame: reads one reply frame from fd 3 into $opcode and $body (printable
    # characters only)
    read_frame() {
      local h len
      # shellcheck disable=SC2207
      h=($(timeout 5 head -c 9 <&3 | od -An -tu1))
      [ "${#h[@]}" -eq 9 ] && [ "${h[0]}" -eq 132 ] || return 1
      opcode=${h[4]}
      len=$(((h[5] << 24) | (h[6] << 16) | (h[7] << 8) | h[8]))
      body=""
      [ "$len" -eq 0 ] || body=$(timeout 5 head -c "$len" <&3 | tr -c '[:print:]' ' ')
    }
    # STARTUP {"CQL_VERSION": "3.0.0"}: body 22 bytes (0x16)
    printf '\x04\x00\x00\x01\x01\x00\x00\x00\x16\x00\x01\x00\x0bCQL_VERSION\x00\x053.0.0' >&3
    read_frame && [ "$opcode" -eq 2 ] || exit 1
    # QUERY: [long string][consistency ONE = 0x0001][flags 0x00]
    q="SELECT release_version FROM system.local"
    printf -v hdr '\\x04\\x00\\x00\\x02\\x07\\x00\\x00\\x00\\x%02x' $((${#q} + 7))
    printf -v ql '\\x00\\x00\\x00\\x%02x' "${#q}"
    # shellcheck disable=SC2059
    printf "$hdr$ql%s\\x00\\x01\\x00" "$q" >&3
    read_frame && [ "$opcode" -eq 8 ] || exit 1
    grep -oE '[0-9]+\.[0-9]+\.[0-9]+[^ ]*' <<<"$body" | tail -n 1 | grep .
  ) 2>/dev/null
}

cassandra_healthy() {
  if cassandra_external; then
    local target
    read -r -a target <<<"$(_cassandra_target)"
    _cassandra_query_version "${target[0]}" "${target[1]}" >/dev/null
    return
  fi
  local i
  for ((i = 1; i <= CASSANDRA_NODES; i++)); do
    _cassandra_query_version "127.0.0.$i" "$(_cassandra_port)" >/dev/null || return 1
  done
}

# The JVM command line. Flags follow upstream conf/jvm-server.options and
# conf/jvm17-server.options of the cassandra-5.0 branch, minus what does not suit a
# small dev box (see the comments), plus what cassandra-env.sh / bin/cassandra add.
_cassandra_jvm_args() {
  local jamm
  jamm=$(compgen -G "$CASSANDRA_LIB/jamm-*.jar" | head -n 1)
  local a=(
    "-Xms${CASSANDRA_HEAP_MIN:-1g}" "-Xmx${CASSANDRA_HEAP_MAX:-2g}" -Xss256k
    # G1 as upstream, but not -XX:+AlwaysPreTouch (slower start, whole heap resident
    # at once) nor -XX:G1HeapRegionSize=16m (too coarse for a 1-2 GiB heap).
    -XX:+UseG1GC -XX:+ParallelRefProcEnabled -XX:MaxTenuringThreshold=1
    -XX:G1RSetUpdatingPauseTimePercent=5 -XX:MaxGCPauseMillis=300
    -XX:InitiatingHeapOccupancyPercent=70
    -XX:+UseThreadPriorities -XX:+UseTLAB -XX:+ResizeTLAB -XX:+PerfDisableSharedMem
    # no 2 GiB heap dumps in a dev box: die and let `infra/dev` restart it
    -XX:+ExitOnOutOfMemoryError
    -ea -da:net.openhft...
    -Djava.net.preferIPv4Stack=true
    # JPMS: what Cassandra's internals need on Java 17 (jvm17-server.options)
    -Djdk.attach.allowAttachSelf=true
    --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
    --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
    --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED
    --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
    --add-exports java.sql/java.sql=ALL-UNNAMED
    --add-exports java.base/java.lang.ref=ALL-UNNAMED
    --add-exports jdk.unsupported/sun.misc=ALL-UNNAMED
    --add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED
    --add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED
    --add-opens java.base/java.lang.module=ALL-UNNAMED
    --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
    --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
    --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
    --add-opens java.base/jdk.internal.math=ALL-UNNAMED
    --add-opens java.base/jdk.internal.module=ALL-UNNAMED
    --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
    --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
    --add-opens java.base/sun.nio.ch=ALL-UNNAMED
    --add-opens java.base/java.io=ALL-UNNAMED
    --add-opens java.base/java.lang.reflect=ALL-UNNAMED
    --add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED
    --add-opens java.base/java.lang=ALL-UNNAMED
    --add-opens java.base/java.util=ALL-UNNAMED
    -Dio.netty.tryReflectionSetAccessible=true
    -Dio.netty.allocator.useCacheForAllThreads=true
    -Dio.netty.allocator.maxOrder=11
  )
  # jamm measures on-heap object sizes (memtable accounting), as cassandra-env.sh does
  [ -n "$jamm" ] && a+=("-javaagent:$jamm")
  a+=(
    "-Dcassandra.config=file://$CASSANDRA_DIR/conf/cassandra.yaml"
    -Dcassandra-foreground=yes
    "-Dcassandra.storagedir=$CASSANDRA_DIR"
    "-Dcassandra.logdir=$CASSANDRA_DIR/logs"
    "-Dlogback.configurationFile=file://$CASSANDRA_CONF_SRC/logback.xml"
    # JMX for nodetool: Cassandra's own local-only server (LOCAL_JMX=yes in
    # cassandra-env.sh): bound to loopback, no authentication.
    "-Dcassandra.jmx.local.port=$CASSANDRA_NODE_JMX_PORT"
    -Djava.rmi.server.hostname=127.0.0.1
    "-Dcassandra.triggers_dir=$CASSANDRA_DIR/triggers"
    # Single node, nobody to talk to: skip the wait for gossip to settle at start-up
    # (about 10 s) and the 2 s shutdown announcement at stop.
    -Dcassandra.skip_wait_for_gossip_to_settle=0
    -Dcassandra.shutdown_announce_in_ms=0
  )
  # Several nodes: a shorter ring delay (30 s by default) for nodes joining a cluster
  # that holds no data yet (see _cassandra_render_config).
  [ "$CASSANDRA_NODES" -gt 1 ] && a+=(-Dcassandra.ring_delay_ms=5000)
  a+=(
    -cp "$CASSANDRA_LIB/*"
    org.apache.cassandra.service.CassandraDaemon
  )
  printf '%s\n' "${a[@]}"
}

_cassandra_render_config() {
  tls_ensure "$TLS_DIR"
  mkdir -p "$CASSANDRA_DIR"/{conf,data,commitlog,hints,saved_caches,cdc_raw,logs,triggers}
  local cluster="${CASSANDRA_CLUSTER_NAME:-chat-dev}"
  sed -e "s|@DIR@|$CASSANDRA_DIR|g" \
      -e "s|@CLUSTER_NAME@|${cluster//|/}|g" \
      -e "s|@NUM_TOKENS@|${CASSANDRA_NUM_TOKENS:-1}|g" \
      -e "s|@CQL_PORT@|$(_cassandra_port)|g" \
      -e "s|@STORAGE_PORT@|${CASSANDRA_STORAGE_PORT:-7000}|g" \
      -e "s|@ADDRESS@|$CASSANDRA_ADDRESS|g" \
      -e "s|@TLS_DIR@|$TLS_DIR|g" \
      -e "s|@HINTS@|$([ "$CASSANDRA_NODES" -gt 1 ] && echo true || echo false)|g" \
      "$CASSANDRA_CONF_SRC/cassandra.yaml.in" >"$CASSANDRA_DIR/conf/cassandra.yaml.new"
  if [ "$CASSANDRA_NODES" -gt 1 ]; then
    # A new cluster with no data: each node takes an evenly spaced token of the
    # Murmur3 ring itself instead of bootstrapping (streaming nothing, one at a time,
    # minutes each), so the nodes can join together.
    local token
    token=$(awk -v i="$CASSANDRA_INDEX" -v n="$CASSANDRA_NODES" \
      'BEGIN { printf "%.0f", -9223372036854775808 + (i - 1) * (18446744073709551616 / n) }')
    printf 'auto_bootstrap: false\ninitial_token: %s\n' "$token" >>"$CASSANDRA_DIR/conf/cassandra.yaml.new"
  fi
  mv "$CASSANDRA_DIR/conf/cassandra.yaml.new" "$CASSANDRA_DIR/conf/cassandra.yaml"
}

# Launches the first node, and the others once the first answers (they find the cluster
# through it, the seed): `cassandra_wait` calls this again when the first is up.
cassandra_start() {
  cassandra_external && return 0
  local i
  (_cassandra_node 1 && _cassandra_node_start) || return 1
  _cassandra_query_version 127.0.0.1 "$(_cassandra_port)" >/dev/null || return 0
  for ((i = 2; i <= CASSANDRA_NODES; i++)); do (_cassandra_node "$i" && _cassandra_node_start) || return 1; done
}

_cassandra_node_start() {
  _cassandra_query_version "$CASSANDRA_ADDRESS" "$(_cassandra_port)" >/dev/null && return 0
  if pid_of "$CASSANDRA_NAME" >/dev/null; then return 0; fi # still starting up
  port_open "$CASSANDRA_ADDRESS" "$(_cassandra_port)" &&
    die "port $CASSANDRA_ADDRESS:$(_cassandra_port) is taken by something that does not answer CQL (set CQL_PORT?)"
  cassandra_install # cheap when done: maven_fetch compares the pom's checksum
  _cassandra_render_config
  local args launcher=()
  mapfile -t args < <(_cassandra_jvm_args)
  # Cassandra mlockall()s its memory at start-up. As root that always succeeds and
  # faults in and pins the whole committed heap: RSS ~1.5 GiB instead of ~0.6 GiB and a
  # slower start. Nothing to gain on a swapless dev box, so cap RLIMIT_MEMLOCK (and, as
  # root, drop CAP_IPC_LOCK, which ignores it): mlockall then fails with one WARN line,
  # as for any ordinary user. Both tools exec, so the pid file still names the JVM.
  # CASSANDRA_MLOCK=1 keeps the upstream behaviour.
  if [ "${CASSANDRA_MLOCK:-0}" != 1 ] && command -v prlimit >/dev/null; then
    if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
      launcher=(setpriv --bounding-set=-ipc_lock --inh-caps=-ipc_lock --)
    fi
    launcher+=(prlimit --memlock=65536 --)
  fi
  log "starting $CASSANDRA_NAME on $CASSANDRA_ADDRESS:$(_cassandra_port) (log: $LOG_DIR/$CASSANDRA_NAME.log)"
  # cwd = its state dir, so anything the JVM drops (hs_err files) lands there
  (cd "$CASSANDRA_DIR" && start_bg "$CASSANDRA_NAME" "${launcher[@]}" "$JAVA_BIN" "${args[@]}")
}

# Start-up takes 10-15 s a node here (2 cores), first start included; the limit is
# generous for slower or busier machines.
cassandra_wait() {
  if cassandra_external; then
    cassandra_healthy || { warn "no CQL answer from $CQL_NODES"; return 1; }
    return 0
  fi
  local i
  (_cassandra_node 1 && wait_until "$CASSANDRA_NAME" "${CASSANDRA_WAIT_SECS:-240}" \
    _cassandra_query_version 127.0.0.1 "$(_cassandra_port)") || return 1
  [ "$CASSANDRA_NODES" -gt 1 ] || return 0
  cassandra_start || return 1
  for ((i = 2; i <= CASSANDRA_NODES; i++)); do
    (_cassandra_node "$i" && wait_until "$CASSANDRA_NAME" "${CASSANDRA_WAIT_SECS:-240}" \
      _cassandra_query_version "$CASSANDRA_ADDRESS" "$(_cassandra_port)") || return 1
  done
}

# SIGTERM makes Cassandra drain (flush memtables, close the commit log) before exiting.
cassandra_stop() {
  cassandra_external && return 0
  local n
  for n in $(cassandra_node_names); do stop_pid "$n" "${CASSANDRA_STOP_SECS:-60}" & done
  wait
}

_cassandra_pom_version() {
  sed -n 's|.*<cassandra.version>\(.*\)</cassandra.version>.*|\1|p' "$INFRA_DIR/maven/cassandra/pom.xml"
}

cassandra_describe() {
  local target version
  read -r -a target <<<"$(_cassandra_target)"
  if cassandra_external; then
    version=$(_cassandra_query_version "${target[0]}" "${target[1]}") || version="not answering"
    echo "cassandra  $CQL_NODES (external CQL; release_version $version)"
  else
    version=$(_cassandra_query_version "${target[0]}" "${target[1]}") ||
      version="$(_cassandra_pom_version), not answering"
    if [ "$CASSANDRA_NODES" -eq 1 ]; then
      echo "cassandra  127.0.0.1:$(_cassandra_port) (CQL; Apache Cassandra $version)"
    else
      echo "cassandra  $(cassandra_contact_points) (CQL; Apache Cassandra $version, $CASSANDRA_NODES nodes)"
    fi
  fi
}

# cassandra_cql [STATEMENT...]: runs CQL statements (one an argument, or from stdin
# with each ending in ';' at the end of a line) against our node or the first of
# CQL_NODES, printing rows as `a | b`. No cqlsh (Python): infra/lib/cassandra/Cql.java
# drives the Java driver that cassandra-all ships, compiled once into
# $STATE_DIR/cassandra/tools. One JVM start per call (a few seconds): for set-up and
# checks, not for loops.
cassandra_cql() {
  local target src="$INFRA_DIR/lib/cassandra/Cql.java" classes="$CASSANDRA_DIR/tools"
  read -r -a target <<<"$(_cassandra_target)"
  maven_fetch "$INFRA_DIR/maven/cassandra" "$CASSANDRA_LIB" || return 1
  if [ ! -f "$classes/Cql.class" ] || [ "$src" -nt "$classes/Cql.class" ]; then
    command -v javac >/dev/null || die "javac is missing (apt-get install openjdk-17-jdk-headless)"
    mkdir -p "$classes"
    javac -nowarn -d "$classes" -cp "$CASSANDRA_LIB/*" "$src" || return 1
  fi
  "$JAVA_BIN" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    -cp "$CASSANDRA_LIB/*:$classes" Cql "${target[0]}" "${target[1]}" "$@"
}
