"""Shared pieces of the desktop-app benchmark (tests/perf): a hermetic environment for the app,
the process tree's PSS, one-pixel screen reads over Xlib, the load average, and small statistics.

Nothing here asserts timings: the scripts print figures for BENCHMARKS.md.
"""

import ctypes
import ctypes.util
import os
import shutil
import statistics
import subprocess
import tempfile
import time

# Variables that would configure a real Behest project: unset, so the app runs in demo mode.
PROJECT_VARS = (
    "BEHEST_KEY BEHEST_API_KEY BEHEST_BASE_URL BEHEST_KID BEHEST_TENANT_ID BEHEST_PROJECT_ID "
    "BEHEST_USER_ID BEHEST_TTL BEHEST_TIER BEHEST_ISSUER BEHEST_AUDIENCE BEHEST_TOKEN_URL "
    "BEHEST_SESSION_TOKEN"
).split()


def hermetic_env(extra=None):
    """A fresh HOME/config/data dir, no D-Bus session and no keyring: the app in demo mode.
    Returns (env, workdir)."""
    work = tempfile.mkdtemp(prefix="behest-perf-")
    for sub in ("home", "config", "data", "share"):
        os.makedirs(os.path.join(work, sub))
    env = {k: v for k, v in os.environ.items() if k not in PROJECT_VARS}
    env.update(
        HOME=os.path.join(work, "home"),
        XDG_CONFIG_HOME=os.path.join(work, "config"),
        XDG_DATA_HOME=os.path.join(work, "share"),
        BEHEST_DATA_DIR=os.path.join(work, "data"),
        DBUS_SESSION_BUS_ADDRESS="unix:path=" + os.path.join(work, "no-bus"),
        NO_AT_BRIDGE="1",
    )
    env.update(extra or {})
    return env, work


def loadavg():
    """The 1, 5 and 15 minute load averages as a string, e.g. '1.02 0.98 1.10'."""
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def descendants(root):
    """The pid and all its descendants (found by parent pid in /proc/<pid>/stat)."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may contain spaces and parentheses: split after the last ')'.
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def mem_tree_kb(root):
    """{'pss', 'uss', 'anon'} in kB summed from /proc/<pid>/smaps_rollup over a process and its
    descendants, and 'parts': the same per process name, {'pss': {comm: kB}, ...}. PSS and USS
    move when *another* process maps the same files (another instance of the same binary, other
    WebKit apps: their pages become shared), so on a shared machine `anon` (anonymous memory:
    heaps, JS heap, caches) is the figure that only this tree moves."""
    keys = {"Pss:": "pss", "Private_Clean:": "uss", "Private_Dirty:": "uss", "Anonymous:": "anon"}
    total = {"pss": 0, "uss": 0, "anon": 0, "parts": {"pss": {}, "uss": {}, "anon": {}}}
    for pid in descendants(root):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                lines = f.readlines()
        except OSError:
            continue
        name = comm(pid)
        for line in lines:
            key = keys.get(line.split(" ", 1)[0])
            if key:
                kb = int(line.split()[1])
                total[key] += kb
                total["parts"][key][name] = total["parts"][key].get(name, 0) + kb
    return total


def find_descendant(root, name):
    """The first descendant of root whose comm starts with name (comm is cut at 15 chars)."""
    for pid in descendants(root):
        if pid != root and name.startswith(comm(pid)) and comm(pid):
            return pid
    return None


class Screen:
    """Reads single pixels of the X root window through libX11 (about 0.1 ms a read), so first
    paint can be polled every 10 ms without the poller itself loading the machine."""

    def __init__(self, display=None):
        lib = ctypes.util.find_library("X11")
        if not lib:
            raise SystemExit("libX11 is missing: apt-get install libx11-6")
        x = ctypes.cdll.LoadLibrary(lib)
        x.XOpenDisplay.restype = ctypes.c_void_p
        x.XOpenDisplay.argtypes = [ctypes.c_char_p]
        x.XDefaultRootWindow.restype = ctypes.c_ulong
        x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        x.XGetImage.restype = ctypes.c_void_p
        x.XGetImage.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int,
                                ctypes.c_uint, ctypes.c_uint, ctypes.c_ulong, ctypes.c_int]
        x.XGetPixel.restype = ctypes.c_ulong
        x.XGetPixel.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        x.XDestroyImage.argtypes = [ctypes.c_void_p]
        name = (display or os.environ.get("DISPLAY", "")).encode()
        self.dpy = x.XOpenDisplay(name)
        if not self.dpy:
            raise SystemExit(f"cannot open X display {name!r}: run under Xvfb")
        self.root = x.XDefaultRootWindow(self.dpy)
        self.x = x

    def pixel(self, px, py):
        """The colour at (px, py) as '#rrggbb'."""
        all_planes, z_pixmap = 0xFFFFFFFF, 2
        img = self.x.XGetImage(self.dpy, self.root, px, py, 1, 1, all_planes, z_pixmap)
        if not img:
            return None
        value = self.x.XGetPixel(img, 0, 0)
        self.x.XDestroyImage(img)
        return "#%06x" % (value & 0xFFFFFF)


def summary(values, unit=""):
    """'median X (min A, max B, n=N)' of a list of numbers."""
    if not values:
        return "no data"
    med = statistics.median(values)
    return f"median {med:.1f}{unit} (min {min(values):.1f}, max {max(values):.1f}, n={len(values)})"


def percentile(values, p):
    """The p-th percentile (nearest rank) of a list of numbers."""
    ordered = sorted(values)
    rank = max(1, int(round(p / 100 * len(ordered) + 0.5)))
    return ordered[min(rank, len(ordered)) - 1]


def stop(proc):
    """Ends a process we started (SIGTERM, then SIGKILL) and reaps it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# First paint: the page's own background (the app's sidebar, `--bg-sidebar`; the blank page's
# only colour) at this pixel. No GTK or WebKit default paints it and the root window behind is
# black (Xvfb -br), so it shows only once the page itself is on screen (startup.py).
PAGE_COLOUR = "#f4f4f6"
PROBE = (100, 400)


def start_until_painted(binary, screen, extra_env=None, limit_s=20.0, poll_s=0.010):
    """Starts `binary` in a hermetic environment and polls the probe pixel every `poll_s` until
    the page colour shows. Returns (proc, work dir, ms from spawn to first paint), the last None
    when it did not paint within `limit_s` or exited first; end it with `end_run`."""
    env, work = hermetic_env(extra_env)
    if screen.pixel(*PROBE) == PAGE_COLOUR:
        raise SystemExit("the probe pixel already shows the page colour: is another window open on this display?")
    start = time.monotonic()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while time.monotonic() - start < limit_s:
        if screen.pixel(*PROBE) == PAGE_COLOUR:
            return proc, work, (time.monotonic() - start) * 1000.0
        if proc.poll() is not None:
            break
        time.sleep(poll_s)
    return proc, work, None


def end_run(proc, work, screen):
    """Stops a run's process, removes its work directory, and waits (up to 3 s) until the probe
    pixel no longer shows the page, so the next run starts on an empty screen."""
    stop(proc)
    shutil.rmtree(work, ignore_errors=True)
    for _ in range(300):
        if screen.pixel(*PROBE) != PAGE_COLOUR:
            break
        time.sleep(0.01)


def now_ms():
    return time.monotonic() * 1000.0
