//! A memory limit for the WebKit web process, so a long session gives its memory back.
//!
//! WebKitGTK's web process releases its caches (decoded resources, glyphs and fonts, layout
//! and style caches, the JavaScript heap after a full collection, the allocator's free pages)
//! when its own footprint passes a fraction of a memory limit. The default limit is the smaller
//! of 3 GB and the machine's RAM, with releases from a third of it: a chat window never gets
//! there, and after a few hundred streamed answers its web process stayed ~70 MB above idle
//! long after the DOM that needed it was gone (BENCHMARKS.md, "After heavy use").
//!
//! The limit is `WebKitMemoryPressureSettings`, a *construct-only* property of the
//! `WebKitWebContext`. wry (under Tauri) builds that context itself and has no way to pass it,
//! so this module is the one piece written by hand around that gap: before the first context is
//! built, it wraps the class's `set_property` so that when GObject sets
//! `memory-pressure-settings` to its default (none) during construction, ours are set instead.
//! A value someone else passed explicitly is left alone. Nothing else of the class changes.
//! Drop this module once wry can pass the settings (it needs `memory_pressure_settings` on the
//! context builder in `webkitgtk/web_context.rs`).
//!
//! The web process is never killed for its size (no kill threshold): above the limit it only
//! releases memory, at each poll, and keeps working.
//!
//! The context also gets WebKit's *document viewer* cache model ([`set_cache_model`]): WebKit's
//! own description is "disable the cache completely, which substantially reduces memory usage;
//! useful for applications that only access a single local file, with no navigation to other
//! pages", which is this page: every resource is the app's own, served from memory by the app.
//!
//! And the web process runs JavaScriptCore with two of its options changed ([`jsc_settings`]):
//! - without its DFG tier: the page's own scripts are light (the heavy ones, highlight.js and
//!   KaTeX, run in a worker that ends when idle, see `ui/render-worker.js`), and code the DFG
//!   compiled stays for the page's life: ~5 MB less after heavy use;
//! - in its small-footprint ("mini VM") mode: the heap grows by a smaller factor between
//!   collections and the allocator gives free pages back sooner: ~4–6 MB less after streaming
//!   1 MB into a conversation (~1 MB less after four such rounds), for scripts ~15–45 % slower in
//!   the worker (highlighting 2,000 lines: ~110 → ~125 ms the first time) and chunk delivery on
//!   the page's thread unchanged.
//!
//! Both measured in BENCHMARKS.md ("After heavy use"). `useDFGJIT` is one of the four options
//! JavaScriptCore's GLib API documents (`JSC_OPTIONS_USE_DFG`); `forceMiniVMMode` is the switch
//! JavaScriptCore itself uses for memory-constrained embedders. The web process is a separate
//! process, so it gets them the way JavaScriptCore reads options at start: `JSC_<option>` in the
//! environment it inherits.

use std::ffi::CStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Once, OnceLock};

use webkit2gtk::glib::{gobject_ffi, translate::*, StaticType, ToValue};
use webkit2gtk::{CacheModel, MemoryPressureSettings};

/// Overrides [`Limits::DEFAULT`]'s memory limit, in MB; `0` keeps WebKit's own defaults.
pub const LIMIT_ENV: &str = "BEHEST_WEB_MEMORY_LIMIT_MB";

/// Overrides [`Limits::DEFAULT`]'s poll interval, in seconds (for measuring; see `Limits`).
/// With [`LIMIT_ENV`] `0` there are no settings of ours, so WebKit's own interval applies.
pub const POLL_ENV: &str = "BEHEST_WEB_MEMORY_POLL_SECONDS";

/// `browser` keeps WebKit's default cache model (web browser) instead of [`cache_model`]'s.
pub const CACHE_ENV: &str = "BEHEST_WEB_CACHE";

/// JavaScriptCore's DFG switch as an environment variable (JSC reads `JSC_<option>` at start).
pub const DFG_ENV: &str = "JSC_useDFGJIT";

/// JavaScriptCore's small-footprint mode as an environment variable.
pub const MINI_VM_ENV: &str = "JSC_forceMiniVMMode";

/// The JavaScriptCore options the web process gets, as (variable, value).
pub const JSC_SETTINGS: [(&str, &str); 2] = [(DFG_ENV, "false"), (MINI_VM_ENV, "true")];

/// `full` keeps JavaScriptCore's defaults in the web process (the DFG, the full-size VM).
pub const JIT_ENV: &str = "BEHEST_WEB_JIT";

