// The app shell: conversations sidebar, per-conversation parameters, settings, theme, status
// bar, first-run screen, keyboard shortcuts. The chat view itself lives in chat.js.

import { api } from "./api.js";
import { ChatView, WINDOW } from "./chat.js";
import { startStatusClock, updateStatus } from "./status.js";
import { drawWelcome } from "./welcome.js";
import { initDevPanel, toggleDevPanel } from "./devpanel.js";
import { syncExport, wireExport } from "./export.js";
import { initUpdates } from "./update.js";
import { applyTheme, loadSettings, openSettings, saveSettingsPatch, wireSettings } from "./settings.js";

const $ = (id) => document.getElementById(id);

const state = {
  status: null,
  settings: null,
  conversations: [],
  current: null, // {id, title, model, systemPrompt, temperature, maxTokens}
  query: "",
};

let chat = null;

// ---- toast -------------------------------------------------------------------------------

let toastTimer = 0;
function toast(text, ms = 1800) {
  const el = $("toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, ms);
}

function describe(error) {
  return (error && error.message) || "something went wrong";
}

// ---- status bar --------------------------------------------------------------------------

async function refreshStatus() {
  await updateStatus(state, describe);
}
startStatusClock(refreshStatus);

// ---- conversations -----------------------------------------------------------------------

function groupOf(ms) {
  const day = 86400000;
  const now = new Date();
  const startToday = new Date(now.getFullYear(), now.getMonth(), now.getDate()).getTime();
  if (ms >= startToday) return "Today";
  if (ms >= startToday - day) return "Yesterday";
  if (ms >= startToday - 7 * day) return "Previous 7 days";
  return "Older";
}

async function loadConversations() {
  try {
    state.conversations = state.query
      ? await api.searchConversations(state.query)
      : await api.listConversations();
  } catch (error) {
    state.conversations = [];
    toast("Could not load conversations: " + describe(error));
  }
  drawConversations();
}

// Sidebar rows are kept per conversation and reused while their title and snippet stay the same;
// only rows out of place are moved. Rebuilding the whole list on every change (three times per
// message sent) left thousands of detached rows that WebKit frees only when its garbage collector
// runs, which an idle page never triggers: +60 MB in the page's process after 100 new
// conversations (BENCHMARKS.md, "After heavy use").
const rows = new Map(); // conversation id -> { key, item, open }
const groupHeaders = new Map(); // group name -> header element

function drawConversations() {
  const list = $("conversation-list");
  if (!state.conversations.length) {
    const empty = document.createElement("div");
    empty.className = "conv-empty";
    empty.textContent = state.query ? "No conversation matches." : "No conversations yet.";
    list.replaceChildren(empty);
    rows.clear();
    return;
  }
  const wanted = [];
  const seen = new Set();
  const headersUsed = new Set();
  let group = null;
  for (const c of state.conversations) {
    const g = state.query ? "Results" : groupOf(c.updatedAt);
    if (g !== group) {
      group = g;
      wanted.push(groupHeader(g, headersUsed));
    }
    wanted.push(conversationRow(c));
    seen.add(c.id);
  }
  for (const id of [...rows.keys()]) if (!seen.has(id)) rows.delete(id);
  // Put the wanted nodes in order, moving only those that are out of place.
  let at = list.firstChild;
  for (const node of wanted) {
    if (node === at) {
      at = at.nextSibling;
    } else {
      list.insertBefore(node, at);
    }
  }
  while (at) {
    const next = at.nextSibling;
    at.remove();
    at = next;
  }
}

function groupHeader(name, used) {
  let h = groupHeaders.get(name);
  // A name seen twice in one list (never, while the list is sorted) gets a header of its own.
  if (!h || used.has(name)) {
    h = document.createElement("div");
    h.className = "conv-group";
    h.textContent = name;
    if (!used.has(name)) groupHeaders.set(name, h);
  }
  used.add(name);
  return h;
}

function conversationRow(c) {
  const key = `${c.title || ""}\u0000${c.snippet || ""}`;
  let row = rows.get(c.id);
  if (!row || row.key !== key) {
    const item = conversationItem(c);
    row = { key, item, open: item.querySelector(".conv-open") };
    rows.set(c.id, row);
  }
  const active = Boolean(state.current && state.current.id === c.id);
  row.item.classList.toggle("active", active);
  if (active) row.open.setAttribute("aria-current", "true");
  else row.open.removeAttribute("aria-current");
  return row.item;
}

function conversationItem(c) {
  const item = document.createElement("div");
  item.className = "conv-item"; // "active" and aria-current: conversationRow
  const open = document.createElement("button");
  open.type = "button";
  open.className = "conv-open";
  open.textContent = c.title || "Untitled";
  if (c.snippet) {
    const snip = document.createElement("span");
    snip.className = "conv-snippet";
    snip.textContent = c.snippet;
    open.append(snip);
  }
  open.addEventListener("click", () => openConversation(c.id));
  const actions = document.createElement("div");
  actions.className = "conv-actions";
  const rename = iconButton('<path d="M4 20h4L19 9l-4-4L4 16z"/>', "Rename " + (c.title || "conversation"));
  rename.addEventListener("click", () => startRename(item, c));
  const del = iconButton('<path d="M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13"/>', "Delete " + (c.title || "conversation"));
  del.addEventListener("click", () => deleteConversation(c));
  actions.append(rename, del);
  item.append(open, actions);
  return item;
}

function iconButton(path, label) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "icon-btn sm";
  b.innerHTML = `<svg viewBox="0 0 24 24" aria-hidden="true">${path}</svg>`;
  b.setAttribute("aria-label", label);
  b.title = label;
  return b;
}

