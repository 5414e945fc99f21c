"""End-to-end test of the developer panel (issue 6, item 2) in the real webview.

Runs after test_app.py (file order) on the same hermetic demo-mode data dir. It sends one
message, opens the panel with Ctrl+Shift+D, reads the session token's claims and watches the
expiry countdown decrease, presses Copy token and reads the X clipboard (xclip) to find a JWT
whose claims are those shown, presses Run and sees every check pass as it arrives, then checks
the recent requests (a chat with its real status, trace id and redacted request headers) and
the conversation's metrics (usage included). Screenshots: devpanel-*.png.

The test process sees the copied token only to compare its claims; it is never printed, logged
or put on the page (so never in a screenshot), and the clipboard is cleared afterwards.
"""

import base64
import json
import os
import re
import shutil
import subprocess

import test_app
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from test_app import assistant_messages, launch, send, shot, streaming

# Lets this file run alone against a driver on another port (run.sh uses the default).
test_app.DRIVER_URL = os.environ.get("BEHEST_E2E_DRIVER_URL", test_app.DRIVER_URL)


def painted_shot(driver, name):
    """A screenshot once the page has painted two frames (scrolls and theme switches settle)."""
    driver.execute_async_script(
        "const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(done, 50)));"
    )
    return shot(driver, name)


def panel_open(driver):
    return driver.execute_script("const d = document.getElementById('dev-dialog'); return !!(d && d.open)")


def scroll_to(driver, element_id):
    driver.execute_script("document.getElementById(arguments[0]).scrollIntoView({block: 'start'})", element_id)


def clipboard_text():
    """The X clipboard's text (the app and this test share the Xvfb DISPLAY)."""
    xclip = shutil.which("xclip")
    assert xclip, "xclip is missing: apt-get install xclip"
    done = subprocess.run([xclip, "-o", "-selection", "clipboard"], capture_output=True, timeout=5, env=os.environ)
    return done.stdout.decode("utf-8", "replace") if done.returncode == 0 else ""


def clear_clipboard():
    xclip = shutil.which("xclip")
    subprocess.run([xclip, "-i", "-selection", "clipboard"], input=b"", timeout=5, env=os.environ)


def jwt_part(token, index):
    """Decodes one part of a JWT (never printed)."""
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def countdown_left(driver):
    value = driver.find_element(By.ID, "dev-countdown").get_attribute("data-left")
    return int(value) if value else None


