//! The web process memory limit reaches every `WebKitWebContext` built after
//! `web_memory::install`, through the real WebKitGTK class. Building a context needs GTK, so a
//! display (`DISPLAY`; `.ci/run` starts Xvfb): without one the test fails, it does not skip.
//! Its own test binary: the hook is process-wide and cannot be undone.
//! What the limit does to the web process is measured by `scripts/bench-app --only soak`.
#![cfg(target_os = "linux")]
#![allow(clippy::expect_used)]

mod display;

use behest_desktop::ipc::web_memory::{self, Limits};
use webkit2gtk::glib;
use webkit2gtk::{WebContext, WebsiteDataManager};

#[test]
fn contexts_built_after_install_get_the_limit_and_explicit_settings_are_kept() {
    display::init_gtk();
    let _before: WebContext = glib::Object::new();
    assert_eq!(web_memory::applied(), 0, "nothing is hooked before install");

    web_memory::install(Limits::DEFAULT);
    let _first: WebContext = glib::Object::new();
    assert_eq!(web_memory::applied(), 1);
    // Built the way wry builds Tauri's context: with a website data manager for the app's
    // data directory.
    let dir = tempfile::tempdir().expect("temp dir");
    let data = WebsiteDataManager::builder()
        .base_data_directory(dir.path().to_string_lossy())
        .base_cache_directory(dir.path().to_string_lossy())
        .build();
    let _second: WebContext = glib::Object::builder()
        .property("website-data-manager", &data)
        .build();
    assert_eq!(
        web_memory::applied(),
        2,
        "one per context, whatever else is set"
    );

    // Someone who passes their own settings keeps them.
    let theirs = Limits {
        limit_mb: 900,
        ..Limits::DEFAULT
    }
    .settings();
    let _explicit: WebContext = glib::Object::builder()
        .property("memory-pressure-settings", &theirs)
        .build();
    assert_eq!(web_memory::applied(), 2);

    // A second install changes nothing (the class is wrapped once).
    web_memory::install(Limits {
        limit_mb: 1,
        ..Limits::DEFAULT
    });
    let _third: WebContext = glib::Object::new();
    assert_eq!(web_memory::applied(), 3);
}
