"""Cold start to first paint and idle PSS of the app vs the blank reference window (issue 4,
Performance items 1 and 2). Runs alternate (blank, app, blank, app, ...) so both see the same
machine state.

First paint: the time from spawning the process to the first poll (every 10 ms, one pixel read of
the X root window through libX11) in which the pixel at (100, 400) is #f4f4f6. That colour is the
app's sidebar (`--bg-sidebar`, drawn by the page's CSS) and the blank page's only background; no
GTK or WebKit default paints it, and the root window behind is black (Xvfb -br), so it appears
only once the page itself has been painted on screen.

Idle memory: PSS summed from /proc/<pid>/smaps_rollup over the process and all its descendants
(WebKitWebProcess, WebKitNetworkProcess), read IDLE seconds after first paint.

    python3 tests/perf/startup.py --app BIN --blank BIN [--runs N] [--idle S] [--dmabuf-off] [--json OUT]

On a machine without a DRI render node (VMs, Xvfb) the app's Linux self-check sets
WEBKIT_DISABLE_DMABUF_RENDERER=1 for itself; the blank window does not, so by default the two
run with different WebKit renderers. --dmabuf-off runs both with it set (like for like).
"""

import argparse
import json
import statistics
import sys
import time

import common

def one_run(binary, idle_s, screen, extra_env=None):
    proc, work, painted = common.start_until_painted(binary, screen, extra_env)
    try:
        time.sleep(idle_s)
        load = common.loadavg()
        mem = common.mem_tree_kb(proc.pid)  # one read for PSS and anonymous memory
        pss, parts, anon = mem["pss"], mem["parts"]["pss"], mem["anon"]
    finally:
        common.end_run(proc, work, screen)
    return {"paint_ms": painted, "pss_kb": pss, "anon_kb": anon, "parts": parts, "load": load}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--app", required=True)
    ap.add_argument("--blank", required=True)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--idle", type=float, default=5.0, help="seconds after first paint before reading PSS")
    ap.add_argument("--json", help="write the raw results here")
    ap.add_argument("--dmabuf-off", action="store_true",
                    help="run both with WEBKIT_DISABLE_DMABUF_RENDERER=1 (what the app's Linux "
                         "self-check sets by itself on machines without a DRI render node)")
    args = ap.parse_args()

    screen = common.Screen()
    results = {"blank": [], "app": []}
    print(f"# startup: {args.runs} runs each, alternating{', WEBKIT_DISABLE_DMABUF_RENDERER=1 for both' if args.dmabuf_off else ''}; "
          f"load before {common.loadavg()}", flush=True)
    for i in range(args.runs):
        for name, binary in (("blank", args.blank), ("app", args.app)):
            extra = {"WEBKIT_DISABLE_DMABUF_RENDERER": "1"} if args.dmabuf_off else None
            r = one_run(binary, args.idle, screen, extra)
            results[name].append(r)
            parts = ", ".join(f"{k} {v // 1024}" for k, v in sorted(r["parts"].items()))
            paint = "never" if r["paint_ms"] is None else f"{r['paint_ms']:.0f} ms"
            print(f"run {i + 1} {name:5}: first paint {paint}, PSS {r['pss_kb'] / 1024:.1f} MB "
                  f"({parts}), anon {r['anon_kb'] / 1024:.1f} MB; load {r['load']}", flush=True)

    def col(name, key, scale=1.0):
        return [r[key] * scale for r in results[name] if r[key] is not None]

    print(f"# load after {common.loadavg()}")
    bp, ap_ = col("blank", "paint_ms"), col("app", "paint_ms")
    bm, am = col("blank", "pss_kb", 1 / 1024), col("app", "pss_kb", 1 / 1024)
    bu, au = col("blank", "anon_kb", 1 / 1024), col("app", "anon_kb", 1 / 1024)
    print("first paint  blank:", common.summary(bp, " ms"))
    print("first paint  app:  ", common.summary(ap_, " ms"))
    print("idle PSS     blank:", common.summary(bm, " MB"))
    print("idle PSS     app:  ", common.summary(am, " MB"))
    print("idle anon    blank:", common.summary(bu, " MB"))
    print("idle anon    app:  ", common.summary(au, " MB"))
    if bp and ap_:
        print(f"ratio first paint app/blank (medians): {statistics.median(ap_) / statistics.median(bp):.2f} (target <= 1.3, app < 1000 ms)")
    if bm and am:
        print(f"ratio idle PSS app/blank (medians): {statistics.median(am) / statistics.median(bm):.2f} (target <= 1.3)")
    if bu and au:
        print(f"ratio idle anon app/blank (medians): {statistics.median(au) / statistics.median(bu):.2f}")
    missing = len(results["app"]) - len(ap_) + len(results["blank"]) - len(bp)
    if missing:
        print(f"WARNING: {missing} runs never painted the probe pixel", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
