//! The web process starts with JavaScriptCore's options for a small page
//! (`web_memory::tune_jsc_from_env`): a real `WebKitWebView` loads a page, and its
//! WebKitWebProcess's environment (read from `/proc`) carries `JSC_useDFGJIT=false` and
//! `JSC_forceMiniVMMode=true`. Needs GTK, so a display (`DISPLAY`; `.ci/run` starts
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
fn the_web_process_starts_without_the_dfg_and_in_mini_vm_mode() {
    for name in [
        web_memory::DFG_ENV,
        web_memory::MINI_VM_ENV,
        web_memory::JIT_ENV,
    ] {
        assert!(
            std::env::var_os(name).is_none(),
            "run this test without {name} set"
        );
    }
    web_memory::tune_jsc_from_env();
    assert_eq!(std::env::var(web_memory::DFG_ENV).as_deref(), Ok("false"));
    assert_eq!(
        std::env::var(web_memory::MINI_VM_ENV).as_deref(),
        Ok("true")
    );
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
        for wanted in ["JSC_useDFGJIT=false", "JSC_forceMiniVMMode=true"] {
            assert!(
                vars.contains(&wanted.as_bytes()),
                "WebKitWebProcess {pid} has no {wanted}"
            );
        }
    }
}
