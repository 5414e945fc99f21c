"""Chunk delivery from the gateway to the DOM (issue 4, Performance item 4), in the real app.

Method. The demo gateway's reply quotes the prompt one word per chunk, so a prompt of unique
sequence words ("x<turn:02><i:03>") gives chunks whose text identifies them. Both ends are
stamped on the same clock, CLOCK_REALTIME:
  sent     tcpdump on loopback, filtered to packets *from* the gateway's port: the kernel stamps
           each packet (microseconds) as the gateway's write leaves it, before the app's HTTP
           client, SSE decoder, Channel and JS see it;
  landed   a MutationObserver on #thread (installed through execute_script) that, on every DOM
           change, scans the streaming message's text for new sequence words and stamps them
           with Date.now() (milliseconds, CLOCK_REALTIME; performance.now() is not used because
           only its sum with timeOrigin would share the clock).
latency = landed - sent. Error: Date.now() is floored to the millisecond, so each sample is
0-1 ms low; the tcpdump stamp is taken in the kernel's loopback path (a few microseconds).
The page also runs a 10 ms setInterval and reports the longest gap between its ticks during the
stream (how long the UI's main thread was busy at a stretch).

Throughput: the same, with the gateway at full speed (BEHEST_DEMO_DELAY_MS=0); chunks/s =
chunks of the reply / (last chunk landed - first chunk sent). Every reply's final text is checked:
all sequence words present, once, in order.

    python tests/perf/chunks.py --app BIN [--turns 8]
"""

import argparse
import json
import re
import socket
import subprocess
import tempfile
import time

import common
from driver import App

WORD = re.compile(r"x(\d{5})")

OBSERVER = """
window.__perf = {seen: new Set(), landed: {}, gaps: [], last: performance.now(), maxGap: 0};
const perf = window.__perf;
const scan = () => {
  const msgs = document.querySelectorAll('#thread .msg.assistant .md');
  if (!msgs.length) return;
  const text = msgs[msgs.length - 1].textContent;
  const now = Date.now();
  for (const m of text.matchAll(/x(\\d{5})/g)) {
    if (!perf.seen.has(m[1])) { perf.seen.add(m[1]); perf.landed[m[1]] = now; }
  }
};
new MutationObserver(scan).observe(document.getElementById('thread'),
  {subtree: true, childList: true, characterData: true});
setInterval(() => {
  const t = performance.now();
  perf.maxGap = Math.max(perf.maxGap, t - perf.last);
  perf.last = t;
}, 10);
"""


def gateway_port(pid):
    """The demo gateway's port: the app's loopback listener that answers HTTP (the app may also
    listen for WebKit's automation session, which does not)."""
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if f"pid={pid}," not in line or "127.0.0.1:" not in line:
            continue
        port = int(line.split()[3].rsplit(":", 1)[1])
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.settimeout(1)
                s.sendall(b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                if s.recv(5) == b"HTTP/":
                    return port
        except OSError:
            continue
    raise SystemExit(f"no loopback HTTP listener of pid {pid}: is the app in demo mode?")


class Capture:
    """tcpdump of the packets the gateway sends: {word: first stamp in ms (CLOCK_REALTIME)}."""

    def __init__(self, port):
        # Output to a file, not a pipe: a full pipe would make tcpdump drop packets.
        self.out = tempfile.TemporaryFile(mode="w+", errors="replace")
        self.proc = subprocess.Popen(
            ["tcpdump", "-i", "lo", "-n", "-l", "-tt", "--time-stamp-precision=micro", "-A",
             "-s", "0", f"tcp src port {port}"],
            stdout=self.out, stderr=subprocess.PIPE, text=True, errors="replace")
        for _ in range(5):  # "listening on lo ..." once capturing
            line = self.proc.stderr.readline()
            if "listening" in line:
                break
        else:
            raise SystemExit(f"tcpdump did not start: {line.strip()} (apt-get install tcpdump; needs root)")

    def stop(self):
        time.sleep(0.3)
        self.proc.terminate()
        self.proc.communicate(timeout=10)
        self.out.seek(0)
        out = self.out.read()
        self.out.close()
        sent, stamp, events = {}, None, []
        for line in out.splitlines():
            head = re.match(r"^(\d+\.\d{6}) IP ", line)
            if head:
                stamp = float(head.group(1)) * 1000.0
                continue
            for m in WORD.finditer(line):
                sent.setdefault(m.group(1), stamp)
            events.extend([stamp] * line.count("data: {"))
        return sent, events


def prompt(turn):
    return " ".join(f"x{turn:02d}{i:03d}" for i in range(285))


def run(binary, delay_ms, turns, label):
    samples, rates, problems, gaps, chunk_counts = [], [], [], [], []
    with App(binary, {"BEHEST_DEMO_DELAY_MS": str(delay_ms)}) as app:
        time.sleep(2)
        port = gateway_port(app.pid)
        app.driver.execute_script(OBSERVER)
        load = common.loadavg()
        for turn in range(turns):
            app.driver.execute_script(
                "window.__perf.seen.clear(); window.__perf.landed = {}; window.__perf.maxGap = 0;"
                "window.__perf.last = performance.now();")
            cap = Capture(port)
            app.send_and_wait(prompt(turn))
            perf = app.driver.execute_script(
                "const md = [...document.querySelectorAll('#thread .msg.assistant .md')].pop();"
                "return {landed: window.__perf.landed, maxGap: window.__perf.maxGap, text: md.textContent};")
            sent, events = cap.stop()
            want = [f"{turn:02d}{i:03d}" for i in range(285)]
            got = WORD.findall(perf["text"])
            if got != want:
                problems.append(f"turn {turn}: final text has {len(got)} words, in order: {got == sorted(got)}")
            lat = [perf["landed"][w] - sent[w] for w in want if w in perf["landed"] and w in sent]
            if len(lat) < len(want):
                problems.append(f"turn {turn}: only {len(lat)} of {len(want)} words stamped at both ends")
            samples.extend(lat)
            gaps.append(perf["maxGap"])
            chunk_counts.append(len(events))
            first_sent = min(events) if events else min(sent.values())
            last_landed = max(perf["landed"].values())
            rates.append(len(events) / ((last_landed - first_sent) / 1000.0))
        load = f"{load} -> {common.loadavg()}"
    print(f"## {label}: BEHEST_DEMO_DELAY_MS={delay_ms}, {turns} replies of ~{sum(chunk_counts) // max(1, turns)} chunks; load {load}")
    if samples:
        print(f"latency gateway->DOM: p50 {common.percentile(samples, 50):.1f} ms, "
              f"p99 {common.percentile(samples, 99):.1f} ms, max {max(samples):.1f} ms (n={len(samples)})")
    print(f"chunks/s per reply (first sent -> last landed): {common.summary(rates)}")
    print(f"longest main-thread gap between 10 ms ticks per reply: {common.summary(gaps, ' ms')}")
    print("dropped/reordered:", "none" if not problems else "; ".join(problems), flush=True)
    return {"label": label, "delay_ms": delay_ms, "latency_ms": samples, "rates": rates,
            "gaps_ms": gaps, "chunks": chunk_counts, "problems": problems, "load": load}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--app", required=True)
    ap.add_argument("--turns", type=int, default=8)
    ap.add_argument("--json")
    args = ap.parse_args()
    out = [run(args.app, 5, args.turns, "200 chunks/s"), run(args.app, 0, args.turns, "full speed")]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f)


if __name__ == "__main__":
    main()
