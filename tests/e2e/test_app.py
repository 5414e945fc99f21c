"""End-to-end tests of Behest Desktop in the real webview, over tauri-driver.

Run through tests/e2e/run.sh (it starts the driver and makes the app hermetic). The tests run in
file order and share one data directory: later ones rely on what earlier ones saved.
"""

import json
import os
import re
import time
import urllib.request

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.common.options import ArgOptions
from selenium.webdriver.support.ui import WebDriverWait

APP = os.environ.get("BEHEST_APP_BINARY", "")
SHOTS = os.environ.get("BEHEST_E2E_SHOTS", "target/e2e-screenshots")
# tauri-driver's port: run.sh passes BEHEST_E2E_PORT (default 4444) so concurrent runs don't collide.
DRIVER_URL = f"http://127.0.0.1:{os.environ.get('BEHEST_E2E_PORT', '4444')}"


def require_environment():
    if not APP or not os.access(APP, os.X_OK):
        pytest.fail(f"the app binary is missing ({APP!r}): run tests/e2e/run.sh after cargo build -p behest-desktop")


def launch():
    require_environment()
    options = ArgOptions()
    options.set_capability("browserName", "wry")
    options.set_capability("tauri:options", {"application": APP})
    try:
        driver = webdriver.Remote(command_executor=DRIVER_URL, options=options)
    except WebDriverException as error:
        pytest.fail(f"could not start the app through tauri-driver at {DRIVER_URL}: {error}")
    driver.set_script_timeout(30)
    WebDriverWait(driver, 20).until(lambda d: d.execute_script("return document.body.dataset.ready === 'true'"))
    return driver


# WebKitGTK's WebDriver answers a screenshot after the page's next rendering update, and a page
# where nothing changes makes none: the call then waits for good (seen with the help dialog open
# and the status bar idle). So while a screenshot is taken, a 1 px mark in a corner, all but
# transparent and outside the layout, changes every 50 ms; it is gone again afterwards.
REPAINT_START = """
if (!window.__e2eRepaint) {
  const mark = document.createElement('div');
  mark.setAttribute('aria-hidden', 'true');
  mark.style.cssText = 'position:fixed;right:0;bottom:0;width:1px;height:1px;pointer-events:none;background:#000;opacity:0.01';
  document.documentElement.append(mark);
  let odd = false;
  const timer = setInterval(() => { odd = !odd; mark.style.opacity = odd ? '0.02' : '0.01'; }, 50);
  window.__e2eRepaint = { mark, timer };
}
"""
REPAINT_STOP = """
const repaint = window.__e2eRepaint;
if (repaint) { clearInterval(repaint.timer); repaint.mark.remove(); delete window.__e2eRepaint; }
"""


def shot(driver, name):
    os.makedirs(SHOTS, exist_ok=True)
    path = os.path.join(SHOTS, name + ".png")
    driver.execute_script(REPAINT_START)
    try:
        driver.save_screenshot(path)
    finally:
        driver.execute_script(REPAINT_STOP)
    return path


def invoke(driver, command, args=None):
    """Calls a command the way the UI does and returns {ok, value} or {ok: false, error}."""
    return driver.execute_async_script(
        """
        const [command, args, done] = arguments;
        window.__TAURI__.core.invoke(command, args)
          .then((value) => done({ok: true, value}))
          .catch((error) => done({ok: false, error}));
        """,
        command,
        args or {},
    )