function startRename(item, c) {
  rows.delete(c.id); // its children become the input: the next draw builds the row afresh
  const input = document.createElement("input");
  input.className = "rename";
  input.value = c.title || "";
  input.setAttribute("aria-label", "New title");
  item.replaceChildren(input);
  input.focus();
  input.select();
  let done = false;
  const finish = async (save) => {
    if (done) return;
    done = true;
    const title = input.value.trim();
    if (save && title && title !== c.title) {
      try {
        await api.renameConversation(c.id, title);
        if (state.current && state.current.id === c.id) {
          state.current.title = title;
          $("conv-title").textContent = title;
        }
      } catch (error) {
        toast("Rename failed: " + describe(error));
      }
    }
    loadConversations();
  };
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); finish(true); }
    if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); finish(false); }
  });
  input.addEventListener("blur", () => finish(true));
}

/** Asks in the app's own dialog (focus on Cancel; Esc cancels); resolves true for `action`. */
function ask(title, text, action) {
  const dialog = $("confirm-dialog");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = action;
  dialog.returnValue = "cancel";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
    $("confirm-cancel").focus();
  });
}

async function deleteConversation(c) {
  const name = c.title || "this conversation";
  if (!(await ask("Delete conversation?", `"${name}" and its messages will be deleted. This cannot be undone.`, "Delete"))) return;
  try {
    await api.deleteConversation(c.id);
  } catch (error) {
    toast("Delete failed: " + describe(error));
    return;
  }
  if (state.current && state.current.id === c.id) newChat();
  loadConversations();
}

async function openConversation(id) {
  if (chat.streaming) await chat.stop();
  let conversation;
  try {
    conversation = await api.getConversation(id, { limit: WINDOW });
  } catch (error) {
    toast("Could not open the conversation: " + describe(error));
    return;
  }
  state.current = {
    id: conversation.id,
    title: conversation.title,
    model: conversation.model || "",
    systemPrompt: conversation.systemPrompt || "",
    temperature: conversation.temperature ?? null,
    maxTokens: conversation.maxTokens ?? null,
  };
  showParams();
  syncExport();
  $("conv-title").textContent = conversation.title || "Untitled";
  $("empty").hidden = true;
  await chat.show(conversation.messages || [], conversation.earlier || 0);
  drawConversations();
  $("prompt").focus();
}