/// The options of [`JSC_SETTINGS`] to put in the environment: none when `jit` (the value of
/// [`JIT_ENV`]) is `full`; otherwise each one whose variable `already_set` does not report (a
/// value the user set always wins). Another `jit` value is reported and ignored.
pub fn jsc_settings(
    jit: Option<&str>,
    already_set: impl Fn(&str) -> bool,
) -> Vec<(&'static str, &'static str)> {
    if says(jit, JIT_ENV, "full") {
        return Vec::new();
    }
    JSC_SETTINGS
        .into_iter()
        .filter(|(name, _)| !already_set(name))
        .collect()
}

/// A variable's value, trimmed; none when unset or blank (which all of these read as "default").
fn given(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|raw| !raw.is_empty())
}

/// Whether `value` (of the variable `name`) is `word`, ignoring case and surrounding space. Unset
/// or blank is `false`; any other value is reported and also `false`: these variables each know
/// one word that turns a default off.
fn says(value: Option<&str>, name: &str, word: &str) -> bool {
    match given(value) {
        None => false,
        Some(raw) if raw.eq_ignore_ascii_case(word) => true,
        Some(raw) => {
            tracing::warn!(value = raw, "{name} is not `{word}`; ignored");
            false
        }
    }
}

/// Applies [`jsc_settings`] to this process's environment, which the web process inherits. Call
/// at start-up, before any webview (or thread) starts, like `webkit::self_check`.
pub fn tune_jsc_from_env() {
    let jit = std::env::var(JIT_ENV).ok();
    for (name, value) in jsc_settings(jit.as_deref(), |name| std::env::var_os(name).is_some()) {
        std::env::set_var(name, value);
        tracing::debug!("{name}={value} for the web process");
    }
}

/// The cache model for the app's page: document viewer, or WebKit's web-browser default when
/// `env` (the value of [`CACHE_ENV`]) is `browser`. Another value is reported and ignored.
pub fn cache_model(env: Option<&str>) -> CacheModel {
    if says(env, CACHE_ENV, "browser") {
        CacheModel::WebBrowser
    } else {
        CacheModel::DocumentViewer
    }
}

/// [`cache_model`] for the value of [`CACHE_ENV`]; read once, at start-up.
pub fn cache_model_from_env() -> CacheModel {
    cache_model(std::env::var(CACHE_ENV).ok().as_deref())
}

/// Gives the context of `webview` the cache model `model` (a context that already has it is
/// left alone). Call on the main thread; the model reaches web processes already running.
pub fn set_cache_model(webview: &webkit2gtk::WebView, model: CacheModel) {
    use webkit2gtk::{WebContextExt, WebViewExt};
    let Some(context) = webview.context() else {
        return;
    };
    if context.cache_model() != model {
        context.set_cache_model(model);
        tracing::debug!(?model, "web cache model set");
    }
}

/// The settings handed to WebKit (fractions are of `limit_mb`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// The memory limit of the web process, in MB.
    pub limit_mb: u32,
    /// Above this fraction of the limit, the web process releases what it can spare.
    pub conservative: f64,
    /// Above this fraction, it also drops every cache and runs a full collection.
    pub strict: f64,
    /// Seconds between two measurements of its footprint. Each poll runs on the web process's
    /// main thread: the measurement, and above the thresholds a release (above `strict`: every
    /// cache dropped and a full collection), so the page can do nothing else meanwhile.
    pub poll_seconds: f64,
}

impl Limits {
    /// An idle chat window's web process holds ~31 MB of private memory here; releases start
    /// at ~26 MB (so an idle window releases at each poll too, at no measurable cost) and turn
    /// strict at 40 MB, which a long session passes (100 conversations opened: ~46 MB). With a
    /// 128 MB limit (strict from 64 MB) the process kept growing by ~1.2 MB per 400 answers,
    /// ten rounds on end; with 80 MB it stays flat. Measured choices, BENCHMARKS.md "After
    /// heavy use".
    ///
    /// Polled every 30 s, WebKit's own default interval: on a slow 2-core machine one poll above
    /// the strict threshold stops the page for ~100 ms (a lighter one ~35 ms), and every 5 s that
    /// put a stall into every answer streaming for longer than that (chunk latency at 200
    /// chunks/s: p99 17–29 ms, max 44–124 ms; every 30 s: p99 12–13 ms, max 19–23 ms). What is
    /// released is the same, only later (BENCHMARKS.md, "Chunk delivery", session 12).
    pub const DEFAULT: Limits = Limits {
        limit_mb: 80,
        conservative: 0.33,
        strict: 0.5,
        poll_seconds: 30.0,
    };

