# shellcheck shell=bash
# The example analytics consumer (services/analytics-example): a Python virtual
# environment with its pinned packages (requirements.txt), made by `infra/dev up` and
# `infra/dev test` before anything runs it; the end-to-end test
# services/e2e/tests/analytics_consumer.rs runs activity.py with it, and `infra/dev test`
# runs the example's unit tests (analytics_test) with it. Sourced after
# common.sh (and topology.sh, for the state root).

ANALYTICS_SRC="$REPO_ROOT/services/analytics-example"
# In the state root both topologies share (.state/, never .state/replicated): one
# install, at the path the test looks for.
ANALYTICS_VENV="${TOPOLOGY_ROOT:-$STATE_DIR}/venv-analytics"
# shellcheck disable=SC2034 # read by services.sh (platform_env_args)
ANALYTICS_PYTHON="$ANALYTICS_VENV/bin/python"

# analytics_venv: create the venv and install requirements.txt, unless the venv was made
# from this very file (a marker holds its sha256). A failed install leaves no marker, so
# the next run starts over.
analytics_venv() {
  local req="$ANALYTICS_SRC/requirements.txt" marker="$ANALYTICS_VENV/.requirements.sha256"
  local sum pip_log="$LOG_DIR/analytics-pip.log"
  sum=$(sha256sum "$req" | cut -d' ' -f1)
  if [ -x "$ANALYTICS_PYTHON" ] && [ "$(cat "$marker" 2>/dev/null)" = "$sum" ]; then
    return 0
  fi
  command -v python3 >/dev/null || apt_ensure python3
  log "installing the example analytics consumer's packages into $ANALYTICS_VENV (services/analytics-example/requirements.txt)"
  rm -rf "$ANALYTICS_VENV"
  # Debian's python3 makes venvs only with python3-venv (ensurepip) installed.
  if ! python3 -m venv "$ANALYTICS_VENV" >"$pip_log" 2>&1; then
    apt_ensure python3-venv
    rm -rf "$ANALYTICS_VENV"
    python3 -m venv "$ANALYTICS_VENV" >"$pip_log" 2>&1 ||
      { tail -n 20 "$pip_log" >&2; die "python3 -m venv $ANALYTICS_VENV failed (log: $pip_log)"; }
  fi
  "$ANALYTICS_PYTHON" -m pip install --quiet --disable-pip-version-check -r "$req" >>"$pip_log" 2>&1 ||
    { tail -n 30 "$pip_log" >&2; die "pip install -r $req failed (log: $pip_log)"; }
  # What activity.py and export_to_parquet.py import: a broken install fails here, not in
  # the middle of a test.
  "$ANALYTICS_PYTHON" -c 'import confluent_kafka.schema_registry.avro, fastavro, pyarrow.parquet' >>"$pip_log" 2>&1 ||
    { tail -n 20 "$pip_log" >&2; die "the analytics venv cannot import its packages (log: $pip_log)"; }
  echo "$sum" >"$marker"
}

# analytics_test: the example's unit tests (test_*.py beside it: export_to_parquet.py's),
# which need no server; after analytics_venv.
analytics_test() {
  (cd "$REPO_ROOT" && "$ANALYTICS_PYTHON" -m unittest discover -s "$ANALYTICS_SRC" -p 'test_*.py')
}