def script_fault(driver, fault):
    """Scripts the app's demo gateway (on loopback) to answer the next chat with `fault`."""
    status = invoke(driver, "app_status")
    assert status["ok"], status
    base = status["value"]["baseUrl"]
    assert base.startswith("http://127.0.0.1:")
    body = json.dumps({"route": "chat", "fault": fault}).encode()
    request = urllib.request.Request(base + "/__behest/faults", data=body, method="POST",
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 204


def assistant_messages(driver):
    return driver.find_elements(By.CSS_SELECTOR, "#thread .msg.assistant")


def streaming(driver):
    return driver.execute_script("return !document.getElementById('stop').hidden")


def send(driver, text):
    prompt = driver.find_element(By.ID, "prompt")
    prompt.click()
    prompt.send_keys(text)
    prompt.send_keys(Keys.ENTER)


def wait_done(driver, timeout=30):
    WebDriverWait(driver, timeout).until(lambda d: len(assistant_messages(d)) > 0 and not streaming(d))


def highlighted(driver, answer, why):
    """Waits until the answer's code block is highlighted (spans from highlight.js inside)."""
    WebDriverWait(driver, 5).until(
        lambda d: answer.find_elements(By.CSS_SELECTOR, ".md pre code.hljs[data-highlight=done] span[class^=hljs-]"),
        why,
    )


def render_worker(driver):
    return driver.execute_script("return document.documentElement.dataset.renderWorker || ''")


def worker_count(driver, what):
    """A render worker counter the page keeps: `Starts` (workers started) or `Jobs`
    (highlighting/math jobs sent to them)."""
    return int(driver.execute_script(
        "return document.documentElement.dataset['renderWorker' + arguments[0]] || '0'", what))


@pytest.fixture(scope="module")
def state():
    return {}


def test_streamed_reply_renders_markdown_with_code(state):
    driver = launch()
    try:
        mode = driver.find_element(By.ID, "status-mode").text
        assert mode == "Demo: local gateway"
        assert driver.find_element(By.ID, "first-run").is_displayed()
        assert driver.title == "Behest Desktop"
        shot(driver, "01-first-run")

        send(driver, "Show me **Markdown**, please")
        WebDriverWait(driver, 10).until(lambda d: streaming(d))
        WebDriverWait(driver, 10).until(
            lambda d: len(assistant_messages(d)) == 1 and len(assistant_messages(d)[0].text) > 20
        )
        shot(driver, "02-streaming")
        wait_done(driver)
        answer = assistant_messages(driver)[0]
        assert "Local demo gateway" in answer.find_element(By.CSS_SELECTOR, ".md h2").text
        code = answer.find_element(By.CSS_SELECTOR, ".md pre code.language-rust")
        assert "fn main()" in code.text
        # Highlighting and math come from the render worker, a moment after the text.
        highlighted(driver, answer, "the code block is highlighted")
        assert answer.find_elements(By.CSS_SELECTOR, ".md pre .copy-code"), "code blocks have a copy button"
        assert answer.find_elements(By.CSS_SELECTOR, ".md table"), "the table is rendered"
        WebDriverWait(driver, 5).until(
            lambda d: answer.find_elements(By.CSS_SELECTOR, ".md .katex"), "the math is rendered")
        user = driver.find_element(By.CSS_SELECTOR, "#thread .msg.user .bubble")
        assert user.text == "Show me **Markdown**, please", "user text is shown as typed"
        assert driver.find_elements(By.CSS_SELECTOR, "#conversation-list .conv-item"), "the sidebar lists it"
        # The messages' scroller is a layout boundary (contain: strict), so streamed text is laid
        # out and repainted inside it, not across the main column (ARCHITECTURE.md); its size
        # still comes from the column: it fills the space above the composer.
        box = driver.execute_script(
            """
            const s = document.getElementById('scroll');
            let above = s.previousElementSibling;
            while (above && !above.getClientRects().length) above = above.previousElementSibling;
            const r = s.getBoundingClientRect();
            return {contain: getComputedStyle(s).contain, top: r.top, bottom: r.bottom,
                    aboveBottom: above.getBoundingClientRect().bottom,
                    composerTop: document.querySelector('.composer-wrap').getBoundingClientRect().top,
                    overflows: s.scrollHeight > s.clientHeight};
            """
        )
        assert box["contain"] in ("strict", "size layout paint style"), box
        assert abs(box["top"] - box["aboveBottom"]) <= 1 and abs(box["bottom"] - box["composerTop"]) <= 1, box
        assert box["overflows"], f"the reply is taller than the scroller, which scrolls: {box}"
        # The token countdown counts whole minutes (seconds only in the last one), with the exact
        # time in its tooltip: an idle window is written once a minute, not every second.
        token = driver.find_element(By.ID, "status-token")
        WebDriverWait(driver, 5).until(
            lambda d: re.fullmatch(r"Token expires in (59|60) min", token.text), "the countdown shows minutes")
        assert token.get_attribute("title").startswith("Token expires at "), token.get_attribute("title")
        steps = driver.execute_async_script(
            """
            const done = arguments[arguments.length - 1];
            import("./status.js").then((m) => done([3600, 3541, 3540, 61, 60, 1, 0].map(m.tokenCountdown)));
            """
        )
        assert steps == [
            {"text": "Token expires in 60 min", "next": 60},
            {"text": "Token expires in 60 min", "next": 1},
            {"text": "Token expires in 59 min", "next": 60},
            {"text": "Token expires in 2 min", "next": 1},
            {"text": "Token expires in 60 s", "next": 1},
            {"text": "Token expires in 1 s", "next": 1},
            {"text": "Token: refreshes on next use", "next": None},
        ], steps
        shot(driver, "03-reply")
    finally:
        driver.quit()


def test_the_render_worker_ends_when_idle_and_comes_back_for_the_next_answer(state):
    """highlight.js and KaTeX run in a worker that ends shortly after the last answer (its
    memory goes back); the next answer starts a new one and is highlighted as before. What the
    worker already did (the demo reply's code block and formula) comes from the page's kept
    results: only the new formula goes to the worker."""
    driver = launch()
    try:
        assert render_worker(driver) == "", "no worker before the first code block"
        send(driver, "first")
        wait_done(driver)
        highlighted(driver, assistant_messages(driver)[0], "the first answer is highlighted")
        started = worker_count(driver, "Starts")
        assert started >= 1, "the first code block started the worker"
        jobs = worker_count(driver, "Jobs")
        assert jobs >= 2, "the code block and the formula went to the worker"
        WebDriverWait(driver, 10).until(lambda d: render_worker(d) == "stopped", "the idle worker ends")
        send(driver, "second $x^2+y^2=z^2$")
        WebDriverWait(driver, 30).until(lambda d: len(assistant_messages(d)) == 2 and not streaming(d))
        second = assistant_messages(driver)[1]
        highlighted(driver, second, "the answer after the worker ended is highlighted too")
        WebDriverWait(driver, 5).until(
            lambda d: len(second.find_elements(By.CSS_SELECTOR, ".md .katex")) >= 2,
            "and its math rendered, the quoted formula too")
        assert worker_count(driver, "Starts") > started, "a new worker did the new formula"
        assert worker_count(driver, "Jobs") == jobs + 1, "the code block and the known formula came from the kept results"
    finally:
        driver.quit()


def test_stop_keeps_the_partial_answer_and_the_input_usable(state):
    driver = launch()
    try:
        driver.find_element(By.ID, "new-chat").click()
        send(driver, "Please write slowly")
        WebDriverWait(driver, 10).until(lambda d: streaming(d))
        WebDriverWait(driver, 10).until(lambda d: len(assistant_messages(d)[-1].text) > 40)
        driver.find_element(By.ID, "prompt").send_keys(Keys.ESCAPE)
        WebDriverWait(driver, 5).until(lambda d: not streaming(d))
        answer = assistant_messages(driver)[-1]
        kept = answer.find_element(By.CSS_SELECTOR, ".md").text
        assert len(kept) > 20, "the partial answer is kept"
        assert "Ask again and you get the same answer" not in kept, "it really stopped mid-stream"
        assert "Stopped" in answer.find_element(By.CSS_SELECTOR, ".note").text
        time.sleep(0.5)  # late events must not change the stopped message
        assert answer.find_element(By.CSS_SELECTOR, ".md").text == kept
        prompt = driver.find_element(By.ID, "prompt")
        prompt.send_keys("still usable")
        assert prompt.get_attribute("value") == "still usable"
        assert driver.find_element(By.ID, "send").is_displayed()
        shot(driver, "04-stopped")
    finally:
        driver.quit()


def test_settings_survive_a_restart(state):
    driver = launch()
    try:
        driver.find_element(By.ID, "open-settings").click()
        dark = driver.find_element(By.CSS_SELECTOR, 'input[name="theme"][value="dark"]')
        driver.execute_script("arguments[0].click()", dark)
        model = driver.find_element(By.ID, "set-model")
        model.clear()
        model.send_keys("behest-local-demo")
        shot(driver, "05-settings")
        driver.find_element(By.ID, "save-settings").click()
        WebDriverWait(driver, 5).until(lambda d: not d.find_element(By.ID, "settings-dialog").is_displayed())
        assert driver.execute_script("return document.documentElement.dataset.theme") == "dark"
    finally:
        driver.quit()

    driver = launch()
    try:
        assert driver.execute_script("return document.documentElement.dataset.theme") == "dark"
        settings = invoke(driver, "get_settings")
        assert settings["ok"], settings
        assert settings["value"]["theme"] == "dark"
        assert settings["value"]["defaultModel"] == "behest-local-demo"
        items = driver.find_elements(By.CSS_SELECTOR, "#conversation-list .conv-item")
        assert len(items) >= 2, "conversations from before the restart are listed"
        items[-1].find_element(By.CSS_SELECTOR, ".conv-open").click()
        WebDriverWait(driver, 10).until(lambda d: len(assistant_messages(d)) == 1)
        assert assistant_messages(driver)[0].find_elements(By.CSS_SELECTOR, ".md pre code"), "history re-renders"
        shot(driver, "06-restarted-dark")
    finally:
        driver.quit()


def test_max_tokens_cuts_the_answer_and_says_so(state):
    driver = launch()
    try:
        driver.find_element(By.ID, "new-chat").click()
        driver.find_element(By.ID, "toggle-params").click()
        limit = driver.find_element(By.ID, "max-tokens")
        limit.clear()
        limit.send_keys("5")
        send(driver, "Count to a hundred, please")
        wait_done(driver)
        answer = assistant_messages(driver)[-1]
        note = answer.find_element(By.CSS_SELECTOR, ".note")
        assert "Max tokens" in note.text, note.text
        words = answer.find_element(By.CSS_SELECTOR, ".md").text.split()
        assert 0 < len(words) <= 8, f"five tokens of the demo reply, not {len(words)} words"
        shot(driver, "12-max-tokens")
    finally:
        driver.quit()


def test_gateway_failure_mid_stream_shows_retry_and_keeps_text(state):
    driver = launch()
    try:
        script_fault(driver, {"error_after": 25})

        driver.find_element(By.ID, "new-chat").click()
        send(driver, "This one will break")
        banner = WebDriverWait(driver, 20).until(
            lambda d: d.find_element(By.CSS_SELECTOR, "#thread .msg.assistant .error-banner")
        )
        assert banner.is_displayed()
        assert banner.find_element(By.CSS_SELECTOR, "button.retry").text == "Retry"
        partial = assistant_messages(driver)[-1].find_element(By.CSS_SELECTOR, ".md").text
        assert "Local demo gateway" in partial, "the partial answer stays visible above the error"
        assert not streaming(driver)
        shot(driver, "07-error-banner")

        banner.find_element(By.CSS_SELECTOR, "button.retry").click()
        wait_done(driver)
        WebDriverWait(driver, 30).until(lambda d: "Ask again" in assistant_messages(d)[-1].text)
        assert not driver.find_elements(By.CSS_SELECTOR, "#thread .error-banner")
        shot(driver, "08-retried")
    finally:
        driver.quit()


def test_edit_and_regenerate_replace_the_exchange_in_history(state):
    driver = launch()
    try:
        driver.find_element(By.ID, "new-chat").click()
        send(driver, "first version")
        wait_done(driver)
        edit = driver.find_element(By.CSS_SELECTOR, '#thread .msg.user button[aria-label="Edit and resend"]')
        driver.execute_script("arguments[0].click()", edit)
        box = driver.find_element(By.CSS_SELECTOR, "#thread .edit-box textarea")
        box.clear()
        box.send_keys("second version")
        box.send_keys(Keys.ENTER)
        WebDriverWait(driver, 10).until(lambda d: "second version" in d.find_element(By.CSS_SELECTOR, "#thread .msg.user").text)
        wait_done(driver)
        assert "second version" in assistant_messages(driver)[-1].text, "the answer quotes the edited prompt"
        regen = driver.find_element(By.CSS_SELECTOR, '#thread .msg.assistant button[aria-label="Regenerate"]')
        driver.execute_script("arguments[0].click()", regen)
        wait_done(driver)
        time.sleep(0.3)  # let the id sync settle
        driver.find_element(By.ID, "new-chat").click()
        item = driver.find_elements(By.CSS_SELECTOR, "#conversation-list .conv-item .conv-open")[0]
        item.click()
        WebDriverWait(driver, 10).until(lambda d: len(assistant_messages(d)) >= 1)
        users = driver.find_elements(By.CSS_SELECTOR, "#thread .msg.user")
        assert [u.text for u in users] == ["second version"], "the edited exchange replaced the first in history"
        assert len(assistant_messages(driver)) == 1, "regenerate replaced the answer in history"
        shot(driver, "09-edited-regenerated")
    finally:
        driver.quit()


def test_hostile_reply_renders_inert(state):
    driver = launch()
    try:
        driver.find_element(By.ID, "new-chat").click()
        hostile = (
            "[click me](javascript:window.__pwned=3) and [data](data:text/html,<script>x</script>)\n\n"
            "<script>window.__pwned = 1</script>\n\n"
            "<img src=x onerror=\"window.__pwned = 2\">\n\n"
            "<a href=\"javascript:window.__pwned=4\">raw link</a>\n\n"
            # Highlighted code and math go through the render worker and innerHTML: inert too.
            "```html\n<img src=x onerror=\"window.__pwned = 5\"><script>window.__pwned = 6</script>\n```\n\n"
            "$\\href{javascript:window.__pwned=7}{x}$ and $\\htmlId{pwn}{y}$"
        )
        prompt = driver.find_element(By.ID, "prompt")
        driver.execute_script("arguments[0].value = arguments[1]", prompt, hostile)
        prompt.send_keys(Keys.END)
        prompt.send_keys(Keys.ENTER)
        wait_done(driver)
        answer = assistant_messages(driver)[-1]
        md = answer.find_element(By.CSS_SELECTOR, ".md")
        WebDriverWait(driver, 5).until(
            lambda d: len(md.find_elements(By.CSS_SELECTOR, "pre code.language-html.hljs")) == 1
            and len(md.find_elements(By.CSS_SELECTOR, ".katex")) >= 3,
            "the hostile code block is highlighted and the hostile math rendered")
        assert "onerror" in md.find_element(By.CSS_SELECTOR, "pre code.language-html").text
        assert not driver.find_elements(By.ID, "pwn"), "KaTeX's \\htmlId is refused (trust: false)"
        assert "<script>" in md.text, "raw HTML is shown as text"
        assert not driver.find_elements(By.CSS_SELECTOR, "#thread script"), "no script element"
        assert not driver.find_elements(By.CSS_SELECTOR, "#thread img"), "no img element"
        for link in md.find_elements(By.TAG_NAME, "a"):
            href = (link.get_attribute("href") or "").lower()
            assert not href.startswith("javascript"), href
        handlers = driver.execute_script(
            "return [...document.querySelectorAll('#thread *')].flatMap(e => [...e.attributes]"
            ".filter(a => a.name.startsWith('on')).map(a => a.name))"
        )
        assert handlers == []
        links = [l for l in md.find_elements(By.TAG_NAME, "a") if l.text == "click me"]
        assert links, "the markdown link is still shown"
        links[0].click()
        time.sleep(0.3)
        assert driver.execute_script("return window.__pwned === undefined")
        assert driver.current_url.startswith("tauri://localhost"), "the page did not navigate"
        shot(driver, "10-hostile-inert")
    finally:
        driver.quit()


def test_keyboard_shortcuts_and_help(state):
    driver = launch()
    try:
        prompt = driver.find_element(By.ID, "prompt")
        prompt.click()
        ActionChains(driver).key_down(Keys.CONTROL).send_keys("k").key_up(Keys.CONTROL).perform()
        assert driver.switch_to.active_element.get_attribute("id") == "search-input"
        search = driver.switch_to.active_element
        search.send_keys("slowly")
        titles = lambda d: d.execute_script(
            "return [...document.querySelectorAll('#conversation-list .conv-open')].map(e => e.firstChild.textContent)"
        )
        try:
            WebDriverWait(driver, 5).until(lambda d: titles(d) == ["Please write slowly"])
        except TimeoutException:
            shot(driver, "11-search-failed")
            pytest.fail(f"search for 'slowly' listed {titles(driver)}")
        search.send_keys(Keys.ESCAPE)
        WebDriverWait(driver, 5).until(lambda d: len(titles(d)) >= 4)
        assert search.get_attribute("value") == ""
        driver.find_elements(By.CSS_SELECTOR, "#conversation-list .conv-open")[0].click()
        WebDriverWait(driver, 10).until(lambda d: len(assistant_messages(d)) >= 1)
        ActionChains(driver).key_down(Keys.CONTROL).send_keys("n").key_up(Keys.CONTROL).perform()
        WebDriverWait(driver, 5).until(
            lambda d: d.execute_script("return document.getElementById('conv-title').textContent") == "New chat"
        )
        assert not assistant_messages(driver)
        assert driver.switch_to.active_element.get_attribute("id") == "prompt"
        ActionChains(driver).send_keys(Keys.F1).perform()
        help_dialog = driver.find_element(By.ID, "help-dialog")
        WebDriverWait(driver, 5).until(lambda d: help_dialog.is_displayed())
        assert "Ctrl/⌘" in help_dialog.text and "Esc" in help_dialog.text
        shot(driver, "11-help")
    finally:
        driver.quit()
