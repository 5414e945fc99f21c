"""tauri-driver + selenium plumbing for the desktop-app benchmark: a private tauri-driver on its own
ports (so it never collides with tests/e2e on 4444), the app launched hermetically in demo mode,
and the UI actions the benchmark drives (type a prompt and wait for the reply, open a
conversation from the sidebar).
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.common.options import ArgOptions
from selenium.webdriver.support.ui import WebDriverWait

import common

PORT = int(os.environ.get("BEHEST_PERF_DRIVER_PORT", "4464"))


class App:
    """One app session: `with App(binary, extra_env) as app: app.driver...; app.pid`."""

    def __init__(self, binary, extra_env=None):
        self.binary = binary
        self.env, self.work = common.hermetic_env(extra_env)
        self.proc = None
        self.driver = None
        self.pid = None

    def __enter__(self):
        # A SIGTERM to the benchmark still runs __exit__, so tauri-driver does not outlive it.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        exe = shutil.which("tauri-driver")
        if not exe:
            raise SystemExit("tauri-driver is missing: cargo install tauri-driver --locked")
        if not shutil.which("WebKitWebDriver"):
            raise SystemExit("WebKitWebDriver is missing: apt-get install webkit2gtk-driver")
        for _ in range(100):  # the previous session's WebKitWebDriver may still hold the port
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", PORT + 1)) != 0:
                    break
            time.sleep(0.1)
        log = open(os.path.join(self.work, "driver.log"), "w")
        self.proc = subprocess.Popen(
            [exe, "--port", str(PORT), "--native-port", str(PORT + 1)],
            env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        # tauri-driver listens at once but forwards to WebKitWebDriver, which it starts alongside:
        # a session asked for before that one listens is refused, so wait for both ports.
        for port in (PORT, PORT + 1):
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
        try:
            return self._session()
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def _session(self):
        options = ArgOptions()
        options.set_capability("browserName", "wry")
        options.set_capability("tauri:options", {"application": self.binary})
        self.driver = webdriver.Remote(command_executor=f"http://127.0.0.1:{PORT}", options=options)
        self.driver.set_script_timeout(120)
        WebDriverWait(self.driver, 30).until(
            lambda d: d.execute_script("return document.body.dataset.ready === 'true'"))
        name = os.path.basename(self.binary)
        self.pid = common.find_descendant(self.proc.pid, name)
        if self.pid is None:
            raise SystemExit(f"could not find the {name} process under tauri-driver")
        return self

    def __exit__(self, *exc):
        try:
            if self.driver:
                self.driver.quit()
        except Exception:  # the session may already be gone; the processes are ended below
            pass
        finally:
            for pid in reversed(common.descendants(self.proc.pid)[1:]):
                try:
                    os.kill(pid, signal.SIGTERM)
                except OSError:
                    pass
            common.stop(self.proc)
        shutil.rmtree(self.work, ignore_errors=True)

    def send_and_wait(self, text):
        """Types a prompt the way a user does (value set, then Enter in the composer) and waits
        until the reply is complete. Returns the reply's rendered text length."""
        d = self.driver
        # Mark the answers already shown: the page keeps only the latest messages (older ones
        # leave the DOM), so counting them would not show a new one.
        d.execute_script(
            "document.querySelectorAll('#thread .msg.assistant').forEach((m) => m.dataset.perfSeen = '1')")
        d.execute_script(
            "const p = document.getElementById('prompt'); p.value = arguments[0];"
            "p.dispatchEvent(new Event('input', {bubbles: true}));", text)
        d.find_element(By.ID, "prompt").send_keys(Keys.ENTER)
        return d.execute_async_script(
            """
            const done = arguments[0];
            const tick = () => {
              const msgs = document.querySelectorAll('#thread .msg.assistant');
              const last = msgs[msgs.length - 1];
              if (last && !last.dataset.perfSeen && document.getElementById('stop').hidden) {
                const md = last.querySelector('.md');
                done(md ? md.textContent.length : 0);
              } else { setTimeout(tick, 10); }
            };
            tick();
            """
        )

    def new_chat(self):
        self.driver.find_element(By.ID, "new-chat").click()

    def open_conversation(self, index):
        """Clicks the index-th conversation in the sidebar and waits until its title is shown.
        The click is dispatched in the page (one script), because the sidebar is redrawn when a
        stream's bookkeeping finishes and a WebDriver element found earlier may be stale."""
        d = self.driver
        want = d.execute_script(
            """
            const b = document.querySelectorAll('#conversation-list .conv-item .conv-open')[arguments[0]];
            b.scrollIntoView({block: 'center'});
            const title = b.childNodes[0] ? b.childNodes[0].textContent : '';
            b.click();
            return title;
            """,
            index,
        )
        WebDriverWait(d, 10).until(
            lambda dd: dd.execute_script("return document.getElementById('conv-title').textContent") == want)
