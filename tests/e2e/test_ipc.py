"""Hostile IPC from the page itself, in the real webview (reliability bar A7): a 10,000-deep
JSON argument and a 10 MB string reach the real IPC path (the page's invoke, Tauri's parse, the
command); each is refused with an error, never a hang or a crash, and the app answers after.
"""

from test_app import launch


def call(driver, script):
    """Runs `script` (which must end in a promise) in the page; {ok, value|error}."""
    return driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        (async () => { %s })()
          .then((value) => done({ok: true, value}))
          .catch((error) => done({ok: false, error: (error && error.kind) ? error : String(error)}));
        """ % script
    )


def test_deep_and_huge_arguments_from_the_page_are_refused_and_the_app_lives():
    driver = launch()
    try:
        driver.set_script_timeout(60)
        deep = call(driver, """
            let v = 1;
            for (let i = 0; i < 10000; i++) v = [v];
            return window.__TAURI__.core.invoke('render_markdown', {text: v});
        """)
        assert not deep["ok"], deep
        assert "recursion limit" in str(deep["error"]), deep  # refused by the IPC parse, before any command
        huge = call(driver, """
            return window.__TAURI__.core.invoke('render_markdown', {text: 'x'.repeat(10 * 1024 * 1024)});
        """)
        assert not huge["ok"], "a 10 MB text is over the render limit"
        assert huge["error"]["kind"] == "invalidArgument", huge
        alive = call(driver, "return window.__TAURI__.core.invoke('app_status');")
        assert alive["ok"] and alive["value"]["mode"], alive
        rendered = call(driver, "return window.__TAURI__.core.invoke('render_markdown', {text: '**still here**'});")
        assert rendered["ok"] and "<strong>still here</strong>" in rendered["value"], rendered
    finally:
        driver.quit()
