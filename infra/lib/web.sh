# shellcheck shell=bash
# The browser client (services/web): TypeScript bundled by Vite into services/web/dist,
# which the gateways serve at / (CHAT__GATEWAY__WEB_DIR). Built by `infra/dev up` and
# `infra/dev test`; nothing is fetched at run time. Sourced after common.sh.

WEB_SRC="$REPO_ROOT/services/web"
# shellcheck disable=SC2034 # read by services.sh (the gateways' web dir)
WEB_DIST="$WEB_SRC/dist"

# Node.js and npm: Vite 8 needs Node 20.19 or newer.
web_tools() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    apt_ensure nodejs npm
  fi
  local v major minor
  v=$(node -p 'process.versions.node' 2>/dev/null) || die "node does not run"
  major=${v%%.*}
  minor=${v#*.}
  minor=${minor%%.*}
  if [ "$major" -lt 20 ] || { [ "$major" -eq 20 ] && [ "$minor" -lt 19 ]; }; then
    die "the web client needs Node.js 20.19 or newer (found $v): install a newer Node.js"
  fi
}

# npm ci when node_modules is missing or package-lock.json changed since the last one.
web_deps() {
  local sum marker="$WEB_SRC/node_modules/.package-lock.sha256"
  sum=$(sha256sum "$WEB_SRC/package-lock.json" | cut -d' ' -f1)
  if [ -f "$marker" ] && [ "$(cat "$marker")" = "$sum" ]; then return 0; fi
  log "installing the web client's packages (npm ci in services/web)"
  (cd "$WEB_SRC" && npm ci --no-audit --no-fund --loglevel=error) >"$LOG_DIR/web-npm.log" 2>&1 ||
    { tail -n 30 "$LOG_DIR/web-npm.log" >&2; die "npm ci failed in services/web (log: $LOG_DIR/web-npm.log)"; }
  echo "$sum" >"$marker"
}

web_build() {
  web_tools
  web_deps
  log "building the web client (services/web -> services/web/dist)"
  (cd "$WEB_SRC" && npm run -s build) >"$LOG_DIR/web-build.log" 2>&1 ||
    { tail -n 40 "$LOG_DIR/web-build.log" >&2; die "the web client did not build (log: $LOG_DIR/web-build.log)"; }
}

# The client's unit tests (the gap rule, no HTML sinks), then the browser end-to-end
# suite: headless Debian Chromium driven by playwright-core, against a private stack of
# debug binaries on the servers this run uses (services/web/e2e/stack.mjs). Screenshots
# and logs go to services/web/test-output/. Both run; either failing fails.
web_test() {
  local rc=0
  (cd "$WEB_SRC" && npm run -s test) || rc=$?
  (cd "$WEB_SRC" && with_platform_env npm run -s e2e) || rc=$?
  return $rc
}
