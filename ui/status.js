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

/** Reads the status into `state.status` and shows it. */
export async function updateStatus(state, describe) {
  try {
    state.status = await api.appStatus();
  } catch (error) {
    $("status-mode").textContent = "Not connected";
    $("status-mode").title = describe(error);
    return;
  }
  const s = state.status;
  const mode = $("status-mode");
  mode.textContent = MODE_LABELS[s.mode] || s.mode;
  mode.classList.toggle("demo", !!s.demo);
  mode.title = s.problem || s.baseUrl || "";
  $("status-user").textContent = s.userId ? "User " + s.userId : "";
  const keyring = $("status-keyring");
  if (s.keyring === "persisted") {
    keyring.textContent = "Keyring: saved";
    keyring.className = "ok-text";
  } else {
    keyring.textContent = "Keyring: memory only, not saved";
    keyring.className = "warn-text";
  }
  keyring.title = s.keyringDetail || "";
  $("status-version").textContent = "v" + s.version;
  tickToken(state);
}

function tickToken(state) {
  const el = $("status-token");
  const at = state.status && state.status.tokenExpiresAt;
  if (!at) {
    el.textContent = "";
    return;
  }
  const left = Math.round(at - Date.now() / 1000);
  if (left <= 0) {
    el.textContent = "Token: refreshes on next use";
    return;
  }
  const m = Math.floor(left / 60);
  const sec = String(left % 60).padStart(2, "0");
  el.textContent = `Token expires in ${m}:${sec}`;
}

/** Ticks the countdown every second and re-reads the status every 30 s. */
export function startStatusClock(state, refresh) {
  setInterval(() => tickToken(state), 1000);
  setInterval(refresh, 30000);
}
