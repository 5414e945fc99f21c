#!/usr/bin/env bash
# End-to-end test of the real app in the real webview (WebKitGTK), driven over WebDriver.
#
#   cargo build -p behest-desktop
#   xvfb-run -a -s "-screen 0 1280x800x24" tests/e2e/run.sh [path/to/behest-desktop] [-- PYTEST_ARGS]
#
# PYTEST_ARGS select tests (default: every file in tests/e2e), e.g. `-- tests/e2e/test_export.py`.
# BEHEST_E2E_PORT (default 4444) is tauri-driver's port, its native port the next one: give each
# concurrent run on one machine its own (e.g. BEHEST_E2E_PORT=4474), and its own screenshot
# folder with BEHEST_E2E_SHOTS (default target/e2e-screenshots, emptied at the start).
# BEHEST_E2E_TIMEOUT (default 300) fails a test that runs longer, in seconds.
#
# Needs: tauri-driver (`cargo install tauri-driver --locked`), WebKitWebDriver (apt
# webkit2gtk-driver), a display (Xvfb), and a Python with tests/requirements.txt (default
# <workspace>/.venv/bin/python, or BEHEST_E2E_PYTHON). Anything missing fails the run: it never
# passes by skipping. The app runs hermetically: a fresh HOME, config, data dir and no keyring,
# in demo mode, with a slowed demo gateway (BEHEST_DEMO_DELAY_MS) and fault scripting on
# (BEHEST_DEMO_FAULTS=1). Screenshots go to target/e2e-screenshots/.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
APP=${BEHEST_APP_BINARY:-$TARGET/debug/behest-desktop}
if [ $# -gt 0 ] && [ "$1" != "--" ]; then APP=$1; shift; fi
if [ $# -gt 0 ] && [ "$1" = "--" ]; then shift; fi
PYTEST_ARGS=("$@")
[ ${#PYTEST_ARGS[@]} -gt 0 ] || PYTEST_ARGS=("$ROOT/tests/e2e")
PORT=${BEHEST_E2E_PORT:-4444}
case "$PORT" in ''|*[!0-9]*) echo "e2e: BEHEST_E2E_PORT must be a port number, not '$PORT'" >&2; exit 2 ;; esac
NATIVE_PORT=$((PORT + 1))
PY=${BEHEST_E2E_PYTHON:-$ROOT/.venv/bin/python}

fail() { echo "e2e: $*" >&2; exit 2; }

[ -x "$APP" ] || fail "the app binary $APP is missing: run \`cargo build -p behest-desktop\` (or pass its path)"
DRIVER=$(command -v tauri-driver || true)
[ -n "$DRIVER" ] || fail "tauri-driver is missing: run \`cargo install tauri-driver --locked\`"
command -v WebKitWebDriver >/dev/null || fail "WebKitWebDriver is missing: apt-get install webkit2gtk-driver"
[ -n "${DISPLAY:-}" ] || fail "no DISPLAY: run under xvfb-run -a -s \"-screen 0 1280x800x24\""
[ -x "$PY" ] || fail "no Python at $PY: python3 -m venv $ROOT/.venv && $ROOT/.venv/bin/pip install -r $ROOT/tests/requirements.txt"
"$PY" -c "import selenium, pytest, pytest_timeout" 2>/dev/null ||
  fail "selenium, pytest or pytest-timeout missing: $PY -m pip install -r tests/requirements.txt"

WORK=$(mktemp -d)
mkdir -p "$WORK/home" "$WORK/config" "$WORK/data" "$WORK/share"
SHOTS=${BEHEST_E2E_SHOTS:-$ROOT/target/e2e-screenshots}
rm -rf "$SHOTS"
mkdir -p "$SHOTS"

# A hermetic app: nothing configured (demo mode), nothing read from or written to the user's files.
for v in BEHEST_KEY BEHEST_API_KEY BEHEST_BASE_URL BEHEST_KID BEHEST_TENANT_ID BEHEST_PROJECT_ID \
         BEHEST_USER_ID BEHEST_TTL BEHEST_TIER BEHEST_ISSUER BEHEST_AUDIENCE BEHEST_TOKEN_URL BEHEST_SESSION_TOKEN \
         BEHEST_CONTROL_PLANE_URL; do
  unset "$v"
done
export HOME="$WORK/home" XDG_CONFIG_HOME="$WORK/config" XDG_DATA_HOME="$WORK/share" BEHEST_DATA_DIR="$WORK/data"
export DBUS_SESSION_BUS_ADDRESS="unix:path=$WORK/no-bus" NO_AT_BRIDGE=1
export BEHEST_DEMO_DELAY_MS=${BEHEST_DEMO_DELAY_MS:-25} BEHEST_DEMO_FAULTS=1
export BEHEST_APP_BINARY="$APP" BEHEST_E2E_SHOTS="$SHOTS" BEHEST_E2E_WORK="$WORK" BEHEST_E2E_PORT="$PORT"
# The app asks this (loopback) update endpoint, never the real one; test_update.py serves it on
# port PORT+2, and while nothing listens the app's quiet check fails quietly.
export BEHEST_UPDATE_URL="http://127.0.0.1:$((PORT + 2))/latest.json"

"$DRIVER" --port "$PORT" --native-port "$NATIVE_PORT" >"$WORK/driver.log" 2>&1 &
DRIVER_PID=$!
# Also ends any app this run started and left behind (a test that timed out exits at once,
# without quitting its session): those have this run's work directory in their environment.
cleanup() {
  kill "$DRIVER_PID" 2>/dev/null || true
  local pid
  for pid in $(pgrep -f -- "$APP" || true); do
    if tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qx "BEHEST_E2E_WORK=$WORK"; then
      kill "$pid" 2>/dev/null || true
    fi
  done
}
trap cleanup EXIT

# tauri-driver forwards each session to WebKitWebDriver, which it starts alongside itself: a
# session asked for before both listen is refused ("tcp connect error"), so wait for both ports.
for port in "$PORT" "$NATIVE_PORT"; do
  for _ in $(seq 1 100); do
    if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then break; fi
    kill -0 "$DRIVER_PID" 2>/dev/null || { cat "$WORK/driver.log" >&2; fail "tauri-driver exited"; }
    sleep 0.1
  done
  (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null || { cat "$WORK/driver.log" >&2; fail "nothing listens on $port (tauri-driver or WebKitWebDriver)"; }
done

cd "$ROOT"
set +e
# A WebDriver call can hang for good (a screenshot waits for a repaint that a still page never
# makes, see shot() in test_app.py): after BEHEST_E2E_TIMEOUT seconds in one test, pytest prints
# every thread's stack and exits (a timer thread: a signal would leave driver.quit() to hang too).
"$PY" -m pytest -x -v -p no:cacheprovider --timeout="${BEHEST_E2E_TIMEOUT:-300}" --timeout-method=thread --durations=5 "${PYTEST_ARGS[@]}"
STATUS=$?
set -e
if [ "$STATUS" -ne 0 ]; then
  echo "--- tauri-driver log ---" >&2
  tail -n 60 "$WORK/driver.log" >&2
fi
echo "screenshots: $SHOTS"
exit "$STATUS"
