// Settings: the dialog (connection, write-only secrets, developer tools), the theme, and the
// settings object shared with app.js through `host.state.settings`.

import { api } from "./api.js";
import { syncHighlightTheme } from "./render.js";

const $ = (id) => document.getElementById(id);

// ---- theme -------------------------------------------------------------------------------

const darkQuery = window.matchMedia("(prefers-color-scheme: dark)");
let currentChoice = "system";

/** Applies `light`, `dark` or `system` (following the OS while it is chosen). */
export function applyTheme(theme) {
  currentChoice = theme || "system";
  const dark = theme === "dark" || (theme !== "light" && darkQuery.matches);
  document.documentElement.dataset.theme = dark ? "dark" : "light";
  document.documentElement.dataset.themeChoice = currentChoice;
  syncHighlightTheme();
}
darkQuery.addEventListener("change", () => applyTheme(currentChoice));

// ---- settings ----------------------------------------------------------------------------

/** Reads the settings into `host.state.settings` and applies the theme. */
export async function loadSettings(host) {
  try {
    host.state.settings = await api.getSettings();
  } catch (error) {
    host.state.settings = { theme: "system" };
    host.toast("Could not read the settings: " + host.describe(error));
  }
  applyTheme(host.state.settings.theme);
}

/** Saves the settings with `patch` applied; rejects (changing nothing) when they are invalid. */
export async function saveSettingsPatch(host, patch) {
  const next = { ...host.state.settings, ...patch };
  host.state.settings = await api.updateSettings(next);
  applyTheme(host.state.settings.theme);
  return host.state.settings;
}

/** Opens the dialog filled with the current settings (secret fields always empty). */
export function openSettings(host) {
  const s = host.state.settings || {};
  const form = $("settings-form");
  for (const input of form.querySelectorAll("input[name], select[name]")) {
    if (input.type === "radio") input.checked = (s[input.name] || "system") === input.value;
    else input.value = s[input.name] ?? "";
  }
  $("set-mode").value = s.authMode || "demo";
  for (const el of form.querySelectorAll("[data-secret]")) {
    el.value = "";
    const has = s.secrets && s.secrets[el.dataset.secret];
    el.placeholder = has ? "•••••••• stored in the keyring" : (el.dataset.secret === "apiKey" ? "behest_sk_live_…" : "");
  }
  const status = host.state.status;
  $("keyring-note").textContent = status && status.keyring === "memoryOnly" ? "(keyring unavailable: kept in memory only)" : "";
  $("settings-error").hidden = true;
  $("token-view").hidden = true;
  showModeFields();
  $("settings-dialog").showModal();
}

function showModeFields() {
  const mode = $("set-mode").value;
  for (const el of $("settings-form").querySelectorAll("[data-modes]")) {
    el.hidden = !el.dataset.modes.split(" ").includes(mode);
  }
}

async function saveSettings(host) {
  const form = $("settings-form");
  const patch = {};
  for (const input of form.querySelectorAll("input[name], select[name]")) {
    if (input.type === "radio") { if (input.checked) patch[input.name] = input.value; }
    else patch[input.name] = input.value.trim() || null;
  }
  patch.authMode = $("set-mode").value;
  const error = $("settings-error");
  error.hidden = true;
  try {
    for (const el of form.querySelectorAll("[data-secret]")) {
      if (el.value && !el.closest("[hidden]")) await api.setSecret(el.dataset.secret, el.value);
      el.value = "";
    }
    await saveSettingsPatch(host, patch);
  } catch (e) {
    error.textContent = host.describe(e);
    error.hidden = false;
    return;
  }
  $("settings-dialog").close();
  host.toast("Settings saved");
  await host.refreshStatus();
  host.afterSave();
}

async function mintToken(host) {
  const view = $("token-view");
  try {
    const info = await api.mint({});
    const shown = { header: info.header, claims: info.claims, expiresAt: info.expiresAt, sessionId: info.sessionId };
    view.textContent = JSON.stringify(shown, null, 2);
  } catch (error) {
    view.textContent = `${error.kind}: ${host.describe(error)}`;
  }
  view.hidden = false;
}

/** Wires the dialog's controls. */
export function wireSettings(host) {
  $("open-settings").addEventListener("click", () => openSettings(host));
  $("save-settings").addEventListener("click", () => saveSettings(host));
  $("set-mode").addEventListener("change", showModeFields);
  $("mint-btn").addEventListener("click", () => mintToken(host));
  $("copy-token-btn").addEventListener("click", async () => {
    try {
      await api.copyToken();
      host.toast("Token copied to the clipboard");
    } catch (error) {
      host.toast(host.describe(error));
    }
  });
  $("sign-out").addEventListener("click", async () => {
    try {
      await api.signOut();
      host.toast("Signed out; secrets forgotten");
    } catch (error) {
      host.toast(host.describe(error));
    }
    await loadSettings(host);
    await host.refreshStatus();
    openSettings(host);
  });
  for (const radio of document.querySelectorAll('input[name="theme"]')) {
    radio.addEventListener("change", () => applyTheme(radio.value));
  }
  // Closing without saving restores the saved theme (the radios preview it live).
  $("settings-dialog").addEventListener("close", () => applyTheme(host.state.settings && host.state.settings.theme));
}
