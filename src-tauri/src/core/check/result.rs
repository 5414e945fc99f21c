//! The outcome of one named check and of a whole run, in the JSON shape `check --json` prints:
//! `{"ok": bool, "mode": "...", "checks": [{"name", "ok", "detail", "hint"}]}`.
//!
//! Invariants: `hint` is `Some` exactly when `ok` is false; every detail passes through
//! [`scrub`] on construction (details may quote server text), so no token, key or PEM can
//! reach the output even if one slipped into a message. Hints are composed only of fixed text,
//! setting names and secret-free reasons; they are not scrubbed, because scrubbing would blank
//! the key prefixes (`behest_sk_live_`) a hint must be able to name.

use serde::{Deserialize, Serialize};

use crate::core::redact::scrub;

/// One named check: passed or failed, a one-line detail, and on failure what to change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// Stable name, e.g. `config.key`, `verify.signature`, `cors:https://app.example.com`.
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was found (never a secret).
    pub detail: String,
    /// On failure: which setting or environment variable to change, and how.
    pub hint: Option<String>,
}

impl CheckResult {
    /// A passing check.
    pub fn pass(name: impl Into<String>, detail: impl AsRef<str>) -> Self {
        CheckResult {
            name: name.into(),
            ok: true,
            detail: scrub(detail.as_ref()),
            hint: None,
        }
    }

    /// A failing check with its hint.
    pub fn fail(name: impl Into<String>, detail: impl AsRef<str>, hint: impl AsRef<str>) -> Self {
        CheckResult {
            name: name.into(),
            ok: false,
            detail: scrub(detail.as_ref()),
            hint: Some(hint.as_ref().to_string()),
        }
    }

    /// A check not run because `dependency` failed: reported as a failure, with the reason.
    pub fn skipped(name: impl Into<String>, dependency: &str) -> Self {
        CheckResult::fail(
            name,
            format!("skipped: {dependency} failed"),
            format!("fix {dependency} first, then run the check again"),
        )
    }
}

/// The result of a whole run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Whether every check passed.
    pub ok: bool,
    /// The auth mode checked (`apiKey`, `localSign`, `tokenEndpoint`, `demo`), or `unknown`
    /// when the configuration could not be resolved.
    pub mode: String,
    /// Every check, in the order run.
    pub checks: Vec<CheckResult>,
}

impl CheckReport {
    /// A report over `checks`.
    pub fn new(mode: impl Into<String>, checks: Vec<CheckResult>) -> Self {
        CheckReport {
            ok: checks.iter().all(|c| c.ok),
            mode: mode.into(),
            checks,
        }
    }

    /// The check with this name.
    pub fn get(&self, name: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.name == name)
    }
}

/// Collects results in order and tells the progress callback about each as it finishes.
pub(crate) struct Recorder<F> {
    checks: Vec<CheckResult>,
    progress: F,
}

impl<F: FnMut(&CheckResult)> Recorder<F> {
    /// An empty recorder.
    pub(crate) fn new(progress: F) -> Self {
        Recorder {
            checks: Vec::new(),
            progress,
        }
    }

    /// Records `result`; returns whether it passed.
    pub(crate) fn push(&mut self, result: CheckResult) -> bool {
        (self.progress)(&result);
        let ok = result.ok;
        self.checks.push(result);
        ok
    }

    /// Records a skip of each of `names` because `dependency` failed.
    pub(crate) fn skip_all(&mut self, names: &[&str], dependency: &str) {
        for name in names {
            self.push(CheckResult::skipped(*name, dependency));
        }
    }

    /// The report.
    pub(crate) fn finish(self, mode: &str) -> CheckReport {
        CheckReport::new(mode, self.checks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hint_only_on_failure_and_secrets_scrubbed() {
        let p = CheckResult::pass("a", "fine");
        assert!(p.ok && p.hint.is_none());
        let token = "eyJhbGciOiJSUzI1NiJ9.eyJ1aWQiOiJhIn0.c2lnbmF0dXJlc2lnbmF0dXJl";
        let f = CheckResult::fail("b", format!("saw {token}"), "set BEHEST_KEY");
        assert!(!f.ok && f.hint.as_deref() == Some("set BEHEST_KEY"));
        assert!(!f.detail.contains(token), "{}", f.detail);
        let s = CheckResult::skipped("c", "b");
        assert!(!s.ok && s.detail.contains("skipped") && s.hint.is_some());
        let report = CheckReport::new("apiKey", vec![p, f]);
        assert!(!report.ok);
        let json = serde_json::to_value(&report).unwrap_or_default();
        assert_eq!(json["mode"], "apiKey");
        assert_eq!(json["checks"][0]["hint"], serde_json::Value::Null);
    }
}
