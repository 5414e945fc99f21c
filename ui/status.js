// The status bar: auth mode ("Demo: local gateway" in demo mode), user, token expiry
// countdown, and where secrets are kept.
//
// An idle window must not repaint: on Linux every repaint of the window is kept by the windowing
// layer until the next event arrives (ARCHITECTURE.md, "An idle window should not redraw"). So
// the status bar writes the page only when what it shows changes, and the countdown shows whole
// minutes (seconds only in the last minute), waking once per change rather than every second.

import { api } from "./api.js";

const $ = (id) => document.getElementById(id);

const MODE_LABELS = {
  demo: "Demo: local gateway",
  tokenEndpoint: "Token endpoint",
  apiKey: "API key",
  localSigning: "Local signing",
  unconfigured: "Not configured",
};

/** Sets an element's text, tooltip and class only where they differ: an unchanged write still
 *  replaces the text node, and that is a repaint. `undefined` leaves a property as it is. */
function show(el, text, title, className) {
  if (el.textContent !== text) el.textContent = text;
  if (title !== undefined && el.title !== title) el.title = title;
  if (className !== undefined && el.className !== className) el.className = className;
}

/** Reads the status into `state.status` and shows it. */
export async function updateStatus(state, describe) {
  try {
    state.status = await api.appStatus();
  } catch (error) {
    show($("status-mode"), "Not connected", describe(error));
    return;
  }
  const s = state.status;
  const mode = $("status-mode");
  show(mode, MODE_LABELS[s.mode] || s.mode, s.problem || s.baseUrl || "");
  mode.classList.toggle("demo", !!s.demo); // with `force`, a class already so is left untouched
  show($("status-user"), s.userId ? "User " + s.userId : "");
  const saved = s.keyring === "persisted";
  show(
    $("status-keyring"),
    saved ? "Keyring: saved" : "Keyring: memory only, not saved",
    s.keyringDetail || "",
    saved ? "ok-text" : "warn-text",
  );
  show($("status-version"), "v" + s.version);
  tickToken(state);
}

/** What the countdown shows `left` whole seconds before expiry, and in how many seconds that
 *  text changes (`null`: never). Above a minute it counts whole minutes rounded up, so a fresh
 *  one-hour token reads "60 min" until a full minute has passed; the last minute counts seconds. */
export function tokenCountdown(left) {
  if (left <= 0) return { text: "Token: refreshes on next use", next: null };
  if (left <= 60) return { text: `Token expires in ${left} s`, next: 1 };
  const minutes = Math.ceil(left / 60);
  return { text: `Token expires in ${minutes} min`, next: left - (minutes - 1) * 60 };
}

let tokenTimer = 0;

/** Shows the countdown and arms one timer for the moment its text next changes. */
function tickToken(state) {
  clearTimeout(tokenTimer);
  tokenTimer = 0;
  const el = $("status-token");
  const at = state.status && state.status.tokenExpiresAt;
  if (!at) {
    show(el, "", "Token expiry");
    return;
  }
  const left = Math.ceil(at - Date.now() / 1000);
  const { text, next } = tokenCountdown(left);
  show(el, text, "Token expires at " + new Date(at * 1000).toLocaleTimeString());
  if (next !== null) {
    // A few milliseconds late rather than early, so the text has changed when it fires.
    const wait = (at - left + next) * 1000 - Date.now() + 20;
    tokenTimer = setTimeout(() => tickToken(state), Math.max(wait, 50));
  }
}

/** Re-reads the status every 30 s (the countdown keeps its own timer). */
export function startStatusClock(refresh) {
  setInterval(refresh, 30000);
}
