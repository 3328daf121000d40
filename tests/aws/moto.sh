#!/usr/bin/env bash
# One way to run the moto AWS emulator for Stance's AWS tests and benchmarks.
#
#   tests/aws/moto.sh install          # create the venv with moto[server]==5.2.5, boto3, pySigma + its SQLite backend
#                                      # and componentize-py (Python plugins), and the validators of the output
#                                      # formats: jsonschema, py-ocsf-models, junitparser (idempotent)
#   tests/aws/moto.sh start [PORT]     # start moto_server on 127.0.0.1 (a free port when none is given),
#                                      # wait until it answers, print the port on stdout
#   tests/aws/moto.sh stop [PORT]      # stop the server started for PORT (every server this script started
#                                      # when PORT is omitted)
#   tests/aws/moto.sh status [PORT]    # exit 0 when that server answers
#
# Environment:
#   STANCE_MOTO_VENV   the venv (default ~/.cache/stance-build/venv)
#   STANCE_MOTO_STATE  where pid, log, clock and AMI files live (default /tmp/stance-moto)
#   STANCE_MOTO_FAKETIME=0  never preload libfaketime even when it is installed
#
# The server is started with:
#   - MOTO_IAM_LOAD_MANAGED_POLICIES=true, so AWS managed policies (AdministratorAccess) exist;
#   - MOTO_AMIS_PATH pointing at a file holding [], which removes moto's 1,301 default AMIs and their
#     snapshots (owned by other accounts but returned by DescribeSnapshots(OwnerIds=[self]) anyway);
#     seed.py registers its own AMI;
#   - when libfaketime is installed (Debian package `faketime`), LD_PRELOAD of libfaketimeMT with a clock
#     file $STANCE_MOTO_STATE/PORT.clock holding "+0". Writing an offset such as "-100d" into that file
#     moves moto's clock at once (FAKETIME_NO_CACHE=1); seed.py uses it to create 100-day-old access
#     keys and users, and writes "+0" back right after. Without libfaketime the age-based IAM checks
#     have no failing resource and seed.py lists them as unsupported.
#
# moto is not safe for concurrent writes: seed serially. Reads under concurrency are fine.
set -euo pipefail

MOTO_VERSION=5.2.5
# Builds Python plugins (`stance plugin build`); the version the Python SDK is tested with.
COMPONENTIZE_PY_VERSION=0.25.1
# Validators of the output formats (tests/fixtures/schemas/): SARIF's schema, OCSF 1.5.0's models, JUnit XML.
JSONSCHEMA_VERSION=4.26.0
PY_OCSF_MODELS_VERSION=0.10.0
JUNITPARSER_VERSION=5.0.3
VENV="${STANCE_MOTO_VENV:-$HOME/.cache/stance-build/venv}"
STATE="${STANCE_MOTO_STATE:-/tmp/stance-moto}"
FAKETIME_LIB=""
for lib in /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 /usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1 /usr/lib/faketime/libfaketimeMT.so.1; do
  if [[ -f "$lib" ]]; then FAKETIME_LIB="$lib"; break; fi
done

die() { echo "moto.sh: $*" >&2; exit 1; }

install_venv() {
  if [[ -x "$VENV/bin/moto_server" ]] && [[ -x "$VENV/bin/componentize-py" ]] && "$VENV/bin/python" -c "import moto, boto3, sigma.backends.sqlite, jsonschema, py_ocsf_models, junitparser, sys; from importlib.metadata import version as v; sys.exit(0 if (moto.__version__, v('pysigma'), v('pysigma-backend-sqlite'), v('componentize-py'), v('jsonschema'), v('py-ocsf-models'), v('junitparser')) == ('$MOTO_VERSION', '2.0.1', '2.1.1', '$COMPONENTIZE_PY_VERSION', '$JSONSCHEMA_VERSION', '$PY_OCSF_MODELS_VERSION', '$JUNITPARSER_VERSION') else 1)" 2>/dev/null; then
    return 0
  fi
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" boto3 pysigma==2.0.1 pysigma-backend-sqlite==2.1.1 "componentize-py==$COMPONENTIZE_PY_VERSION" \
    "jsonschema==$JSONSCHEMA_VERSION" "py-ocsf-models==$PY_OCSF_MODELS_VERSION" "junitparser==$JUNITPARSER_VERSION"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

answers() { # PORT
  curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$1/moto-api/" 2>/dev/null
}

start() {
  local port="${1:-}"
  [[ -x "$VENV/bin/moto_server" ]] || die "no moto_server in $VENV; run: $0 install"
  mkdir -p "$STATE"
  [[ -n "$port" ]] || port=$(free_port)
  if [[ -f "$STATE/$port.pid" ]] && kill -0 "$(cat "$STATE/$port.pid")" 2>/dev/null; then
    die "a moto server started by this script already runs on port $port (pid $(cat "$STATE/$port.pid"))"
  fi
  echo '[]' >"$STATE/amis.json"
  local -a env=(MOTO_IAM_LOAD_MANAGED_POLICIES=true "MOTO_AMIS_PATH=$STATE/amis.json")
  rm -f "$STATE/$port.clock"
  if [[ -n "$FAKETIME_LIB" && "${STANCE_MOTO_FAKETIME:-1}" != 0 ]]; then
    echo '+0' >"$STATE/$port.clock"
    env+=("LD_PRELOAD=$FAKETIME_LIB" "FAKETIME_TIMESTAMP_FILE=$STATE/$port.clock" FAKETIME_NO_CACHE=1)
  fi
  env "${env[@]}" nohup "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$STATE/$port.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$STATE/$port.pid"
  for _ in $(seq 1 100); do
    if answers "$port"; then
      echo "$port"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { tail -20 "$STATE/$port.log" >&2; rm -f "$STATE/$port.pid"; die "moto_server exited"; }
    sleep 0.2
  done
  kill "$pid" 2>/dev/null || true
  rm -f "$STATE/$port.pid"
  die "moto_server did not answer on port $port within 20 s (log: $STATE/$port.log)"
}

stop_one() { # PIDFILE
  local pidfile="$1" pid
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

stop() {
  local port="${1:-}"
  if [[ -n "$port" ]]; then
    [[ -f "$STATE/$port.pid" ]] || die "no server started by this script on port $port"
    stop_one "$STATE/$port.pid"
    rm -f "$STATE/$port.clock"
  else
    shopt -s nullglob
    for f in "$STATE"/*.pid; do
      stop_one "$f"
      rm -f "${f%.pid}.clock"
    done
  fi
}

case "${1:-}" in
  install) install_venv ;;
  start) shift; start "${1:-}" ;;
  stop) shift; stop "${1:-}" ;;
  status) shift; answers "${1:?port}" ;;
  *) echo "usage: $0 install | start [PORT] | stop [PORT] | status PORT" >&2; exit 2 ;;
esac
