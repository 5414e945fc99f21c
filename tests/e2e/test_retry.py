"""End-to-end test in the real webview: when the gateway answers 429 with a Retry-After, the
app says so under the waiting dots ("retrying in N s") instead of only waiting, then the answer
arrives and the note is gone.
"""

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from test_app import assistant_messages, launch, script_fault, send, shot, streaming


def retry_note(driver):
    return driver.execute_script(
        "const n = document.querySelector('#thread .msg.assistant:last-child .retry-note');"
        "return n ? n.textContent : null"
    )


def test_a_rate_limited_request_says_when_it_retries():
    driver = launch()
    try:
        driver.find_element(By.ID, "new-chat").click()
        script_fault(driver, {"status": 429, "retry_after": 3})
        send(driver, "Are you busy?")
        WebDriverWait(driver, 10).until(lambda d: retry_note(d))
        note = retry_note(driver)
        assert note.startswith("The gateway is busy (429) · retrying in "), note
        assert note.endswith("(attempt 2)"), note
        shot(driver, "50-retrying")
        # It counts down, then the answer arrives and the note goes.
        WebDriverWait(driver, 5).until(lambda d: (retry_note(d) or "") != note)
        WebDriverWait(driver, 20).until(lambda d: not streaming(d))
        assert retry_note(driver) is None
        answer = assistant_messages(driver)[-1]
        assert "Local demo gateway" in answer.find_element(By.CSS_SELECTOR, ".md h2").text
        assert not answer.find_elements(By.CSS_SELECTOR, ".error-banner")
    finally:
        driver.quit()
