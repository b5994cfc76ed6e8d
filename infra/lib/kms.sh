# shellcheck shell=bash
# A KMS-compatible server for local development and the tests: local-kms (MIT), the
# stand-in for the AWS KMS key that wraps the per-user data keys in production
# (crypto-shredding: chat_core::sealing::kms::AwsKmsKek speaks the same JSON API to both).
# Sourced after common.sh; follows the component contract described there.
#
# One Go process on 127.0.0.1:$KMS_PORT (default 8091), its database (LevelDB) under
# $STATE_DIR/kms/data, seeded at every start from $STATE_DIR/kms/seed.yaml with one
# symmetric key of a fixed id and the alias alias/chat-dev (a key that exists is left
# as it is: the seed never replaces key material). The key's material is random, made
# once per state directory ($STATE_DIR/kms/backing-key.hex, 0600), so no key sits in
# the repository.
#
# Built from the module's source at a pinned version, with one line changed: upstream
# listens on every interface (":PORT") and has no setting for the address, and every
# component here binds to 127.0.0.1 only. `go install module@version` cannot patch and
# `go build -overlay` refuses files in the module cache, so kms_install copies the
# module's source (fetched and checksum-verified by `go mod download`), patches the
# listen address, and builds it: about 35 s the first time on 2 cores, nothing after.
#
#   KMS_PORT       the KMS API (default 8091)
#   KMS_ENDPOINT   when set, a KMS we must not start or stop, with KMS_KEY_ID and
#                  KMS_REGION (AWS credentials from the usual AWS_* variables)
#
# local-kms does not check signatures or credentials: anyone on this machine may use the
# key, like the other local servers' passwordless users. The platform signs every call
# anyway (SigV4), as against AWS.

KMS_MODULE="github.com/nsmithuk/local-kms"
KMS_VERSION="v0.0.0-20260228092603-2a5e92d09ab6"
KMS_PORT="${KMS_PORT:-8091}"
KMS_HOME="$DIST_DIR/local-kms-$KMS_VERSION"
KMS_BIN="$KMS_HOME/local-kms"
KMS_DIR="$STATE_DIR/kms"
# The seeded key and its alias. The account id and region are part of every key's ARN
# in local-kms's database: changing them would orphan the keys already there.
KMS_LOCAL_KEY_ID=bc436485-5092-42b8-92a3-0aa8b93536dc
KMS_LOCAL_ALIAS=alias/chat-dev
KMS_LOCAL_REGION=us-east-1
KMS_LOCAL_ACCOUNT_ID=111122223333

kms_external() { [ -n "${KMS_ENDPOINT:-}" ]; }

if kms_external; then
  KMS_URL="$KMS_ENDPOINT"
  KMS_KEY="${KMS_KEY_ID:-}"
  KMS_SIGNING_REGION="${KMS_REGION:-us-east-1}"
else
  KMS_URL="http://127.0.0.1:$KMS_PORT"
  KMS_KEY="$KMS_LOCAL_KEY_ID"
  KMS_SIGNING_REGION="$KMS_LOCAL_REGION"
fi

# kms_env -> NAME=value lines: where the KMS is, which key wraps, the region to sign for.
kms_env() {
  printf '%s\n' \
    "KMS_ENDPOINT=$KMS_URL" \
    "KMS_KEY_ID=$KMS_KEY" \
    "KMS_REGION=$KMS_SIGNING_REGION"
}

# The Go toolchain: on PATH, or where the official tarball puts it.
_kms_go() {
  if command -v go >/dev/null; then
    command -v go
  elif [ -x /usr/local/go/bin/go ]; then
    echo /usr/local/go/bin/go
  else
    return 1
  fi
}

