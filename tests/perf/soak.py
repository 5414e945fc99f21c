"""Memory after heavy use (issue 4, Performance item 3), driving the real UI over tauri-driver.

The app starts in demo mode with the gateway at full speed (BEHEST_DEMO_DELAY_MS=0) and tier
max (BEHEST_TIER=max: 300 requests/min, so the run is not throttled by the gateway). Then:
  idle     PSS of the process tree IDLE (at least SETTLE) seconds after the UI is ready;
  setup    100 conversations made through the UI (new chat, one short prompt each);
  cycle k  (a) a new chat fed prompts until at least MB megabytes of reply text (rendered
           characters, so the Markdown streamed is a little more) are in that one conversation,
           PSS; (b) each of the 100 conversations opened from the sidebar, PSS.
PSS and anonymous memory (see common.mem_tree_kb: PSS also moves when other processes on the
machine map the same binary or WebKit libraries) are read SETTLE seconds after the step (no forced GC: WebKit offers none to the page;
the default 35 s lets one of the web process's 30 s memory polls, where it releases, pass).
The demo reply quotes up to 2,000 characters of the prompt, so each prompt is 2,000 characters
and each reply about 2.6 kB: 1 MB is about 390 turns.

    python tests/perf/soak.py --app BIN [--mb 1] [--conversations 100] [--cycles 4]
"""

import argparse
import json
import time

import common
from driver import App


def prompt(turn):
    words = " ".join(f"t{turn:04d}w{i:03d}" for i in range(200))
    return words[:2000]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--app", required=True)
    ap.add_argument("--mb", type=float, default=1.0)
    ap.add_argument("--conversations", type=int, default=100)
    ap.add_argument("--cycles", type=int, default=4)
    ap.add_argument("--idle", type=float, default=35.0)
    ap.add_argument("--settle", type=float, default=35.0)
    ap.add_argument("--json")
    args = ap.parse_args()

    rows = []

    def record(app, step, **extra):
        time.sleep(args.settle)
        mem = common.mem_tree_kb(app.pid)  # one read for PSS and anonymous memory
        mb, anon = mem["pss"] / 1024.0, mem["anon"] / 1024.0
        parts, anon_parts = ({k: round(v / 1024, 1) for k, v in mem["parts"][key].items()}
                             for key in ("pss", "anon"))
        row = {"step": step, "pss_mb": round(mb, 1), "anon_mb": round(anon, 1), "parts": parts,
               "anon_parts": anon_parts, "load": common.loadavg(), **extra}
        rows.append(row)
        over, anon_over = mb - rows[0]["pss_mb"], anon - rows[0]["anon_mb"]
        print(f"{step:34} PSS {mb:6.1f} MB ({over:+6.1f} over idle), anon {anon:6.1f} MB "
              f"({anon_over:+6.1f} over idle) PSS {parts} anon {anon_parts}; load {row['load']}"
              + (f"; {extra}" if extra else ""), flush=True)

    # Tier "max" (300 requests/min): the demo gateway enforces the tier limits, and the default
    # tier's 60/min would make the client wait out 429s for most of the run.
    with App(args.app, {"BEHEST_DEMO_DELAY_MS": "0", "BEHEST_TIER": "max"}) as app:
        time.sleep(args.idle - args.settle if args.idle > args.settle else 0)
        record(app, "idle")
        t0 = time.monotonic()
        for i in range(args.conversations):
            app.new_chat()
            app.send_and_wait(f"Conversation {i:03d}: hello there")
        record(app, f"setup {args.conversations} conversations", seconds=round(time.monotonic() - t0, 1))
        for cycle in range(1, args.cycles + 1):
            app.new_chat()
            t0, total, turns = time.monotonic(), 0, 0
            while total < args.mb * 1_000_000:
                got = app.send_and_wait(prompt(turns) + f" c{cycle}")
                if got == 0:
                    raise SystemExit(f"cycle {cycle}: reply {turns} came back empty after "
                                     f"{total / 1e6:.2f} MB (see BENCHMARKS.md: request size limit)")
                total += got
                turns += 1
            record(app, f"cycle {cycle}: {total / 1e6:.2f} MB streamed", turns=turns,
                   seconds=round(time.monotonic() - t0, 1))
            t0 = time.monotonic()
            count = app.driver.execute_script(
                "return document.querySelectorAll('#conversation-list .conv-item').length")
            opened = 0
            # The sidebar lists the newest first: the 100 small conversations follow the big ones.
            for index in range(count - args.conversations, count):
                app.open_conversation(index)
                opened += 1
            record(app, f"cycle {cycle}: opened {opened}", seconds=round(time.monotonic() - t0, 1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
