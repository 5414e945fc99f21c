//! The caret stops blinking after GTK's blink timeout without input and blinks again at the
//! next key press (`ipc::caret`), through a real `WebKitWebView` and GTK's real settings. Needs
//! GTK, so a display (`DISPLAY`; `.ci/run` starts Xvfb): without one the test fails, it does
//! not skip. Its own test binary, because GTK belongs to the first thread that initialises it.
//! Why (WebKitGTK ignores the timeout; tao queues every redraw): BENCHMARKS.md, "The caret".
#![cfg(target_os = "linux")]
#![allow(clippy::expect_used)]

mod display;

use std::time::{Duration, Instant};

use behest_desktop::ipc::caret;
use gtk::prelude::*;
use webkit2gtk::WebView;

/// Runs GTK's main loop until `done` or `limit` has passed; whether `done` became true.
fn run_until(limit: Duration, done: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        while gtk::events_pending() {
            gtk::main_iteration_do(false);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

#[test]
fn blinking_stops_after_the_timeout_and_comes_back_with_a_key_press() {
    display::init_gtk();
    let settings = gtk::Settings::default().expect("GTK settings");
    settings.set_gtk_cursor_blink(true);
    settings.set_gtk_cursor_blink_timeout(1);
    let window = gtk::OffscreenWindow::new();
    let view = WebView::new();
    window.add(&view);
    window.show_all();

    let started = Instant::now();
    caret::stop_blinking_when_idle(&view);
    assert!(settings.is_gtk_cursor_blink(), "blinks until the timeout");
    assert!(
        run_until(Duration::from_secs(5), || !settings.is_gtk_cursor_blink()),
        "blinking stops after the 1 s timeout"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "not before the timeout"
    );

    // A key press in the webview: blinking again, and it stops again a timeout later.
    // (Emitted as GTK does for a key pressed in the webview: a synthesised event sent with
    // `gtk_widget_event` is dropped without a window to come from.)
    let key = gtk::gdk::Event::new(gtk::gdk::EventType::KeyPress);
    view.emit_by_name::<bool>("key-press-event", &[&key]);
    assert!(settings.is_gtk_cursor_blink(), "a key press makes it blink");
    assert!(
        run_until(Duration::from_secs(5), || !settings.is_gtk_cursor_blink()),
        "and it stops again without input"
    );

    // The desktop turns blinking off while the app has it on: input does not turn it back on.
    view.emit_by_name::<bool>("key-press-event", &[&key]);
    assert!(settings.is_gtk_cursor_blink());
    settings.set_gtk_cursor_blink(false);
    view.emit_by_name::<bool>("key-press-event", &[&key]);
    assert!(
        !settings.is_gtk_cursor_blink(),
        "a caret the settings stopped stays stopped"
    );
}