kms_install() {
  [ -x "$KMS_BIN" ] && return 0
  local go src dir
  go=$(_kms_go) || { apt_ensure golang-go; go=$(_kms_go); } || die "Go is missing (local-kms is built from source)"
  mkdir -p "$KMS_HOME"
  log "building local-kms $KMS_VERSION from its Go module (first time only, about 35 s)"
  # The module's source, verified against the checksum database; its directory in the
  # module cache is read-only, hence the copy.
  dir=$(cd "$KMS_HOME" && "$go" mod download -json "$KMS_MODULE@$KMS_VERSION" 2>>"$LOG_DIR/kms-build.log" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [ -n "$dir" ] && [ -d "$dir" ] || { tail -n 20 "$LOG_DIR/kms-build.log" >&2; die "could not fetch $KMS_MODULE@$KMS_VERSION"; }
  src="$KMS_HOME/src"
  [ ! -d "$src" ] || chmod -R u+w "$src"
  rm -rf "$src"
  cp -R "$dir" "$src" && chmod -R u+w "$src"
  # The one change: listen on 127.0.0.1 rather than on every interface.
  sed -i -e 's|addr := ":"+port|addr := "127.0.0.1:"+port|' \
    -e 's|Local KMS started on 0.0.0.0:|Local KMS started on 127.0.0.1:|' "$src/src/server.go"
  grep -q 'addr := "127.0.0.1:"+port' "$src/src/server.go" ||
    die "local-kms $KMS_VERSION: the listen address in src/server.go was not where expected"
  # -buildvcs=false: the copy sits inside this repository's work tree, whose git state
  # is not local-kms's.
  (cd "$src" && "$go" build -buildvcs=false -trimpath -o "$KMS_BIN.tmp" .) >>"$LOG_DIR/kms-build.log" 2>&1 ||
    { tail -n 20 "$LOG_DIR/kms-build.log" >&2; die "could not build local-kms (infra/dev logs kms-build)"; }
  mv "$KMS_BIN.tmp" "$KMS_BIN"
  chmod -R u+w "$src" && rm -rf "$src"
}

# kms_call OPERATION JSON [CURL ARGS...]: one KMS call signed with SigV4 (curl's), with
# the AWS_* credentials when set and placeholders otherwise (local-kms checks none). The
# credentials go to curl on stdin (-K -), not on its command line.
kms_call() {
  local op="$1" body="$2" user token
  shift 2
  user="${AWS_ACCESS_KEY_ID:-local-kms}:${AWS_SECRET_ACCESS_KEY:-local-kms}"
  user=${user//\\/\\\\}   # curl's config syntax: a quoted value escapes \ and "
  user=${user//\"/\\\"}
  token=""
  [ -z "${AWS_SESSION_TOKEN:-}" ] || token="header = \"x-amz-security-token: ${AWS_SESSION_TOKEN}\""
  printf 'user = "%s"\n%s\n' "$user" "$token" |
    curl -K - -s --max-time 10 --aws-sigv4 "aws:amz:$KMS_SIGNING_REGION:kms" -X POST \
      -H 'Content-Type: application/x-amz-json-1.1' -H "X-Amz-Target: TrentService.$op" \
      --data-binary "$body" "$@" "$KMS_URL/"
}

# Health: a real KMS call answering 200. DescribeKey of the key the platform wraps with,
# which for local-kms also shows the seed was loaded; ListKeys when no key is named.
kms_healthy() {
  local code
  if [ -n "$KMS_KEY" ]; then
    code=$(kms_call DescribeKey "{\"KeyId\":\"$KMS_KEY\"}" -o /dev/null -w '%{http_code}' 2>/dev/null)
  else
    code=$(kms_call ListKeys '{}' -o /dev/null -w '%{http_code}' 2>/dev/null)
  fi
  [ "$code" = "200" ]
}

# The seed file, rewritten on every start (0600: it holds the key material). local-kms
# only adds what does not exist yet.
_kms_seed() {
  local key_file="$KMS_DIR/backing-key.hex"
  mkdir -p "$KMS_DIR" && chmod 700 "$KMS_DIR"
  if [ ! -s "$key_file" ]; then
    (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$key_file")
  fi
  (umask 077 && cat >"$KMS_DIR/seed.yaml" <<YAML
Keys:
  Symmetric:
    Aes:
      - Metadata:
          KeyId: $KMS_LOCAL_KEY_ID
          Description: chat development key-encryption key (infra/lib/kms.sh)
        BackingKeys:
          - $(cat "$key_file")
Aliases:
  - AliasName: $KMS_LOCAL_ALIAS
    TargetKeyId: $KMS_LOCAL_KEY_ID
YAML
  )
}

kms_start() {
  kms_external && return 0
  kms_healthy && return 0
  if pid_of kms >/dev/null; then return 0; fi   # ours, still starting
  port_open 127.0.0.1 "$KMS_PORT" && die "port $KMS_PORT is taken by something that is not our local-kms (see KMS_PORT)"
  [ -x "$KMS_BIN" ] || die "local-kms is not installed (run kms_install)"
  mkdir -p "$KMS_DIR/data"
  _kms_seed
  # Its settings are environment variables; the caller's AWS_* never reach it (it reads
  # none, and they may be real credentials).
  start_bg kms env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
    PORT="$KMS_PORT" KMS_REGION="$KMS_LOCAL_REGION" KMS_ACCOUNT_ID="$KMS_LOCAL_ACCOUNT_ID" \
    KMS_DATA_PATH="$KMS_DIR/data" KMS_SEED_PATH="$KMS_DIR/seed.yaml" \
    "$KMS_BIN"
}

kms_wait() { wait_until kms 30 kms_healthy; }

# SIGTERM: Go's default handler exits at once. Safe: LevelDB's journal has every key
# and alias before local-kms answers the call that made it.
kms_stop() {
  kms_external && return 0
  stop_pid kms 10
}

kms_describe() {
  if kms_external; then
    echo "kms        $KMS_URL (external), key $KMS_KEY"
  else
    echo "kms        $KMS_URL (local-kms, KMS API), key $KMS_KEY ($KMS_LOCAL_ALIAS)"
  fi
}
