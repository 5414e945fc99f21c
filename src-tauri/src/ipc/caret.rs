//! The text caret stops blinking after a while without input, as in GTK's own text fields.
//!
//! GTK stops a caret's blinking `gtk-cursor-blink-timeout` seconds (10 by default) after the
//! last key press; WebKitGTK reads `gtk-cursor-blink` and `gtk-cursor-blink-time` but not the
//! timeout, so the focused prompt blinks for as long as the window is open. Every blink
//! redraws the window, and tao (0.37.2, the latest) queues each redraw in an unbounded channel
//! that its event loop drains one entry per turn, turns an idle app does not take (tao issue
//! #1335; the fix, tao PR #1336, is not released). Measured with heaptrack on the idle app with
//! the prompt focused: 18 blocks of that channel (~560 redraws) left after 6 minutes, none
//! with the caret not blinking (BENCHMARKS.md, "The caret"): ~2 MB a day for a window left
//! open. So the app does what GTK does: `gtk-cursor-blink` is turned off for this process after
//! the timeout without a key or button press in the webview, and back on at the next one.
//!
//! Invariant: only when the user's settings have the caret blink, and stop within a day; a
//! caret set not to blink, or to blink forever, is left as set. Main thread only (GTK).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gtk::glib;
use gtk::prelude::*;

/// GTK's largest timeouts mean "never stop"; anything above a day is read that way.
const NEVER_SECONDS: i32 = 86_400;

/// After how many seconds without input the caret should stop blinking, or `None` when the
/// app should leave it alone (it does not blink, or the user wants it to blink forever).
pub fn idle_stop_after(blinks: bool, timeout_seconds: i32) -> Option<u32> {
    if !blinks || timeout_seconds <= 0 || timeout_seconds > NEVER_SECONDS {
        return None;
    }
    u32::try_from(timeout_seconds).ok()
}

/// Turns blinking off `gtk-cursor-blink-timeout` seconds after the last key or button press
/// in `webview`, and on again at the next one. Call once per webview, on the main thread.
pub fn stop_blinking_when_idle(webview: &webkit2gtk::WebView) {
    let Some(settings) = gtk::Settings::default() else {
        return;
    };
    let Some(seconds) = idle_stop_after(
        settings.is_gtk_cursor_blink(),
        settings.gtk_cursor_blink_timeout(),
    ) else {
        tracing::debug!("caret: blinking left as the settings have it");
        return;
    };
    let timer: Rc<RefCell<Option<glib::SourceId>>> = Rc::new(RefCell::new(None));
    // Whether blinking is off because of this timer (and not because the desktop's settings
    // changed meanwhile): only then does input turn it back on.
    let stopped = Rc::new(Cell::new(false));
    let restart = {
        let settings = settings.clone();
        move || {
            if stopped.replace(false) {
                settings.set_gtk_cursor_blink(true);
            }
            if let Some(previous) = timer.borrow_mut().take() {
                previous.remove();
            }
            let settings = settings.clone();
            let fired = Rc::clone(&timer);
            let stopped = Rc::clone(&stopped);
            let id = glib::timeout_add_seconds_local(seconds, move || {
                if settings.is_gtk_cursor_blink() {
                    settings.set_gtk_cursor_blink(false);
                    stopped.set(true);
                    tracing::debug!(seconds, "caret: blinking stopped, no input");
                }
                // The source ends here; forget its id so it is not removed twice.
                fired.borrow_mut().take();
                glib::ControlFlow::Break
            });
            *timer.borrow_mut() = Some(id);
        }
    };
    restart();
    let restart = Rc::new(restart);
    let on_key = Rc::clone(&restart);
    webview.connect_key_press_event(move |_, _| {
        on_key();
        glib::Propagation::Proceed
    });
    webview.connect_button_press_event(move |_, _| {
        restart();
        glib::Propagation::Proceed
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_blinking_caret_with_a_timeout_within_a_day_is_managed() {
        assert_eq!(idle_stop_after(true, 10), Some(10));
        assert_eq!(idle_stop_after(true, 3600), Some(3600));
        assert_eq!(idle_stop_after(false, 10), None, "a caret set not to blink");
        assert_eq!(
            idle_stop_after(true, i32::MAX),
            None,
            "blink forever, as set"
        );
        assert_eq!(idle_stop_after(true, 86_401), None);
        assert_eq!(idle_stop_after(true, 0), None);
        assert_eq!(idle_stop_after(true, -1), None);
    }
}
