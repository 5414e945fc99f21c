"""End-to-end tests of the history in the real webview: a chat recorded by the headless `chat`
command shows up in the app's sidebar search (by a word only answers contain), opens, and
exports as Markdown and as versioned JSON.

Runs after test_app.py (pytest takes the files in order) in the same hermetic data dir that
tests/e2e/run.sh prepares (BEHEST_DATA_DIR), and reuses its helpers.
"""

import json
import os
import subprocess

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from test_app import APP, assistant_messages, invoke, launch, require_environment, send, shot, streaming

PROMPT = "Tell me about quokkas"


def headless_chat(*args):
    require_environment()
    data_dir = os.environ.get("BEHEST_DATA_DIR", "")
    assert data_dir, "BEHEST_DATA_DIR is not set: run tests/e2e/run.sh"
    done = subprocess.run(
        [APP, "chat", *args], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 0, done.stderr
    ids = [line.split(": ", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("conversation: ")]
    assert len(ids) == 1, done.stderr
    return ids[0], done.stdout


def search(driver, text):
    box = driver.find_element(By.ID, "search-input")
    box.clear()
    box.send_keys(text)


def result_titles(driver):
    """The listed titles, read in one script (the list is redrawn as the search settles)."""
    return driver.execute_script(
        "return [...document.querySelectorAll('#conversation-list .conv-item .conv-open')]"
        ".map((e) => (e.firstChild ? e.firstChild.textContent : ''))"
    )


def showing_results(driver):
    """Whether the list shows search results (grouped under "Results"), not the plain list."""
    return driver.execute_script(
        "const g = document.querySelector('#conversation-list .conv-group');"
        "return !!g && g.textContent === 'Results'"
    )


def result_snippets(driver):
    return driver.execute_script(
        "return [...document.querySelectorAll('#conversation-list .conv-snippet')].map((e) => e.textContent)"
    )


def open_first_result(driver):
    """Clicks the first result until its conversation is open (a late redraw of the list can
    swallow a click)."""
    if open_title(driver) == PROMPT:
        return True
    try:
        driver.find_element(By.CSS_SELECTOR, "#conversation-list .conv-item .conv-open").click()
    except (StaleElementReferenceException, NoSuchElementException):
        return False
    return open_title(driver) == PROMPT


def open_title(driver):
    return driver.execute_script("return document.getElementById('conv-title').textContent")


def test_sidebar_search_finds_a_headless_answer_and_opens_it():
    conversation, answer = headless_chat(PROMPT)
    assert "> " + PROMPT in answer
    driver = launch()
    try:
        # "exercises" appears in every demo answer and in no prompt: only answer text matches it.
        search(driver, "exercises")
        WebDriverWait(driver, 10).until(lambda d: showing_results(d) and PROMPT in result_titles(d))
        snippets = result_snippets(driver)
        assert any("exercises" in s for s in snippets), snippets
        shot(driver, "20-search-answer-word")

        search(driver, "quokkas")
        WebDriverWait(driver, 10).until(lambda d: showing_results(d) and result_titles(d) == [PROMPT])
        WebDriverWait(driver, 10).until(open_first_result)
        # The conversation appears once its Markdown is rendered and highlighted.
        user = WebDriverWait(driver, 10).until(
            lambda d: d.find_element(By.CSS_SELECTOR, "#thread .msg.user .bubble"))
        assert user.text == PROMPT
        answers = assistant_messages(driver)
        assert len(answers) == 1 and "quokkas" in answers[0].text
        assert "Local demo gateway" in answers[0].find_element(By.CSS_SELECTOR, ".md h2").text
        shot(driver, "21-search-opened")

        markdown = invoke(driver, "export_conversation", {"id": conversation, "format": "md"})
        assert markdown["ok"], markdown
        assert PROMPT in markdown["value"] and "Local demo gateway" in markdown["value"]
        exported = invoke(driver, "export_conversation", {"id": conversation, "format": "json"})
        assert exported["ok"], exported
        doc = json.loads(exported["value"])
        assert doc["format"] == "behest-desktop-history" and doc["version"] == 1
        [entry] = doc["conversations"]
        assert entry["id"] == conversation
        roles = [m["role"] for m in entry["messages"]]
        assert roles == ["user", "assistant"]
        assert entry["messages"][1]["status"] == "complete"
        assert entry["messages"][1]["content"].rstrip() == answer.rstrip()
    except Exception:
        shot(driver, "29-history-failure")
        raise
    finally:
        driver.quit()


def test_delete_asks_first_and_cancel_keeps_the_conversation():
    conversation, _ = headless_chat("A conversation about to be deleted")
    title = "A conversation about to be deleted"
    driver = launch()
    try:
        def item(d):
            return d.execute_script(
                "return [...document.querySelectorAll('#conversation-list .conv-item')]"
                ".find((e) => e.textContent.includes(arguments[0])) || null",
                title,
            )

        def press_delete():
            # The row's buttons show on hover, as for a person with a mouse.
            row = WebDriverWait(driver, 10).until(item)
            button = row.find_element(By.CSS_SELECTOR, 'button[aria-label^="Delete"]')
            ActionChains(driver).move_to_element(row).pause(0.2).click(button).perform()

        def dialog_open(d):
            return d.execute_script("return document.getElementById('confirm-dialog').open")

        def listed(d):
            return item(d) is not None

        press_delete()
        WebDriverWait(driver, 5).until(dialog_open)
        assert title in driver.find_element(By.ID, "confirm-text").text
        assert driver.switch_to.active_element.get_attribute("id") == "confirm-cancel", "Cancel has the focus"
        shot(driver, "25-delete-asks")
        driver.find_element(By.ID, "confirm-cancel").click()
        WebDriverWait(driver, 5).until(lambda d: not dialog_open(d))
        assert listed(driver), "Cancel keeps it"

        press_delete()
        WebDriverWait(driver, 5).until(dialog_open)
        driver.switch_to.active_element.send_keys(Keys.ESCAPE)
        WebDriverWait(driver, 5).until(lambda d: not dialog_open(d))
        assert listed(driver), "Esc keeps it"
        assert invoke(driver, "get_conversation", {"id": conversation})["ok"]

        press_delete()
        WebDriverWait(driver, 5).until(dialog_open)
        driver.find_element(By.ID, "confirm-ok").click()
        WebDriverWait(driver, 5).until(lambda d: not listed(d))
        gone = invoke(driver, "get_conversation", {"id": conversation})
        assert not gone["ok"], "deleted from the history too"
    except Exception:
        shot(driver, "29-delete-failure")
        raise
    finally:
        driver.quit()


ROWS = """
return [...document.querySelectorAll('#conversation-list .conv-item')].map((e) => {
  const open = e.querySelector('.conv-open');
  return [open && open.firstChild ? open.firstChild.textContent : '', e.dataset.mark || '',
          e.classList.contains('active'), !!open && open.getAttribute('aria-current') === 'true'];
});
"""


def test_sidebar_redraws_move_rows_and_keep_the_unchanged_ones():
    """The sidebar is redrawn after every exchange. Rows whose title and snippet did not change
    stay the same elements (marked here with a data attribute a rebuilt row would not have),
    moved into the new order; the active row follows the open conversation."""
    driver = launch()
    try:
        def rows(d):
            return d.execute_script(ROWS)

        def answers(n):
            return lambda d: len(assistant_messages(d)) == n and not streaming(d)

        def title_shown(d):
            return d.execute_script("return document.getElementById('conv-title').textContent")

        for title in ("Sidebar row alpha", "Sidebar row beta"):
            driver.find_element(By.ID, "new-chat").click()
            send(driver, title)
            WebDriverWait(driver, 30).until(answers(1))
            WebDriverWait(driver, 10).until(lambda d, t=title: rows(d)[0][0] == t)
        assert [r[0] for r in rows(driver)[:2]] == ["Sidebar row beta", "Sidebar row alpha"], rows(driver)
        driver.execute_script(
            "document.querySelectorAll('#conversation-list .conv-item')"
            ".forEach((e, i) => { e.dataset.mark = 'row' + i; })"
        )
        before = sorted((r[0], r[1]) for r in rows(driver))
        assert all(mark for _, mark in before)

        # Opening alpha changes only which row is active.
        driver.execute_script(
            "[...document.querySelectorAll('#conversation-list .conv-open')]"
            ".find((b) => b.firstChild.textContent === arguments[0]).click()",
            "Sidebar row alpha",
        )
        WebDriverWait(driver, 10).until(lambda d: title_shown(d) == "Sidebar row alpha")
        WebDriverWait(driver, 10).until(answers(1))
        now = rows(driver)
        assert sorted((r[0], r[1]) for r in now) == before, "every row is the same element"
        assert [r[0] for r in now if r[2]] == ["Sidebar row alpha"], now
        assert [r[0] for r in now if r[3]] == ["Sidebar row alpha"], "aria-current follows"

        # Another exchange in alpha moves its row to the top, still the same element.
        send(driver, "and one more thing")
        WebDriverWait(driver, 30).until(answers(2))
        WebDriverWait(driver, 10).until(lambda d: rows(d)[0][0] == "Sidebar row alpha")
        now = rows(driver)
        assert [r[0] for r in now[:2]] == ["Sidebar row alpha", "Sidebar row beta"], now
        assert sorted((r[0], r[1]) for r in now) == before, "moved, not rebuilt; none lost or doubled"
        assert [r[0] for r in now if r[2]] == ["Sidebar row alpha"], now
        shot(driver, "26-sidebar-reordered")
    except Exception:
        shot(driver, "26-sidebar-failure")
        raise
    finally:
        driver.quit()
