//! Shared by the integration tests that build real GTK / WebKitGTK objects (`mod display;`).

/// Initialises GTK on this thread, or fails the test: these tests need a display (`DISPLAY`;
/// `.ci/run` starts Xvfb) and must never pass by skipping. Call it first, on the test's thread:
/// GTK belongs to the first thread that initialises it, so each such test has its own binary.
pub fn init_gtk() {
    if let Err(error) = gtk::init() {
        panic!("GTK needs a display for this test (DISPLAY, e.g. Xvfb): {error}");
    }
}
