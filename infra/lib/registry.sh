# shellcheck shell=bash
# Schema Registry for local development: Apicurio Registry 2.6 (a Quarkus app from Maven
# Central, runs on Java 17; 3.x would need Java 21) serving the Confluent Schema Registry
# API under /apis/ccompat/v7. Clients use SCHEMA_REGISTRY_URL=$REGISTRY_URL.
# Sourced after common.sh; follows the component contract described there.
#
# Storage: SQL on an embedded, file-based H2 database under $STATE_DIR/registry/db.
# Why not kafkasql (a journal topic, like Confluent's _schemas): in 2.x that storage is a
# separate build (storage/kafkasql, a Maven profile) that is not published to Maven
# Central; the one runnable distribution there, apicurio-registry-app:<v>:tar.gz:all, is
# the SQL build with H2 only. A file H2 keeps schemas, ids and rules across restarts,
# needs no Kafka at start-up (so no start-order coupling and no topic to pre-create on a
# broker with auto.create.topics.enable=false), and `rm -rf .state` resets it together
# with Kafka's data, whose records carry the ids.

REGISTRY_VERSION="2.6.13.Final"   # keep in step with infra/maven/registry/pom.xml
REGISTRY_PORT="${REGISTRY_PORT:-8081}"
REGISTRY_HEAP="${REGISTRY_HEAP:-512m}"
# Global compatibility level that registry_wait stores (PUT /config) once, on a fresh
# database. Apicurio's own default is NONE (Confluent's is BACKWARD). Stored through the
# API rather than via registry.rules.global.compatibility: that property is enforced but
# invisible (GET /config still says NONE) and a PUT of NONE cannot switch it off.
REGISTRY_COMPATIBILITY="${REGISTRY_COMPATIBILITY:-BACKWARD_TRANSITIVE}"
REGISTRY_HOME="$DIST_DIR/registry"
REGISTRY_DIR="$STATE_DIR/registry"
REGISTRY_URL="${SCHEMA_REGISTRY_URL:-http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7}"

registry_external() { [ -n "${SCHEMA_REGISTRY_URL:-}" ]; }

# _registry_first_file PATH...: print the first argument that is an existing file.
_registry_first_file() { local f; for f in "$@"; do [ -f "$f" ] && { echo "$f"; return 0; }; done; return 1; }
registry_runner() { _registry_first_file "$REGISTRY_HOME"/app/apicurio-registry-app-*-runner.jar; }

registry_install() {
  local app="$REGISTRY_HOME/app" dl="$REGISTRY_HOME/download" marker tgz
  marker="$app/.version-$REGISTRY_VERSION"
  [ -f "$marker" ] && [ -n "$(registry_runner)" ] && return 0
  command -v "$JAVA_BIN" >/dev/null || die "java is missing (apt-get install openjdk-17-jre-headless)"
  command -v curl >/dev/null || apt_ensure curl
  rm -rf "$dl"   # maven_fetch's marker would otherwise skip a re-fetch of a deleted tarball
  maven_fetch "$INFRA_DIR/maven/registry" "$dl"
  tgz=$(_registry_first_file "$dl"/apicurio-registry-app-*-all.tar.gz)
  [ -n "$tgz" ] || die "no apicurio-registry-app tarball in $dl"
  log "unpacking $(basename "$tgz") into $app"
  rm -rf "$app" "$app.tmp" && mkdir -p "$app.tmp"
  tar xzf "$tgz" -C "$app.tmp" || die "could not unpack $tgz"
  mv "$app.tmp" "$app"
  rm -rf "$dl"   # ~/.m2 keeps the tarball; no need for a second copy
  touch "$marker"
}

registry_healthy() {
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$REGISTRY_URL/subjects" 2>/dev/null)" = "200" ]
}

registry_start() {
  registry_healthy && return 0
  if pid_of registry >/dev/null; then return 0; fi   # ours, still starting
  port_open 127.0.0.1 "$REGISTRY_PORT" && die "port $REGISTRY_PORT is taken by something that is not our registry"
  local jar; jar=$(registry_runner)
  [ -n "$jar" ] || die "registry is not installed (run registry_install)"
  mkdir -p "$REGISTRY_DIR/db" "$REGISTRY_DIR/tmp"
  # Properties that matter:
  #  quarkus.datasource.jdbc.url  file H2 instead of the default jdbc:h2:mem (data lost on
  #                               exit). DB_CLOSE_ON_EXIT=FALSE lets Quarkus close it on
  #                               SIGTERM rather than H2's own shutdown hook racing it.
  #                               WRITE_DELAY=0 writes each commit through at once: with
  #                               H2's default (~1s) a kill -9 right after a registration
  #                               lost it, and a later schema then got the same id.
  #  quarkus.datasource.jdbc.*-size  the prod profile opens 20 connections up front.
  #  registry.ccompat.use-canonical-hash  match schemas by their canonical form, as
  #                               Confluent does: re-registering the same schema with other
  #                               whitespace returns the existing id, not a new version.
  #  registry.ccompat.legacy-id-mode.enabled=false (default)  ids handed out are content
  #                               ids: one per distinct schema, shared across subjects,
  #                               like Confluent's.
  start_bg registry "$JAVA_BIN" \
    -Xms64m "-Xmx$REGISTRY_HEAP" -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError \
    "-Djava.io.tmpdir=$REGISTRY_DIR/tmp" \
    -Dquarkus.http.host=127.0.0.1 "-Dquarkus.http.port=$REGISTRY_PORT" \
    "-Dquarkus.datasource.jdbc.url=jdbc:h2:file:$REGISTRY_DIR/db/registry;DB_CLOSE_ON_EXIT=FALSE;WRITE_DELAY=0" \
    -Dquarkus.datasource.jdbc.initial-size=2 -Dquarkus.datasource.jdbc.min-size=2 \
    -Dquarkus.datasource.jdbc.max-size=20 \
    -Dregistry.ccompat.use-canonical-hash=true \
    -jar "$jar"
}

registry_wait() {
  wait_until registry 120 registry_healthy || return 1
  registry_external && return 0
  # First start on a fresh database: store the global compatibility level. Later starts
  # leave alone whatever was PUT since (the marker lives beside the database).
  local marker="$REGISTRY_DIR/db/.compatibility-set"
  [ -f "$marker" ] && return 0
  curl -sf -o /dev/null --max-time 10 -X PUT \
    -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
    -d "{\"compatibility\":\"$REGISTRY_COMPATIBILITY\"}" "$REGISTRY_URL/config" ||
    { warn "registry: could not set global compatibility $REGISTRY_COMPATIBILITY"; return 1; }
  touch "$marker"
}

# SIGTERM: Quarkus shuts down gracefully (closes the H2 database) within a second or two.
registry_stop() { stop_pid registry 30; }

registry_describe() {
  if registry_external; then
    echo "registry   $REGISTRY_URL (external)"
  else
    echo "registry   $REGISTRY_URL (Apicurio Registry ${REGISTRY_VERSION%%.*}.$(echo "$REGISTRY_VERSION" | cut -d. -f2), Confluent API)"
  fi
}
