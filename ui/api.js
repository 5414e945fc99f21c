// The only file that talks to the Rust side (Tauri `invoke` and `Channel`).
//
// Every function returns a promise. A rejected promise carries the backend's
// `{kind, message, traceId?, retryAfter?}`; anything else (a missing bridge, a bug) is
// turned into the same shape with kind "internal", so callers switch on `kind` only.

const bridge = window.__TAURI__ && window.__TAURI__.core;

function asCommandError(error) {
  if (error && typeof error === "object" && typeof error.kind === "string") return error;
  return { kind: "internal", message: String((error && error.message) || error || "unknown error") };
}

async function call(command, args) {
  if (!bridge) throw asCommandError("the Tauri bridge is missing: open this page in the app");
  try {
    return await bridge.invoke(command, args || {});
  } catch (error) {
    throw asCommandError(error);
  }
}

/** A fresh id for a streamed request (used by `cancelChat`). */
export function newRequestId() {
  if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
  return "req-" + Date.now().toString(36) + Math.random().toString(36).slice(2);
}

export const api = {
  appStatus: () => call("app_status"),
  mint: (options) => call("mint", options || {}),
  copyToken: () => call("copy_token"),
  currentToken: () => call("current_token"),

  /**
   * Streams one chat answer. `onEvent` gets `{event, data}` messages in order:
   * started, delta {text}, usage, done {finishReason, ttftMs, tokensPerSecond, traceId},
   * interrupted {reason}. Resolves with the outcome summary, rejects with a command error.
   */
  chat({ requestId, conversationId, request, replaceFrom, onEvent }) {
    if (!bridge) return Promise.reject(asCommandError("the Tauri bridge is missing"));
    const channel = new bridge.Channel();
    channel.onmessage = onEvent;
    return call("chat", { requestId, conversationId, request, replaceFrom, onEvent: channel });
  },
  cancelChat: (requestId) => call("cancel_chat", { requestId }),

  getSettings: () => call("get_settings"),
  updateSettings: (settings) => call("update_settings", { settings }),
  setSecret: (name, value) => call("set_secret", { name, value }),
  signOut: () => call("sign_out"),

  renderMarkdown: (text) => call("render_markdown", { text }),

  listConversations: () => call("list_conversations"),
  searchConversations: (query) => call("search_conversations", { query }),
  /** A conversation with its messages: all of them, or with `{limit}` the latest `limit`
   * (before the message `before` when given) and how many come before those (`earlier`). */
  getConversation: (id, { before, limit } = {}) =>
    call("get_conversation", { id, before: before || null, limit: limit || null }),
  createConversation: (draft) => call("create_conversation", { draft: draft || {} }),
  renameConversation: (id, title) => call("rename_conversation", { id, title }),
  updateConversation: (id, params) => call("update_conversation", { id, params }),
  deleteConversation: (id) => call("delete_conversation", { id }),
  /**
   * Saves one conversation (`id`) or all of them (`id` null) as "md" or "json" where the user
   * picks in the native save dialog. Resolves with `{path, bytes}`, or null when cancelled.
   */
  exportToFile: (id, format) => call("export_to_file", { id: id || null, format }),

  openExternal: (url) => call("open_external", { url }),

  /** Asks for a newer signed version; with `install` set to the offered version (the user
   * agreed), downloads, verifies and installs it. Resolves with
   * `{currentVersion, available, notes, installed}`. */
  checkForUpdate: (install) => call("check_for_update", { install: install || null }),
  restartApp: () => call("restart_app"),

  /**
   * Runs the configuration checks; `onResult` gets each `{name, ok, detail, hint}` as it
   * finishes. Resolves with `{ok, mode, checks}`.
   */
  runCheck(origins, onResult) {
    if (!bridge) return Promise.reject(asCommandError("the Tauri bridge is missing"));
    const channel = new bridge.Channel();
    channel.onmessage = onResult;
    return call("run_check", { origins: origins || [], onEvent: channel });
  },
  /** The app's last requests, newest first. */
  recentRequests: (limit) => call("recent_requests", { limit }),
};
