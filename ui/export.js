// Export: the top bar's Export menu (the open conversation as Markdown or JSON) and the settings'
// "Export all" buttons. The save dialog and the file write happen on the Rust side
// (`export_to_file`); the page never sees a dialog API or picks a path itself.

import { api } from "./api.js";

const $ = (id) => document.getElementById(id);

let host = null;
let busy = false;

/** Saves an export (one conversation when `id` is set, all of them otherwise); the outcome is
 * toasted, and also written to `statusEl` when given (the toast sits under a modal dialog). */
async function exportTo(id, format, statusEl) {
  if (busy) return;
  busy = true;
  setBusy(true);
  const report = (text, ms) => {
    host.toast(text, ms);
    if (statusEl) {
      statusEl.textContent = text;
      statusEl.hidden = false;
    }
  };
  try {
    const saved = await api.exportToFile(id, format);
    if (saved) report("Exported to " + saved.path, 6000);
  } catch (error) {
    report("Export failed: " + host.describe(error), 8000);
  } finally {
    busy = false;
    setBusy(false);
  }
}

function setBusy(on) {
  for (const el of document.querySelectorAll("[data-export-format]")) {
    el.disabled = on;
    el.setAttribute("aria-busy", String(on));
  }
  $("export-button").disabled = on || !host.conversationId();
}

// ---- the top bar menu --------------------------------------------------------------------

function menuItems() {
  return [...$("export-menu").querySelectorAll("[role=menuitem]")];
}

function openMenu() {
  $("export-menu").hidden = false;
  $("export-button").setAttribute("aria-expanded", "true");
  menuItems()[0].focus();
}

function closeMenu(refocus) {
  if ($("export-menu").hidden) return;
  $("export-menu").hidden = true;
  $("export-button").setAttribute("aria-expanded", "false");
  if (refocus) $("export-button").focus();
}

/** Enables the Export button only while a conversation is open. */
export function syncExport() {
  if (!host) return;
  const open = !!host.conversationId();
  $("export-button").disabled = busy || !open;
  $("export-button").title = open ? "Export this conversation" : "Open a conversation to export it";
  if (!open) closeMenu(false);
}

/** Wires the Export menu and the settings' Export all buttons; `h` is {toast, describe,
 * conversationId}. */
export function wireExport(h) {
  host = h;
  const button = $("export-button");
  const menu = $("export-menu");
  button.addEventListener("click", () => (menu.hidden ? openMenu() : closeMenu(true)));
  button.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" && menu.hidden && !button.disabled) { e.preventDefault(); openMenu(); }
  });
  menu.addEventListener("keydown", (e) => {
    const items = menuItems();
    const at = items.indexOf(document.activeElement);
    if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); closeMenu(true); }
    else if (e.key === "ArrowDown") { e.preventDefault(); items[(at + 1) % items.length].focus(); }
    else if (e.key === "ArrowUp") { e.preventDefault(); items[(at - 1 + items.length) % items.length].focus(); }
    else if (e.key === "Tab") closeMenu(false);
  });
  for (const item of menuItems()) {
    item.addEventListener("click", () => {
      const id = host.conversationId();
      closeMenu(true);
      if (id) exportTo(id, item.dataset.exportFormat);
    });
  }
  document.addEventListener("click", (e) => {
    if (!menu.hidden && !menu.contains(e.target) && !button.contains(e.target)) closeMenu(false);
  });
  for (const el of document.querySelectorAll("[data-export-all]")) {
    el.addEventListener("click", () => exportTo(null, el.dataset.exportFormat, $("export-all-status")));
  }
  syncExport();
}
