"""End-to-end test of updates in the real webview: the app's quiet check finds a newer version
on the update endpoint (a local server standing in for the GitHub release, at the
BEHEST_UPDATE_URL that tests/e2e/run.sh gives the app), offers it in the status bar and in
Settings with its notes, installs nothing until the user presses Install, and then refuses the
download because its signature does not verify: the app binary is left as it was.
"""

import base64
import hashlib
import http.server
import json
import os
import threading
import urllib.parse

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from test_app import APP, launch, require_environment, shot

VERSION = "9.9.9"
NOTES = "Faster streams.\nExport from the app."
# Not a valid minisign signature (the corrupt signature block does not decode; making a
# well-formed one with another key would need minisign here): the updater must refuse it.
FORGED = base64.b64encode(
    b"untrusted comment: signature from an attacker\n"
    b"RUQf6LRCGA9i559r3g7V1qNyJDApGip8MfqcadIgT9CuhV3EMhHoN1mGTkUidF/z7SrlQgXdy8ofjb7bNJJylDOocrCo8KLzZwo=\n"
    b"trusted comment: timestamp:1700000000\tfile:behest-desktop.tar.gz\n"
    b"AAAA\n"
).decode()


class UpdateServer(http.server.ThreadingHTTPServer):
    """Serves latest.json and the (unsigned) bundle; remembers every path asked for."""

    def __init__(self, port):
        self.paths = []
        self.base = f"http://127.0.0.1:{port}"
        super().__init__(("127.0.0.1", port), Handler)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        path = urllib.parse.urlparse(self.path).path
        self.server.paths.append(path)
        if path == "/latest.json":
            manifest = {
                "version": VERSION,
                "notes": NOTES,
                "pub_date": "2026-11-29T12:00:00Z",
                "platforms": {
                    target: {"signature": FORGED, "url": self.server.base + "/behest-desktop.tar.gz"}
                    for target in ("linux-x86_64", "linux-x86_64-deb", "linux-x86_64-appimage")
                },
            }
            body = json.dumps(manifest).encode()
            kind = "application/json"
        elif path == "/behest-desktop.tar.gz":
            body = b"not a real bundle " * 64
            kind = "application/octet-stream"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    url = os.environ.get("BEHEST_UPDATE_URL", "")
    assert url.startswith("http://127.0.0.1:"), "BEHEST_UPDATE_URL is not set: run tests/e2e/run.sh"
    srv = UpdateServer(urllib.parse.urlparse(url).port)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_an_update_is_offered_and_installed_only_when_verified(server):
    require_environment()
    before = digest(APP)
    driver = launch()
    try:
        pill = WebDriverWait(driver, 20).until(
            lambda d: (lambda p: p if p.is_displayed() else None)(d.find_element(By.ID, "update-pill"))
        )
        assert pill.text == f"Update {VERSION} available"
        assert "/latest.json" in server.paths
        assert "/behest-desktop.tar.gz" not in server.paths, "nothing is downloaded before the user agrees"
        shot(driver, "40-update-offered")

        pill.click()
        WebDriverWait(driver, 5).until(lambda d: d.find_element(By.ID, "settings-dialog").is_displayed())
        status = driver.find_element(By.ID, "update-status")
        assert f"Version {VERSION} is available" in status.text
        assert driver.find_element(By.ID, "update-notes").text == NOTES
        install = driver.find_element(By.ID, "install-update")
        assert install.text == f"Install version {VERSION}"
        shot(driver, "41-update-in-settings")

        install.click()
        WebDriverWait(driver, 20).until(lambda d: "was not installed" in d.find_element(By.ID, "update-status").text)
        message = driver.find_element(By.ID, "update-status").text
        assert "signature does not verify" in message and "nothing was installed" in message, message
        assert "/behest-desktop.tar.gz" in server.paths, "the bundle was fetched, then refused"
        assert not driver.find_element(By.ID, "restart-app").is_displayed()
        assert digest(APP) == before, "the app was not touched"
        shot(driver, "42-update-refused")
    finally:
        driver.quit()
