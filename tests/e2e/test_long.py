"""End-to-end test of a long conversation in the real webview: only its latest messages are on
the page, earlier ones come back from the history ("Show earlier messages", scrolling to the
top), the request still carries the whole conversation (the page sends only the new message;
the Rust side puts the stored conversation before it), after an answer the page is trimmed
again, and a regenerate sends the conversation without the answer it replaces.

The conversation (150 messages) is put in the hermetic history with the headless
`history import` before the app starts, the way a user restores a backup.
"""

import json
import subprocess
import time
import urllib.request
import uuid

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from test_app import APP, invoke, launch, require_environment, send, shot, streaming

TITLE = "Long conversation about tides"
PAIRS = 75


def long_export():
    def stamp(i):
        return f"2026-11-01T10:{i // 60:02d}:{i % 60:02d}.000Z"

    messages = []
    for i in range(PAIRS):
        for role, text in (("user", f"question {i:03d}"), ("assistant", f"answer {i:03d} about the tide")):
            messages.append({
                "id": str(uuid.uuid4()), "role": role, "content": text, "model": None,
                "created_at": stamp(len(messages)), "status": "complete", "error_kind": None,
                "error_message": None, "usage": None, "ttft_ms": None,
                "tokens_per_second": None, "trace_id": None,
            })
    conversation = {
        "id": str(uuid.uuid4()), "title": TITLE, "model": None, "system_prompt": None,
        "temperature": None, "max_tokens": None, "server_threads": False,
        "server_thread_id": None, "created_at": stamp(0), "updated_at": stamp(len(messages)),
        "messages": messages,
    }
    return {"format": "behest-desktop-history", "version": 1, "conversations": [conversation]}


def page_messages(driver):
    """The texts of the messages on the page, in order (one script: the list changes)."""
    return driver.execute_script(
        "return [...document.querySelectorAll('#thread .msg')]"
        ".map((m) => m.querySelector('.bubble, .md').textContent.trim())"
    )


def last_chat_request(driver):
    """The message texts of the last chat the demo gateway received (its recorded requests)."""
    status = invoke(driver, "app_status")
    assert status["ok"], status
    with urllib.request.urlopen(status["value"]["baseUrl"] + "/__behest/requests", timeout=5) as answer:
        recorded = json.load(answer)
    chats = [r for r in recorded if r["path"] == "/v1/chat/completions"]
    assert chats, "the gateway recorded no chat"
    return [m["content"] for m in json.loads(chats[-1]["body"])["messages"]]


def conversation_id(driver, title):
    """The id of the conversation called `title`."""
    listed = invoke(driver, "list_conversations")
    assert listed["ok"], listed
    ids = [c["id"] for c in listed["value"] if c["title"] == title]
    assert len(ids) == 1, listed["value"]
    return ids[0]


def earlier_label(driver):
    return driver.execute_script(
        "const b = document.querySelector('#thread .earlier'); return b ? b.textContent : null"
    )


