# shellcheck shell=bash
# Which topology infra/dev runs. Sourced first (before common.sh), since it decides the
# state directory and the settings every component file reads when it is sourced.
#
#   single      (default; `infra/dev test` and CI) one process of each server and one
#               gateway, on the default ports
#   replicated  `infra/dev up --replicated`: what production looks like, on one machine
#               - Kafka: 3 KRaft nodes (each broker and controller) on 9092, 9192, 9292;
#                 replication factor 3, min.insync.replicas 2
#               - Cassandra: 3 nodes on 127.0.0.1, 127.0.0.2, 127.0.0.3 (port 9042 each);
#                 keyspace RF 3, services read and write at LOCAL_QUORUM
#               - Redis: a primary and a replica with 3 Sentinels; services reach the
#                 primary through HAProxy on 6379
#               - 2 gateways (8180, 8182) behind HAProxy on 8080 (GATEWAYS=N for more)
#               - the projector roles and the schema registry as in `single`
#               - TLS: HTTPS/WSS from clients to HAProxy and from HAProxy to the
#                 gateways, Kafka clients on SASL_SSL (the dev CA of lib/tls.sh)
#               Its state lives in .state/replicated, apart from the single topology's.
#
# The choice made by `up` is kept in .state/topology, so `down`, `status`, `logs` and
# `faults` act on the topology that is running; `down` forgets it.

REPO_ROOT="${REPO_ROOT:-$(cd "$INFRA_DIR/.." && pwd)}"
TOPOLOGY_ROOT="${CHAT_STATE_DIR:-$REPO_ROOT/.state}"
# A fault command run from the suite gets the replicated state directory itself.
if [ "$(basename "$TOPOLOGY_ROOT")" = replicated ]; then TOPOLOGY_ROOT="$(dirname "$TOPOLOGY_ROOT")"; fi
TOPOLOGY_FILE="$TOPOLOGY_ROOT/topology"
if [ -z "${CHAT_TOPOLOGY:-}" ]; then
  CHAT_TOPOLOGY=$(cat "$TOPOLOGY_FILE" 2>/dev/null || echo single)
fi
case "$CHAT_TOPOLOGY" in
  single) ;;
  replicated)
    CHAT_STATE_DIR="$TOPOLOGY_ROOT/replicated"
    export CHAT_DIST_DIR="$TOPOLOGY_ROOT/dist"
    KAFKA_NODES=3 KAFKA_RF=3 KAFKA_MIN_ISR=2
    CASSANDRA_NODES=3
    # Three JVMs of Cassandra and three of Kafka share the machine.
    CASSANDRA_HEAP_MIN="${CASSANDRA_HEAP_MIN:-512m}" CASSANDRA_HEAP_MAX="${CASSANDRA_HEAP_MAX:-1g}"
    KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}"
    REDIS_SENTINEL=1
    GATEWAYS="${GATEWAYS:-2}"
    GATEWAY_PORT=8180
    LB_PORT=8080
    # The fault suite's traffic: six JVMs share the two cores here, and at 200 msgs/s
    # (the single topology's rate) the history role falls behind the live traffic.
    FAULTS_RATE="${FAULTS_RATE:-50}"
    # What the services and chatctl create and use (README: Configuration).
    export CHAT__KAFKA__REPLICATION_FACTOR=3 CHAT__KAFKA__MIN_INSYNC_REPLICAS=2
    export CHAT__CQL__REPLICATION_FACTOR=3 CHAT__CQL__CONSISTENCY=local_quorum
    # The gateways see HAProxy as every client's address: believe what it forwards.
    export CHAT__GATEWAY__THROTTLE__TRUSTED_PROXIES=127.0.0.1
    # TLS as in production (lib/tls.sh's dev CA): HAProxy terminates HTTPS/WSS and
    # re-encrypts to the gateways, which serve TLS themselves; every Kafka client uses
    # the SASL_SSL listeners with the SCRAM user (services.sh, platform_env_args).
    CHAT_GATEWAY_TLS=1
    CHAT_KAFKA_SASL=1
    ;;
  *) echo "unknown topology '$CHAT_TOPOLOGY' (single or replicated)" >&2; exit 2 ;;
esac
export CHAT_TOPOLOGY
if [ -n "${CHAT_STATE_DIR:-}" ]; then export CHAT_STATE_DIR; fi