    /// [`Limits::DEFAULT`], or none when `env` (the value of [`LIMIT_ENV`]) is `0`; another
    /// number replaces the limit. An unreadable value is reported and ignored.
    pub fn from_env(env: Option<&str>) -> Option<Limits> {
        let Some(raw) = given(env) else {
            return Some(Limits::DEFAULT);
        };
        match raw.parse::<u32>() {
            Ok(0) => None,
            Ok(limit_mb) => Some(Limits {
                limit_mb,
                ..Limits::DEFAULT
            }),
            Err(_) => {
                tracing::warn!(
                    value = raw,
                    "{LIMIT_ENV} is not a whole number of MB; using the default limit"
                );
                Some(Limits::DEFAULT)
            }
        }
    }

    /// These limits with the poll interval `env` (the value of [`POLL_ENV`]) when it is a
    /// number of seconds from 1 to 3600; another value is reported and ignored.
    pub fn with_poll_from_env(self, env: Option<&str>) -> Limits {
        let Some(raw) = given(env) else {
            return self;
        };
        match raw.parse::<f64>() {
            Ok(seconds) if (1.0..=3600.0).contains(&seconds) => Limits {
                poll_seconds: seconds,
                ..self
            },
            _ => {
                tracing::warn!(
                    value = raw,
                    "{POLL_ENV} is not a number of seconds from 1 to 3600; using the default"
                );
                self
            }
        }
    }

    /// The WebKit settings for these limits.
    pub fn settings(&self) -> MemoryPressureSettings {
        // The safe `MemoryPressureSettings::new` insists on an initialised GTK, which a plain
        // data structure does not need (and tests run without GTK).
        #[allow(unsafe_code)]
        // SAFETY: `webkit_memory_pressure_settings_new` returns a new boxed value that we own.
        let mut settings: MemoryPressureSettings =
            unsafe { from_glib_full(webkit2gtk::ffi::webkit_memory_pressure_settings_new()) };
        settings.set_memory_limit(self.limit_mb);
        // WebKit checks conservative < strict against the values already set: strict first.
        settings.set_strict_threshold(self.strict);
        settings.set_conservative_threshold(self.conservative);
        settings.set_poll_interval(self.poll_seconds);
        settings
    }
}

type SetProperty = unsafe extern "C" fn(
    *mut gobject_ffi::GObject,
    u32,
    *mut gobject_ffi::GValue,
    *mut gobject_ffi::GParamSpec,
);

struct Hook {
    original: SetProperty,
    limits: Limits,
}

/// Set once, *before* the class's slot points at [`set_property`], so the wrapper always finds it.
static HOOK: OnceLock<Hook> = OnceLock::new();
static INSTALL: Once = Once::new();
static APPLIED: AtomicU64 = AtomicU64::new(0);

const PROPERTY: &CStr = c"memory-pressure-settings";

/// Makes every `WebKitWebContext` built from now on carry `limits`. Call before the first
/// webview; later calls change nothing (the first one's limits stay).
pub fn install(limits: Limits) {
    INSTALL.call_once(|| {
        if !wrap_set_property(limits) {
            tracing::warn!(
                "WebKitWebContext has no set_property; web process memory limit not set"
            );
        }
    });
}

/// How many web contexts were built with the limit (diagnostics and tests).
pub fn applied() -> u64 {
    APPLIED.load(Ordering::SeqCst)
}

#[allow(unsafe_code)]
fn wrap_set_property(limits: Limits) -> bool {
    // SAFETY: `g_type_class_ref` returns the class structure of a registered GObject type (the
    // reference is never dropped: the class must outlive every context). Its first member is
    // the `GObjectClass`, whose `set_property` slot we read and replace once (`install` runs
    // through a `Once`), before any context exists.
    unsafe {
        let class = gobject_ffi::g_type_class_ref(webkit2gtk::WebContext::static_type().into_glib())
            as *mut gobject_ffi::GObjectClass;
        let Some(original) = (*class).set_property else {
            return false;
        };
        if HOOK.set(Hook { original, limits }).is_err() {
            return false;
        }
        (*class).set_property = Some(set_property);
        true
    }
}

#[allow(unsafe_code)]
unsafe extern "C" fn set_property(
    object: *mut gobject_ffi::GObject,
    id: u32,
    value: *mut gobject_ffi::GValue,
    pspec: *mut gobject_ffi::GParamSpec,
) {
    // HOOK is set before the slot is replaced, so this always finds it.
    let Some(hook) = HOOK.get() else {
        return;
    };
    // SAFETY: GObject calls this with a live object, a value of the property's type and the
    // property's spec; the name is a static NUL-terminated string.
    unsafe {
        let ours = CStr::from_ptr(gobject_ffi::g_param_spec_get_name(pspec)) == PROPERTY
            && gobject_ffi::g_value_get_boxed(value).is_null();
        if ours {
            let settings = hook.limits.settings().to_value();
            // GObject's slot takes `*mut` but setters only read the value.
            (hook.original)(object, id, settings.to_glib_none().0 as *mut _, pspec);
            APPLIED.fetch_add(1, Ordering::SeqCst);
            tracing::info!(limits = ?hook.limits, "web process memory limit set");
        } else {
            (hook.original)(object, id, value, pspec);
        }
    }
}

