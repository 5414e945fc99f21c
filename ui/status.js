// The status bar: auth mode ("Demo: local gateway" in demo mode), user, token expiry
// countdown, and where secrets are kept.

import { api } from "./api.js";

const $ = (id) => document.getElementById(id);

const MODE_LABELS = {
  demo: "Demo: local gateway",
  tokenEndpoint: "Token endpoint",
  apiKey: "API key",
  localSigning: "Local signing",
  unconfigured: "Not configured",
};

/** Sets an element's text and tooltip, touching the DOM only for a change (every write redraws
 * the window; see `tickToken`). */
function show(el, text, title) {
  if (el.textContent !== text) el.textContent = text;
  if (title !== undefined && el.title !== title) el.title = title;
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
  mode.classList.toggle("demo", !!s.demo);
  show($("status-user"), s.userId ? "User " + s.userId : "");
  const keyring = $("status-keyring");
  const saved = s.keyring === "persisted";
  show(keyring, saved ? "Keyring: saved" : "Keyring: memory only, not saved", s.keyringDetail || "");
  const className = saved ? "ok-text" : "warn-text";
  if (keyring.className !== className) keyring.className = className;
  show($("status-version"), "v" + s.version);
  tickToken(state);
}

/** The countdown's text for a token expiring at `at` (epoch seconds), `now` seconds: whole
 * minutes while a minute or more is left, seconds in the last one. */
export function tokenText(at, now) {
  if (!at) return "";
  const left = Math.round(at - now);
  if (left <= 0) return "Token: refreshes on next use";
  if (left < 60) return `Token expires in 0:${String(left).padStart(2, "0")}`;
  return `Token expires in ${Math.floor(left / 60)} min`;
}

// The countdown is read every second but written only when its text changes (once a minute,
// every second in the last one): each write redraws the window, and on Linux an idle window's
// redraws pile up in the event loop's queue (ARCHITECTURE.md, "An idle window does not redraw
// forever"). The exact time is in the tooltip.
function tickToken(state) {
  const el = $("status-token");
  const at = state.status && state.status.tokenExpiresAt;
  const title = at ? "Token expires at " + new Date(at * 1000).toLocaleTimeString() : "Token expiry";
  show(el, tokenText(at, Date.now() / 1000), title);
}

/** Ticks the countdown every second and re-reads the status every 30 s. */
export function startStatusClock(state, refresh) {
  setInterval(() => tickToken(state), 1000);
  setInterval(refresh, 30000);
}