def test_developer_panel_shows_token_checks_requests_and_metrics():
    driver = launch()
    try:
        driver.find_element(By.ID, "new-chat").click()
        send(driver, "Hello from the developer test")
        WebDriverWait(driver, 10).until(lambda d: streaming(d))
        WebDriverWait(driver, 30).until(lambda d: len(assistant_messages(d)) == 1 and not streaming(d))

        # Open with the keyboard shortcut.
        ActionChains(driver).key_down(Keys.CONTROL).key_down(Keys.SHIFT).send_keys("d") \
            .key_up(Keys.SHIFT).key_up(Keys.CONTROL).perform()
        WebDriverWait(driver, 5).until(panel_open)

        # The connection and the token's header and claims.
        WebDriverWait(driver, 10).until(lambda d: '"tid"' in d.find_element(By.ID, "dev-token-claims").text)
        claims = driver.find_element(By.ID, "dev-token-claims").text
        header = driver.find_element(By.ID, "dev-token-header").text
        for claim in ('"tid"', '"pid"', '"uid"', '"exp"', '"iat"', '"iss"', '"aud"'):
            assert claim in claims, claim
        assert '"RS256"' in header and '"kid"' in header
        config = driver.find_element(By.ID, "dev-config").text
        assert "Demo (local gateway)" in config
        assert "http://127.0.0.1:" in config

        # A live countdown that decreases.
        WebDriverWait(driver, 5).until(lambda d: countdown_left(d) is not None)
        text = driver.find_element(By.ID, "dev-countdown").text
        assert re.match(r"Expires in \d+:\d\d", text), text
        first = countdown_left(driver)
        WebDriverWait(driver, 5, poll_frequency=0.2).until(lambda d: countdown_left(d) < first)
        painted_shot(driver, "devpanel-token")

        # Copy token puts the session's token on the clipboard: a JWT whose header and claims
        # are exactly those the panel shows (the same token, not a fresh one).
        shown_claims = json.loads(driver.find_element(By.ID, "dev-token-claims").get_attribute("textContent"))
        shown_header = json.loads(driver.find_element(By.ID, "dev-token-header").get_attribute("textContent"))
        clear_clipboard()
        driver.find_element(By.ID, "dev-copy-token").click()
        WebDriverWait(driver, 10, poll_frequency=0.2).until(lambda d: clipboard_text().count(".") == 2)
        copied = clipboard_text().strip()
        try:
            # Booleans first: pytest's assertion report must never print the token.
            is_jwt = re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", copied) is not None
            assert is_jwt, "the clipboard holds no JWT"
            copied_claims, copied_header = jwt_part(copied, 1), jwt_part(copied, 0)
            assert copied_claims == shown_claims, "the copied token's claims differ from the panel's"
            assert copied_header == shown_header, "the copied token's header differs from the panel's"
            assert copied_claims["jti"], "the token has a jti"
            # The page still shows no token, and the panel kept showing the same one.
            page = driver.execute_script("return document.body.innerText")
            on_page = copied in page or copied.split(".")[2] in page
            assert not on_page, "the token reached the page"
            after = json.loads(driver.find_element(By.ID, "dev-token-claims").get_attribute("textContent"))
            assert after["jti"] == copied_claims["jti"]
        finally:
            copied = None
            clear_clipboard()

        # Run the checks: results appear, then the summary; every one passes in demo mode.
        run = driver.find_element(By.ID, "dev-run")
        scroll_to(driver, "dev-checks-title")
        run.click()
        WebDriverWait(driver, 30).until(
            lambda d: "checks" in d.find_element(By.ID, "dev-check-summary").text
            and not d.find_element(By.ID, "dev-run").get_attribute("disabled")
        )
        summary = driver.find_element(By.ID, "dev-check-summary").text
        items = driver.find_elements(By.CSS_SELECTOR, "#dev-checks li.dev-check")
        names = [i.get_attribute("data-name") for i in items]
        failed = [i.text for i in items if "ok" not in i.get_attribute("class").split()]
        assert not failed, failed
        assert len(items) >= 15, names
        for name in ("config.mode", "token.mint", "verify.signature", "chat.completion", "limits.usage"):
            assert name in names, name
        assert summary == f"✓ All {len(items)} checks passed", summary
        assert all(i.find_element(By.CSS_SELECTOR, ".dev-mark").text == "✓" for i in items)
        painted_shot(driver, "devpanel-checks")

        # The recent requests: a chat with its trace id, and the check run on top.
        scroll_to(driver, "dev-requests-title")
        WebDriverWait(driver, 5).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#dev-requests tr.dev-request"))
        rows = driver.find_elements(By.CSS_SELECTOR, "#dev-requests tr.dev-request")
        assert rows[0].get_attribute("data-kind") == "check"
        chats = [r for r in rows if r.get_attribute("data-kind") == "chat"]
        assert chats, [r.text for r in rows]
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", chats[0])
        painted_shot(driver, "devpanel-requests")
        # A success shows its real HTTP status, not a class.
        assert chats[0].find_element(By.CSS_SELECTOR, ".dev-status").text == "200"
        # The request headers, behind an expandable row, with the bearer redacted.
        toggle = chats[0].find_element(By.CSS_SELECTOR, "button.dev-expand")
        assert toggle.get_attribute("aria-expanded") == "false"
        detail = driver.find_element(By.ID, toggle.get_attribute("aria-controls"))
        assert not detail.is_displayed()
        toggle.click()
        WebDriverWait(driver, 5).until(lambda d: detail.is_displayed())
        assert toggle.get_attribute("aria-expanded") == "true"
        names = [e.get_attribute("textContent") for e in detail.find_elements(By.CSS_SELECTOR, ".dev-headers dt")]
        values = [e.get_attribute("textContent") for e in detail.find_elements(By.CSS_SELECTOR, ".dev-headers dd")]
        headers = dict(zip(names, values))
        assert headers.get("authorization") == "Bearer [redacted]", headers
        assert headers.get("content-type") == "application/json", headers
        assert headers.get("accept") == "text/event-stream", headers
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", detail)
        painted_shot(driver, "devpanel-request-headers")
        toggle.click()
        WebDriverWait(driver, 5).until(lambda d: not detail.is_displayed())
        code = chats[0].find_element(By.CSS_SELECTOR, ".dev-trace code")
        assert code.is_displayed()
        trace = code.get_attribute("textContent")
        assert trace.strip(), "the chat has a trace id"
        assert chats[0].find_element(By.CSS_SELECTOR, ".dev-trace button").get_attribute("aria-label").startswith("Copy trace id")
        # (WebKitWebDriver leaves ellipsized cells out of .text: read their textContent.)
        assert chats[0].find_element(By.CSS_SELECTOR, ".dev-path").get_attribute("textContent") == "/v1/chat/completions"

        # The conversation's per-answer metrics.
        metrics = driver.find_elements(By.CSS_SELECTOR, "#dev-metrics tr.dev-metric")
        assert len(metrics) == 1
        cells = metrics[0].find_elements(By.TAG_NAME, "td")
        assert cells[1].text.endswith(" ms"), cells[1].text
        assert re.match(r"\d+(\.\d)?$", cells[2].text), cells[2].text
        # The answer's usage: the gateway's total token count, a positive integer.
        assert re.fullmatch(r"\d+", cells[3].text), cells[3].text
        assert int(cells[3].text) > 0, cells[3].text
        assert cells[4].find_element(By.TAG_NAME, "code").get_attribute("textContent") == trace
        assert "answer" in driver.find_element(By.ID, "dev-metrics-summary").text
        driver.execute_script("arguments[0].scrollIntoView({block: 'end'})", metrics[0])
        painted_shot(driver, "devpanel-metrics")

        # Nothing secret is on the page.
        page = driver.execute_script("return document.getElementById('dev-dialog').innerText")
        assert "eyJ" not in page and "PRIVATE KEY" not in page

        # An origin the project does not allow fails with a hint naming the setting.
        scroll_to(driver, "dev-checks-title")
        origins = driver.find_element(By.ID, "dev-origins")
        origins.send_keys("https://evil.example")
        origins.send_keys(Keys.ENTER)
        WebDriverWait(driver, 30).until(lambda d: "failed" in d.find_element(By.ID, "dev-check-summary").text)
        cors = driver.find_element(By.CSS_SELECTOR, '#dev-checks li[data-name="cors:https://evil.example"]')
        assert "fail" in cors.get_attribute("class").split()
        assert "Allowed Origins" in cors.find_element(By.CSS_SELECTOR, ".dev-check-hint").text
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", cors)
        painted_shot(driver, "devpanel-cors-fail")

        # Esc closes it; the sidebar button opens it again. (Reopening after a theme switch also
        # makes WebKit repaint the top layer, which it does not do for a live switch under Xvfb.)
        for theme in ("light", "dark"):
            driver.find_element(By.ID, "dev-close").send_keys(Keys.ESCAPE)
            WebDriverWait(driver, 5).until(lambda d: not panel_open(d))
            driver.execute_script("document.documentElement.dataset.theme = arguments[0]", theme)
            driver.find_element(By.ID, "open-dev").click()
            WebDriverWait(driver, 5).until(panel_open)
            WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#dev-requests tr.dev-request"))
            WebDriverWait(driver, 10).until(lambda d: countdown_left(d) is not None)
            driver.execute_script("document.querySelector('#dev-dialog .dev-body').scrollTop = 0")
            painted_shot(driver, f"devpanel-{theme}")
            scroll_to(driver, "dev-requests-title")
            painted_shot(driver, f"devpanel-{theme}-requests")
    finally:
        driver.quit()
