"""End-to-end test of Export in the real webview, through the real GTK save dialog.

A conversation recorded by the headless `chat` command is opened in the app; the top bar's
Export menu saves it as Markdown and as JSON, and Settings > "Export all as JSON" saves every
conversation. Each time the native save dialog opens (its screenshot is taken from the X
display), xdotool types a full path into its file-name field and presses Return, and the test
checks the file on disk and the toast naming it. Cancelling the dialog writes nothing and shows
no toast. Needs xdotool and ImageMagick's `import` (installed by .ci/run): without them the test
fails, it never skips.

Runs through tests/e2e/run.sh (alone: `tests/e2e/run.sh -- tests/e2e/test_export.py`).
"""

import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from test_app import launch, shot
from test_history import headless_chat

PROMPT = "Tell me about wombats"


def require_tools():
    for tool, package in [("xdotool", "xdotool"), ("import", "imagemagick")]:
        if not shutil.which(tool):
            pytest.fail(f"{tool} is missing: apt-get install {package} (the save dialog is driven and shot with it)")
    if not os.environ.get("DISPLAY"):
        pytest.fail("no DISPLAY: run under xvfb-run through tests/e2e/run.sh")


def xdotool(*args, timeout=15):
    done = subprocess.run(["xdotool", *args], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"xdotool {' '.join(args)}: {done.stderr}"
    return done.stdout


def dialog_window(title, timeout=20):
    """The save dialog's X window id, once it is mapped (GTK names the window after its title)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = subprocess.run(
            ["xdotool", "search", "--onlyvisible", "--name", f"^{title}$"], capture_output=True, text=True
        )
        ids = found.stdout.split()
        if ids:
            return ids[-1]
        time.sleep(0.2)
    pytest.fail(f"no save dialog titled {title!r} appeared within {timeout}s")


def dialog_gone(window, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        visible = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "."], capture_output=True, text=True)
        if window not in visible.stdout.split():
            return
        time.sleep(0.2)
    pytest.fail("the save dialog did not close")


def screen_shot(name):
    """The whole X screen (a native dialog is not part of the webview's own screenshot)."""
    shots = os.environ.get("BEHEST_E2E_SHOTS", "target/e2e-screenshots")
    os.makedirs(shots, exist_ok=True)
    path = os.path.join(shots, name + ".png")
    subprocess.run(["import", "-window", "root", path], check=True, timeout=30)
    return path


def save_in_dialog(title, path, shot_name):
    """Types `path` into the open save dialog's name field and saves."""
    window = dialog_window(title)
    time.sleep(0.5)  # let GTK finish laying out the dialog before it is shot and typed into
    screen_shot(shot_name)
    xdotool("windowfocus", "--sync", window)
    xdotool("key", "--clearmodifiers", "ctrl+a")
    xdotool("type", "--delay", "20", path)
    xdotool("key", "Return")
    dialog_gone(window)


def cancel_dialog(title):
    window = dialog_window(title)
    xdotool("windowfocus", "--sync", window)
    xdotool("key", "Escape")
    dialog_gone(window)


def toast_text(driver):
    return driver.execute_script(
        "const t = document.getElementById('toast'); return t.hidden ? '' : t.textContent"
    )


def wait_exported(driver, path):
    want = "Exported to " + path
    WebDriverWait(driver, 20).until(lambda d: toast_text(d) == want)
    assert driver.find_element(By.ID, "toast").is_displayed()
    assert os.path.isfile(path), path


def choose(driver, fmt):
    driver.find_element(By.ID, "export-button").click()
    WebDriverWait(driver, 5).until(lambda d: d.find_element(By.ID, "export-menu").is_displayed())
    driver.find_element(By.CSS_SELECTOR, f"#export-menu [data-export-format='{fmt}']").click()


def open_conversation(driver, title):
    """Clicks the sidebar entry titled `title` until it is the open conversation (a late redraw
    of the list can swallow a click)."""

    def opened(d):
        if d.execute_script("return document.getElementById('conv-title').textContent") == title:
            return True
        d.execute_script(
            "const b = [...document.querySelectorAll('#conversation-list .conv-open')]"
            ".find((e) => e.firstChild && e.firstChild.textContent === arguments[0]);"
            "if (b) b.click();",
            title,
        )
        return False

    WebDriverWait(driver, 15).until(opened)


def test_export_saves_through_the_native_dialog():
    require_tools()
    conversation, answer = headless_chat(PROMPT)
    out_dir = os.path.join(os.environ.get("BEHEST_E2E_WORK") or tempfile.mkdtemp(), "exports with space")
    os.makedirs(out_dir, exist_ok=True)
    driver = launch()
    try:
        assert driver.find_element(By.ID, "export-button").get_attribute("disabled") is not None, (
            "nothing to export before a conversation is open"
        )
        open_conversation(driver, PROMPT)
        WebDriverWait(driver, 5).until(lambda d: d.find_element(By.ID, "export-button").is_enabled())

        # Markdown, through the menu.
        md_path = os.path.join(out_dir, "wombats.md")
        choose(driver, "md")
        save_in_dialog("Export conversation", md_path, "40-export-dialog-markdown")
        wait_exported(driver, md_path)
        shot(driver, "41-export-toast-markdown")
        text = open(md_path, encoding="utf-8").read()
        assert text.startswith("# " + PROMPT), text[:200]
        assert PROMPT in text and "Local demo gateway" in text
        assert answer.strip().splitlines()[-1] in text
        assert not [n for n in os.listdir(out_dir) if n.endswith(".tmp")], os.listdir(out_dir)

        # JSON, the menu reached from the keyboard.
        json_path = os.path.join(out_dir, "wombats.json")
        button = driver.find_element(By.ID, "export-button")
        driver.execute_script("arguments[0].focus()", button)
        button.send_keys("\ue015")  # ArrowDown opens the menu and focuses its first item
        WebDriverWait(driver, 5).until(
            lambda d: d.execute_script("return document.activeElement.dataset.exportFormat") == "md"
        )
        driver.switch_to.active_element.send_keys("\ue015")
        focused = driver.switch_to.active_element
        assert focused.get_attribute("data-export-format") == "json"
        focused.send_keys("\ue007")  # Enter
        save_in_dialog("Export conversation", json_path, "42-export-dialog-json")
        wait_exported(driver, json_path)
        shot(driver, "43-export-toast-json")
        doc = json.load(open(json_path, encoding="utf-8"))
        assert doc["format"] == "behest-desktop-history" and doc["version"] == 1
        [entry] = doc["conversations"]
        assert entry["id"] == conversation and entry["title"] == PROMPT
        assert [m["role"] for m in entry["messages"]] == ["user", "assistant"]
        assert entry["messages"][1]["content"].rstrip() == answer.rstrip()

        # Cancelling writes nothing and says nothing.
        driver.execute_script("document.getElementById('toast').hidden = true")
        before = sorted(os.listdir(out_dir))
        choose(driver, "md")
        cancel_dialog("Export conversation")
        time.sleep(1)  # an answer to a cancelled dialog would show its toast by now
        assert toast_text(driver) == ""
        assert sorted(os.listdir(out_dir)) == before

        # Export all, from Settings.
        all_path = os.path.join(out_dir, "everything.json")
        driver.find_element(By.ID, "open-settings").click()
        all_button = driver.find_element(By.ID, "export-all-json")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", all_button)
        all_button.click()
        save_in_dialog("Export all conversations", all_path, "44-export-all-dialog")
        wait_exported(driver, all_path)
        # The toast is under the modal Settings dialog: the outcome is also shown beside the button.
        status = driver.find_element(By.ID, "export-all-status")
        assert status.is_displayed() and status.text == "Exported to " + all_path, status.text
        shot(driver, "45-export-all-status")
        everything = json.load(open(all_path, encoding="utf-8"))
        assert everything["version"] == 1
        ids = [c["id"] for c in everything["conversations"]]
        assert conversation in ids, ids
    except Exception:
        shot(driver, "49-export-failure")
        screen_shot("49-export-failure-screen")
        raise
    finally:
        driver.quit()
