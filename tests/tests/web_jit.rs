//! The web process starts without JavaScriptCore's DFG tier (`web_memory::limit_jit_from_env`):
//! a real `WebKitWebView` loads a page, and its WebKitWebProcess's environment (read from
//! `/proc`) carries `JSC_useDFGJIT=false`. Needs GTK, so a display (`DISPLAY`; `.ci/run` starts
//! Xvfb): without one the test fails, it does not skip. Its own test binary: it changes the
//! process environment, which must happen before any other thread or webview starts.
//! What the setting does to the web process's memory is measured in BENCHMARKS.md.
#![cfg(target_os = "linux")]
#![allow(clippy::expect_used)]

mod display;

use std::time::{Duration, Instant};

use behest_desktop::ipc::web_memory;
use webkit2gtk::glib;
use webkit2gtk::{WebContext, WebView, WebViewExt};

/// The pids of this process's children named WebKitWebProcess.
fn web_processes() -> Vec<u32> {
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": the name may hold spaces, so split after the last ')'.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let ppid = stat[close + 2..].split_whitespace().nth(1);
        if &stat[open + 1..close] == "WebKitWebProces" && ppid == Some(&me.to_string()) {
            found.push(pid);
        }
    }
    found
}

#[test]
fn the_web_process_starts_without_the_dfg() {
    assert!(
        std::env::var_os(web_memory::DFG_ENV).is_none()
            && std::env::var_os(web_memory::JIT_ENV).is_none(),
        "run this test without {} or {} set",
        web_memory::DFG_ENV,
        web_memory::JIT_ENV
    );
    web_memory::limit_jit_from_env();
    assert_eq!(std::env::var(web_memory::DFG_ENV).as_deref(), Ok("false"));
    display::init_gtk();
    let context: WebContext = glib::Object::new();
    let view = WebView::with_context(&context);
    view.load_html("<p>hello</p>", None);
    let started = Instant::now();
    let mut pids = Vec::new();
    while pids.is_empty() && started.elapsed() < Duration::from_secs(20) {
        while glib::MainContext::default().iteration(false) {}
        std::thread::sleep(Duration::from_millis(20));
        pids = web_processes();
    }
    assert!(!pids.is_empty(), "no WebKitWebProcess started within 20 s");
    for pid in pids {
        let environ =
            std::fs::read(format!("/proc/{pid}/environ")).expect("the web process's environment");
        let vars: Vec<&[u8]> = environ.split(|b| *b == 0).collect();
        assert!(
            vars.contains(&&b"JSC_useDFGJIT=false"[..]),
            "WebKitWebProcess {pid} has no JSC_useDFGJIT=false"
        );
    }
}