function newChat() {
  if (chat.streaming) chat.stop();
  state.current = null;
  showParams();
  syncExport();
  $("conv-title").textContent = "New chat";
  chat.show([]);
  drawEmpty();
  drawConversations();
  $("prompt").value = "";
  autoGrow();
  $("prompt").focus();
}

// ---- per-conversation parameters ---------------------------------------------------------

function currentParams() {
  const c = state.current;
  const defaults = state.settings || {};
  return {
    model: (c ? c.model : $("model-input").value.trim()) || defaults.defaultModel || "",
    systemPrompt: c ? c.systemPrompt : $("system-prompt").value,
    temperature: c ? c.temperature : readTemperature(),
    maxTokens: c ? c.maxTokens : readMaxTokens(),
  };
}

function readTemperature() {
  return $("temperature-default").checked ? null : Number($("temperature").value);
}

function readMaxTokens() {
  const v = parseInt($("max-tokens").value, 10);
  return Number.isFinite(v) && v > 0 ? v : null;
}

function showParams() {
  const c = state.current;
  $("model-input").value = c ? c.model : "";
  $("system-prompt").value = c ? c.systemPrompt : "";
  const t = c ? c.temperature : null;
  $("temperature-default").checked = t == null;
  $("temperature").value = t == null ? 1 : t;
  $("temperature").disabled = t == null;
  $("temperature-value").textContent = t == null ? "default" : Number(t).toFixed(1);
  $("max-tokens").value = c && c.maxTokens ? c.maxTokens : "";
}

let paramsTimer = 0;
function paramsChanged() {
  $("temperature").disabled = $("temperature-default").checked;
  const t = readTemperature();
  $("temperature-value").textContent = t == null ? "default" : t.toFixed(1);
  const c = state.current;
  if (!c) return;
  c.model = $("model-input").value.trim();
  c.systemPrompt = $("system-prompt").value;
  c.temperature = t;
  c.maxTokens = readMaxTokens();
  clearTimeout(paramsTimer);
  paramsTimer = setTimeout(() => {
    api.updateConversation(c.id, {
      model: c.model || null,
      systemPrompt: c.systemPrompt || null,
      temperature: c.temperature,
      maxTokens: c.maxTokens,
    }).catch((error) => toast("Could not save the parameters: " + describe(error)));
  }, 400);
}

// ---- the host interface chat.js uses ------------------------------------------------------

const host = {
  toast,
  params: currentParams,
  conversationId: () => (state.current ? state.current.id : null),
  async ensureConversation(firstPrompt) {
    if (state.current) return state.current.id;
    const title = firstPrompt.trim().split("\n")[0].slice(0, 60) || "New chat";
    const draft = {
      title,
      model: $("model-input").value.trim() || null,
      systemPrompt: $("system-prompt").value || null,
      temperature: readTemperature(),
      maxTokens: readMaxTokens(),
    };
    const created = await api.createConversation(draft);
    state.current = {
      id: created.id,
      title: created.title,
      model: created.model || "",
      systemPrompt: created.systemPrompt || "",
      temperature: created.temperature ?? null,
      maxTokens: created.maxTokens ?? null,
    };
    $("conv-title").textContent = created.title;
    $("empty").hidden = true;
    syncExport();
    loadConversations();
    return created.id;
  },
  afterExchange() {
    loadConversations();
    refreshStatus();
  },
};

// ---- empty state and first run -----------------------------------------------------------

function drawEmpty() {
  drawWelcome({
    status: state.status,
    settings: state.settings,
    onConfigure: () => openSettings(settingsHost),
    onDismiss: () => saveSettingsPatch(settingsHost, { firstRunDismissed: true }).catch((e) => toast(describe(e))),
    onSuggestion: sendText,
  });
}

