//! The app's page gets WebKit's document viewer cache model (`web_memory::set_cache_model` with
//! `cache_model`'s default) through a real `WebKitWebView` and its context. Needs GTK, so a
//! display (`DISPLAY`; `.ci/run` starts Xvfb): without one the test fails, it does not skip. Its
//! own test binary, because GTK belongs to the first thread that initialises it.
//! What the model does to the web process's memory is measured in BENCHMARKS.md.
#![cfg(target_os = "linux")]
#![allow(clippy::expect_used)]

mod display;

use behest_desktop::ipc::web_memory;
use webkit2gtk::glib;
use webkit2gtk::{CacheModel, WebContext, WebContextExt, WebView};

#[test]
fn the_page_gets_the_document_viewer_cache_model() {
    display::init_gtk();
    let context: WebContext = glib::Object::new();
    assert_eq!(
        context.cache_model(),
        CacheModel::WebBrowser,
        "WebKit's default, which the app changes"
    );
    // What the app picks when BEHEST_WEB_CACHE is unset.
    let model = web_memory::cache_model(None);
    let view = WebView::with_context(&context);
    web_memory::set_cache_model(&view, model);
    assert_eq!(context.cache_model(), CacheModel::DocumentViewer);
    // Again (every page load asks): nothing changes.
    web_memory::set_cache_model(&view, model);
    assert_eq!(context.cache_model(), CacheModel::DocumentViewer);
}
