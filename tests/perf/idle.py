"""How often an idle window repaints, for the app and the blank reference window (issue 4,
Performance: memory that keeps growing). On Linux every repaint of a tao window is queued in an
unbounded channel that only the next event-loop turn drains, one entry a turn, and an idle app
takes no turns (tao issue #1335): so an idle window that repaints grows for as long as it is open.
ARCHITECTURE.md, "An idle window should not redraw"; BENCHMARKS.md, "An idle window's repaints".

What is counted: the window's paint cycles, as calls of `gdk_window_begin_draw_frame` (GTK 3
begins each paint of a window with it; tao's `draw` handler runs inside), by gdb attached to the
process with a breakpoint that only counts. The window of each count starts when gdb resumes the
process (gdb prints the time), so gdb's own start-up is not counted.

Phases, each run for both windows where it applies:
  fresh       SECS seconds, starting SETTLE seconds after first paint (no input at all)
  chat        the app only: a click on the prompt and a message typed with xdotool (real X input,
              through GTK, as a user's), counted until the reply has been shown; must be > 0, or
              the counter is not counting
  after chat  the app only: SECS seconds, starting SETTLE seconds after the reply

    python3 tests/perf/idle.py --app BIN --blank BIN [--secs S] [--settle S] [--json OUT]

Needs: gdb, xdotool, Xvfb (DISPLAY). Prints figures only.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import common

# Bytes tao keeps per queued repaint: crossbeam list blocks of 31 slots, 504 bytes each (heaptrack,
# BENCHMARKS.md "The caret").
BYTES_PER_REPAINT = 504 / 31
GDB_SCRIPT = """set pagination off
set confirm off
break gdk_window_begin_draw_frame
commands
silent
continue
end
python import time; print("RESUMED", repr(time.time()), flush=True)
continue
python print("STOPPED", repr(time.time()), flush=True)
info breakpoints
detach
quit
"""


def count_paints(pid, during):
    """Attaches gdb to pid, counts paint cycles while `during()` runs, returns (count, seconds)."""
    with tempfile.NamedTemporaryFile("w", suffix=".gdb", delete=False) as f:
        f.write(GDB_SCRIPT)
        script = f.name
    gdb = subprocess.Popen(["gdb", "-p", str(pid), "-batch", "-nx", "-x", script],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines, resumed = [], threading.Event()

    def read():
        for line in gdb.stdout:
            lines.append(line)
            if line.startswith("RESUMED"):
                resumed.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not resumed.wait(120):
            gdb.kill()
            raise SystemExit("gdb did not attach within 120 s:\n" + "".join(lines[-20:]))
        during()
        gdb.send_signal(signal.SIGINT)
        gdb.wait(60)
        reader.join(10)
    finally:
        os.unlink(script)
    text = "".join(lines)
    start = float(next(l.split()[1] for l in lines if l.startswith("RESUMED")))
    stops = [float(l.split()[1]) for l in lines if l.startswith("STOPPED")]
    if not stops:
        raise SystemExit("gdb did not stop as asked:\n" + text[-2000:])
    count = 0
    for line in lines:
        if "breakpoint already hit" in line:
            count = int(line.split("hit")[1].split()[0])
    return count, stops[0] - start


def launch(binary, screen):
    proc, work, painted = common.start_until_painted(binary, screen, limit_s=30.0, poll_s=0.05)
    if painted is None:
        common.end_run(proc, work, screen)
        raise SystemExit(f"{binary} never painted")
    return proc, work


def xdotool(*args):
    return subprocess.run(["xdotool", *args], check=True, capture_output=True, text=True).stdout


def chat(pid, message):
    """Clicks the app's prompt (bottom centre of its window) and types `message` and Enter."""
    windows = xdotool("search", "--onlyvisible", "--pid", str(pid), "--name", "Behest Desktop").split()
    if not windows:
        raise SystemExit("no visible app window found by xdotool")
    geometry = dict(line.split("=", 1) for line in xdotool("getwindowgeometry", "--shell", windows[0]).split())
    width, height = int(geometry["WIDTH"]), int(geometry["HEIGHT"])
    xdotool("mousemove", "--window", windows[0], str(width // 2), str(height - 95), "click", "1")
    time.sleep(0.5)
    xdotool("type", "--delay", "30", message)
    xdotool("key", "Return")


def rate(count, seconds):
    per_minute = count * 60 / seconds
    per_day_kb = count * 86400 / seconds * BYTES_PER_REPAINT / 1024
    return per_minute, per_day_kb


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--app", required=True)
    ap.add_argument("--blank", required=True)
    ap.add_argument("--secs", type=float, default=180.0, help="length of each idle count")
    ap.add_argument("--settle", type=float, default=15.0,
                    help="seconds between first paint (or the reply) and an idle count; more than "
                         "GTK's 10 s caret blink timeout")
    ap.add_argument("--json", help="write the raw results here")
    args = ap.parse_args()
    for tool in ("gdb", "xdotool"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: apt-get install {tool}")

    screen = common.Screen()
    results = {}
    print(f"# idle repaints: counts of {args.secs:.0f} s, {args.settle:.0f} s after first paint or "
          f"the reply; load before {common.loadavg()}", flush=True)

    def report(name, count, seconds, idle=True):
        results[name] = {"paints": count, "seconds": round(seconds, 1), "load": common.loadavg()}
        line = f"{name:18} {count:5} paints in {seconds:5.1f} s"
        if idle:
            per_minute, per_day_kb = rate(count, seconds)
            line += f" = {per_minute:5.2f} a minute, ~{per_day_kb:6.1f} kB a day queued"
        print(f"{line}; load {results[name]['load']}", flush=True)

    for name, binary in (("blank", args.blank), ("app", args.app)):
        proc, work = launch(binary, screen)
        try:
            time.sleep(args.settle)
            report(f"{name} fresh", *count_paints(proc.pid, lambda: time.sleep(args.secs)))
            if name == "app":
                report("app during a chat", *count_paints(
                    proc.pid, lambda: (chat(proc.pid, "Hello there"), time.sleep(10))), idle=False)
                time.sleep(args.settle)
                report("app after a chat", *count_paints(proc.pid, lambda: time.sleep(args.secs)))
        finally:
            common.end_run(proc, work, screen)
    if results.get("app during a chat", {}).get("paints", 0) == 0:
        print("WARNING: no paint counted during the chat: the counter is not working", flush=True)
    print(f"# load after {common.loadavg()}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