// ---- composer ----------------------------------------------------------------------------

function autoGrow() {
  const p = $("prompt");
  p.style.height = "auto";
  p.style.height = Math.min(220, p.scrollHeight) + "px";
}

async function sendText(text) {
  if (!text.trim() || chat.streaming) return;
  $("prompt").value = "";
  autoGrow();
  $("empty").hidden = true;
  try {
    await chat.send(text);
  } catch (error) {
    toast(describe(error));
  }
}

const settingsHost = {
  state,
  toast,
  describe,
  refreshStatus,
  afterSave: () => { if (!state.current) drawEmpty(); },
};

// ---- wiring ------------------------------------------------------------------------------

function wire() {
  $("composer").addEventListener("submit", (e) => { e.preventDefault(); sendText($("prompt").value); });
  $("prompt").addEventListener("input", autoGrow);
  $("prompt").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      sendText($("prompt").value);
    }
  });
  $("stop").addEventListener("click", () => chat.stop());
  $("new-chat").addEventListener("click", newChat);
  $("open-help").addEventListener("click", () => $("help-dialog").showModal());
  $("open-dev").addEventListener("click", toggleDevPanel);
  wireSettings(settingsHost);
  $("toggle-params").addEventListener("click", () => {
    const panel = $("params-panel");
    panel.hidden = !panel.hidden;
    $("toggle-params").setAttribute("aria-expanded", String(!panel.hidden));
  });
  for (const id of ["model-input", "system-prompt", "temperature", "temperature-default", "max-tokens"]) {
    $(id).addEventListener("input", paramsChanged);
  }
  $("search-input").addEventListener("keydown", (e) => {
    if (e.key === "Escape" && $("search-input").value) {
      e.preventDefault();
      e.stopPropagation();
      $("search-input").value = "";
      state.query = "";
      loadConversations();
    }
  });
  let searchTimer = 0;
  $("search-input").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => { state.query = $("search-input").value.trim(); loadConversations(); }, 150);
  });
  // Links in answers open in the system browser; the page itself never navigates.
  $("thread").addEventListener("click", (e) => {
    const link = e.target.closest("a");
    if (!link) return;
    e.preventDefault();
    const href = link.getAttribute("href");
    if (href && /^(https?:|mailto:)/i.test(href)) {
      api.openExternal(href).catch((error) => toast(describe(error)));
    }
  });
  document.addEventListener("keydown", (e) => {
    const mod = e.ctrlKey || e.metaKey;
    if (e.key === "Escape" && chat.streaming) { e.preventDefault(); chat.stop(); return; }
    if (mod && e.key.toLowerCase() === "n") { e.preventDefault(); newChat(); return; }
    if (mod && e.key.toLowerCase() === "k") { e.preventDefault(); $("search-input").focus(); $("search-input").select(); return; }
    if (mod && e.shiftKey && e.key.toLowerCase() === "d") { e.preventDefault(); toggleDevPanel(); return; }
    if (mod && e.key === ",") { e.preventDefault(); openSettings(settingsHost); return; }
    const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement && document.activeElement.tagName);
    if (e.key === "F1" || (e.key === "?" && !typing)) { e.preventDefault(); $("help-dialog").showModal(); }
  });
}

async function boot() {
  chat = new ChatView(host);
  initDevPanel({ toast, describe, refreshStatus, status: () => state.status, conversationId: host.conversationId });
  wireExport({ toast, describe, conversationId: host.conversationId });
  initUpdates({ describe, openSettings: () => openSettings(settingsHost) });
  wire();
  await loadSettings(settingsHost);
  await refreshStatus();
  drawEmpty();
  await loadConversations();
  showParams();
  $("prompt").focus();
  document.body.dataset.ready = "true";
}

// The script loads `async` (so it never holds back the first paint of the page): wait for the
// document if it is still being parsed.
if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", boot, { once: true });
} else {
  boot();
}
