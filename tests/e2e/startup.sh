#!/usr/bin/env bash
# Rough startup figures of the real app (NOT the full benchmark of issue 4, which also builds a
# blank reference window): launch → first paint of the chat UI (the sidebar's colour appears on
# screen), and the process tree's PSS after 3 s idle.
#
#   xvfb-run -a -s "-screen 0 1280x800x24" tests/e2e/startup.sh [path/to/behest-desktop] [runs]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
APP=${1:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/behest-desktop}
RUNS=${2:-3}
[ -x "$APP" ] || { echo "missing app binary $APP" >&2; exit 2; }
[ -n "${DISPLAY:-}" ] || { echo "no DISPLAY: run under xvfb-run" >&2; exit 2; }
command -v import >/dev/null || { echo "ImageMagick import missing" >&2; exit 2; }

pss_tree() { # PSS in kB of a pid and all its descendants
  local total=0 p
  for p in $1 $(pgrep -P "$1" || true) $(for c in $(pgrep -P "$1" || true); do pgrep -P "$c" || true; done); do
    [ -r /proc/$p/smaps_rollup ] && total=$((total + $(awk '/^Pss:/{print $2}' /proc/$p/smaps_rollup)))
  done
  echo "$total"
}

for run in $(seq 1 "$RUNS"); do
  WORK=$(mktemp -d)
  start=$(date +%s%N)
  env HOME="$WORK" XDG_CONFIG_HOME="$WORK/c" XDG_DATA_HOME="$WORK/d" BEHEST_DATA_DIR="$WORK/data" \
      DBUS_SESSION_BUS_ADDRESS="unix:path=$WORK/no-bus" NO_AT_BRIDGE=1 "$APP" 2>"$WORK.log" &
  pid=$!
  painted=""
  for _ in $(seq 1 300); do
    # The sidebar background (#f4f4f6, light theme) at (100, 400) once the UI is painted.
    colour=$(import -window root -crop 1x1+100+400 -depth 8 txt:- 2>/dev/null | tail -n1 | grep -o '#[0-9A-F]\{6\}' || true)
    if [ "$colour" = "#F4F4F6" ]; then painted=$(( ($(date +%s%N) - start) / 1000000 )); break; fi
    sleep 0.02
  done
  sleep 3
  echo "run $run: first paint ${painted:-never} ms, idle PSS $(( $(pss_tree $pid) / 1024 )) MB"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$WORK" "$WORK.log"
done