def test_long_conversation_keeps_only_its_latest_messages_on_the_page(tmp_path):
    require_environment()
    path = tmp_path / "long.json"
    path.write_text(json.dumps(long_export()))
    done = subprocess.run([APP, "history", "import", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr

    driver = launch()
    try:
        open_by_title = (
            "const item = [...document.querySelectorAll('#conversation-list .conv-open')]"
            ".find((e) => e.textContent.includes(arguments[0]));"
            "if (item) item.click(); return !!item"
        )
        WebDriverWait(driver, 10).until(lambda d: d.execute_script(open_by_title, TITLE))
        WebDriverWait(driver, 10).until(lambda d: len(page_messages(d)) == 40)
        shown = page_messages(driver)
        assert shown[0] == "question 055" and shown[-1].startswith("answer 074"), shown[:2] + shown[-2:]
        assert earlier_label(driver) == "Show 110 earlier messages"
        shot(driver, "30-long-conversation")

        # Scrolling to the top brings the previous 20 back, above the ones already shown.
        driver.execute_script("document.getElementById('scroll').scrollTop = 0")
        WebDriverWait(driver, 10).until(lambda d: len(page_messages(d)) == 60)
        assert page_messages(driver)[0] == "question 045"
        assert earlier_label(driver) == "Show 90 earlier messages"
        # The button does the same; press it until everything is back.
        while earlier_label(driver):
            before = len(page_messages(driver))
            driver.find_element(By.CSS_SELECTOR, "#thread .earlier").click()
            WebDriverWait(driver, 10).until(lambda d: len(page_messages(d)) > before)
        shown = page_messages(driver)
        assert len(shown) == 2 * PAIRS and shown[0] == "question 000" and shown[1].startswith("answer 000")
        shot(driver, "31-long-conversation-all-shown")

        # The request carries the whole conversation, whatever is on the page.
        send(driver, "and one more")
        WebDriverWait(driver, 10).until(lambda d: streaming(d))
        WebDriverWait(driver, 30).until(lambda d: not streaming(d))
        sent = last_chat_request(driver)
        assert len(sent) == 2 * PAIRS + 1
        assert sent[0] == "question 000" and sent[-1] == "and one more"

        # Reading at the bottom, the page is trimmed back to the latest 40.
        WebDriverWait(driver, 10).until(lambda d: len(page_messages(d)) == 40)
        shown = page_messages(driver)
        assert shown[-2] == "and one more" and "Local demo gateway" in shown[-1]
        assert earlier_label(driver) == "Show 112 earlier messages"
        shot(driver, "32-long-conversation-trimmed")

        # What was trimmed comes back from the history.
        driver.find_element(By.CSS_SELECTOR, "#thread .earlier").click()
        WebDriverWait(driver, 10).until(lambda d: len(page_messages(d)) == 60)
        assert page_messages(driver)[0] == "question 046"
        assert earlier_label(driver) == "Show 92 earlier messages"

        # Regenerate the last answer: the request is everything up to its question, without the
        # answer it replaces, and the history keeps one answer for it.
        driver.execute_script(
            "document.querySelector('#thread .msg.last button[aria-label=\"Regenerate\"]').click()"
        )
        WebDriverWait(driver, 10).until(lambda d: streaming(d))
        WebDriverWait(driver, 30).until(lambda d: not streaming(d))
        sent = last_chat_request(driver)
        assert len(sent) == 2 * PAIRS + 1, len(sent)
        assert sent[0] == "question 000" and sent[-2] == "answer 074 about the tide"
        assert sent[-1] == "and one more"
        stored = invoke(driver, "get_conversation", {"id": conversation_id(driver, TITLE)})
        assert stored["ok"], stored
        assert len(stored["value"]["messages"]) == 2 * PAIRS + 2
        assert stored["value"]["messages"][-2]["content"] == "and one more"

        # A reveal that fails (here the conversation was deleted behind the page's back) says so
        # once; scrolling on does not ask again and again (the toast, put away, stays away), the
        # button does.
        assert invoke(driver, "delete_conversation", {"id": conversation_id(driver, TITLE)})["ok"]
        driver.execute_script("document.getElementById('scroll').scrollTop = 0")
        toast = driver.find_element(By.ID, "toast")
        WebDriverWait(driver, 5).until(
            lambda d: toast.is_displayed() and "Could not load the earlier messages" in toast.text)
        shot(driver, "33-long-conversation-reveal-failed")
        driver.execute_script("document.getElementById('toast').hidden = true")
        for _ in range(4):
            driver.execute_script("document.getElementById('scroll').scrollTop = 400")
            time.sleep(0.3)
            driver.execute_script("document.getElementById('scroll').scrollTop = 0")
            time.sleep(0.3)
        assert not toast.is_displayed(), "scrolling asked again"
        driver.find_element(By.CSS_SELECTOR, "#thread .earlier").click()
        WebDriverWait(driver, 5).until(lambda d: toast.is_displayed(), "the button asks again")
    finally:
        driver.quit()