/// Reads [`LIMIT_ENV`] and installs the limit unless it is `0`.
pub fn install_from_env() {
    let env = std::env::var(LIMIT_ENV).ok();
    match Limits::from_env(env.as_deref()) {
        Some(limits) => install(limits.with_poll_from_env(std::env::var(POLL_ENV).ok().as_deref())),
        None => tracing::info!("{LIMIT_ENV}=0: WebKit's default memory limits"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsc_gets_both_options_unless_asked_for_defaults_and_the_users_own_settings_win() {
        let none = |_: &str| false;
        let both = vec![(DFG_ENV, "false"), (MINI_VM_ENV, "true")];
        assert_eq!(jsc_settings(None, none), both);
        assert_eq!(jsc_settings(Some(" "), none), both);
        assert_eq!(jsc_settings(None, none)[0], ("JSC_useDFGJIT", "false"));
        assert_eq!(jsc_settings(None, none)[1], ("JSC_forceMiniVMMode", "true"));
        assert!(jsc_settings(Some("full"), none).is_empty());
        assert!(jsc_settings(Some(" FULL "), none).is_empty());
        assert_eq!(
            jsc_settings(Some("fast"), none),
            both,
            "unknown: reported, ignored"
        );
        assert_eq!(
            jsc_settings(None, |name| name == DFG_ENV),
            vec![(MINI_VM_ENV, "true")],
            "JSC_useDFGJIT already set"
        );
        assert_eq!(
            jsc_settings(None, |name| name == MINI_VM_ENV),
            vec![(DFG_ENV, "false")],
            "JSC_forceMiniVMMode already set"
        );
        assert!(jsc_settings(None, |_| true).is_empty());
        assert!(jsc_settings(Some("full"), |_| true).is_empty());
    }

    #[test]
    fn the_cache_env_var_only_knows_browser() {
        assert_eq!(cache_model(None), CacheModel::DocumentViewer);
        assert_eq!(cache_model(Some(" ")), CacheModel::DocumentViewer);
        assert_eq!(cache_model(Some("browser")), CacheModel::WebBrowser);
        assert_eq!(cache_model(Some(" Browser ")), CacheModel::WebBrowser);
        assert_eq!(cache_model(Some("viewer")), CacheModel::DocumentViewer);
    }

    #[test]
    fn the_env_var_replaces_or_removes_the_limit() {
        assert_eq!(Limits::from_env(None), Some(Limits::DEFAULT));
        assert_eq!(Limits::from_env(Some(" ")), Some(Limits::DEFAULT));
        assert_eq!(Limits::from_env(Some("0")), None);
        assert_eq!(Limits::from_env(Some("256")).map(|l| l.limit_mb), Some(256));
        assert_eq!(Limits::from_env(Some("lots")), Some(Limits::DEFAULT));
        assert_eq!(Limits::from_env(Some("-5")), Some(Limits::DEFAULT));
    }

    #[test]
    fn the_poll_env_var_replaces_the_interval_within_bounds() {
        let poll = |env| Limits::DEFAULT.with_poll_from_env(env).poll_seconds;
        assert_eq!(poll(None), Limits::DEFAULT.poll_seconds);
        assert_eq!(poll(Some(" ")), Limits::DEFAULT.poll_seconds);
        assert_eq!(poll(Some("5")), 5.0);
        assert_eq!(poll(Some(" 2.5 ")), 2.5);
        for bad in ["0", "0.5", "-5", "3601", "NaN", "inf", "often"] {
            assert_eq!(poll(Some(bad)), Limits::DEFAULT.poll_seconds, "{bad}");
        }
        // Only the interval changes.
        let limits = Limits::DEFAULT.with_poll_from_env(Some("5"));
        assert_eq!(
            (limits.limit_mb, limits.conservative, limits.strict),
            (80, 0.33, 0.5)
        );
    }

    #[test]
    fn the_settings_carry_the_limits() {
        let limits = Limits {
            limit_mb: 300,
            conservative: 0.2,
            strict: 0.4,
            poll_seconds: 7.0,
        };
        let mut settings = limits.settings();
        assert_eq!(settings.memory_limit(), 300);
        assert_eq!(settings.conservative_threshold(), 0.2);
        assert_eq!(settings.strict_threshold(), 0.4);
        assert_eq!(settings.poll_interval(), 7.0);
        // No kill threshold: WebKit's default (0, never killed) is kept.
        assert_eq!(settings.kill_threshold(), 0.0);
    }
}
