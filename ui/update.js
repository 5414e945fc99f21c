// Updates: a quiet check a few seconds after start (a button in the status bar when a newer
// signed version exists) and the Settings "Updates" section, which shows the offer with its
// notes and installs only when the user presses Install. The Rust side installs exactly the
// version the user agreed to, after checking its signature; the history is never touched
// (the new version migrates it when it opens it).

import { api } from "./api.js";

const $ = (id) => document.getElementById(id);

/** How long after start the quiet check runs (the window is up and idle by then). */
const QUIET_CHECK_MS = 4000;

let host = null;
let offered = null;

/** Wires the Updates section and the status-bar button; schedules the quiet check. `h` gives
 * `describe(error)` and `openSettings()`. */
export function initUpdates(h) {
  host = h;
  $("check-update").addEventListener("click", () => check(false));
  $("install-update").addEventListener("click", install);
  $("restart-app").addEventListener("click", () => {
    api.restartApp().catch((error) => say("Could not restart: " + host.describe(error), true));
  });
  $("update-pill").addEventListener("click", () => {
    host.openSettings();
    $("updates-section").scrollIntoView({ block: "center" });
    $("install-update").hidden ? $("check-update").focus() : $("install-update").focus();
  });
  setTimeout(() => check(true), QUIET_CHECK_MS);
}

/** Asks the release endpoint. Quiet: only an offer is shown, failures are not. */
async function check(quiet) {
  const button = $("check-update");
  if (!quiet) say("Checking for updates…");
  button.disabled = true;
  try {
    const status = await api.checkForUpdate(null);
    if (status.available) {
      offer(status);
    } else if (!quiet) {
      say(`Behest Desktop ${status.currentVersion} is the latest version.`);
    }
  } catch (error) {
    if (!quiet) say("Could not check for updates: " + host.describe(error), true);
  } finally {
    button.disabled = false;
  }
}

function offer(status) {
  offered = status.available;
  say(`Version ${status.available} is available (you have ${status.currentVersion}).`);
  const notes = $("update-notes");
  notes.textContent = status.notes || "";
  notes.hidden = !status.notes;
  const install = $("install-update");
  install.textContent = `Install version ${status.available}`;
  install.hidden = false;
  const pill = $("update-pill");
  pill.textContent = `Update ${status.available} available`;
  pill.hidden = false;
}

/** Downloads, verifies and installs the offered version: the user pressed Install. */
async function install() {
  if (!offered) return;
  const version = offered;
  const button = $("install-update");
  button.disabled = true;
  say(`Downloading and verifying version ${version}…`);
  try {
    const status = await api.checkForUpdate(version);
    if (status.installed) {
      say(`Version ${version} is installed. Restart Behest Desktop to use it.`);
      button.hidden = true;
      $("restart-app").hidden = false;
      $("update-pill").textContent = "Restart to update";
    }
  } catch (error) {
    say(`Version ${version} was not installed: ${host.describe(error)}`, true);
  } finally {
    button.disabled = false;
  }
}

function say(text, isError) {
  const el = $("update-status");
  el.textContent = text;
  el.classList.toggle("error-text", !!isError);
}
