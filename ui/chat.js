// The conversation view: messages, streaming one answer at a time, Stop, Regenerate,
// Edit-and-resend, copy, and the error banner with Retry (which never removes the partial answer).

import { api, newRequestId } from "./api.js";
import { StreamRenderer, renderInto, copyText } from "./render.js";

const ICONS = {
  copy: '<svg viewBox="0 0 24 24" aria-hidden="true"><rect x="9" y="9" width="11" height="11" rx="2"/><path d="M5 15V5a2 2 0 0 1 2-2h10"/></svg>',
  edit: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 20h4L19 9l-4-4L4 16z"/></svg>',
  regen: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M20 11a8 8 0 1 0-2.3 5.7M20 4v7h-7"/></svg>',
};

const ERROR_TITLES = {
  unauthorized: "Not signed in or the token was refused",
  forbidden: "Not allowed for this project",
  quotaExceeded: "Daily quota used up",
  rateLimited: "Too many requests",
  badRequest: "The request was refused",
  notFound: "Not found",
  upstream: "The gateway failed",
  streamError: "The answer broke off with an error",
  network: "Could not reach the gateway",
  timeout: "The gateway stopped answering",
  protocol: "The gateway sent something unexpected",
  keyringUnavailable: "The keyring is unavailable",
  invalidSettings: "Settings need attention",
  invalidArgument: "Invalid request",
  storage: "Could not save the conversation",
  crypto: "Token signing failed",
  busy: "Another answer is still being written",
  internal: "Something went wrong",
};

/** The chat view. `host` gives access to the conversation state owned by app.js. */
export class ChatView {
  constructor(host) {
    this.host = host;
    this.thread = document.getElementById("thread");
    this.scroll = document.getElementById("scroll");
    this.prompt = document.getElementById("prompt");
    this.sendBtn = document.getElementById("send");
    this.stopBtn = document.getElementById("stop");
    this.active = null; // {requestId, view, renderer, stopped}
    this.stickToBottom = true;
    this.scroll.addEventListener("scroll", () => {
      const gap = this.scroll.scrollHeight - this.scroll.scrollTop - this.scroll.clientHeight;
      this.stickToBottom = gap < 80;
    });
  }

  get streaming() { return this.active !== null; }

  /** Shows a stored conversation's messages. */
  async show(messages) {
    this.thread.replaceChildren();
    for (const m of messages) {
      const view = this.addMessage(m.role, m);
      if (m.role === "assistant") {
        await renderInto(view.md, m.content);
        this.annotate(view, m);
      }
    }
    this.markLast();
    this.scrollToBottom(true);
  }

  addMessage(role, message) {
    const el = document.createElement("article");
    el.className = "msg " + role;
    el.setAttribute("aria-label", role === "user" ? "You" : "Assistant");
    const avatar = document.createElement("div");
    avatar.className = "avatar";
    avatar.textContent = "B";
    avatar.setAttribute("aria-hidden", "true");
    const body = document.createElement("div");
    body.className = "body";
    const content = document.createElement("div");
    content.className = role === "user" ? "bubble" : "md";
    if (role === "user") content.textContent = message.content;
    const actions = document.createElement("div");
    actions.className = "actions";
    body.append(content, actions);
    el.append(avatar, body);
    this.thread.append(el);
    const view = { el, body, md: content, actions, role, message: { ...message } };
    el.behestView = view;
    this.fillActions(view);
    return view;
  }

  fillActions(view) {
    const button = (icon, label, onClick) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "icon-btn sm";
      b.innerHTML = ICONS[icon];
      b.setAttribute("aria-label", label);
      b.title = label;
      b.addEventListener("click", onClick);
      view.actions.append(b);
      return b;
    };
    view.actions.replaceChildren();
    button("copy", "Copy message", async () => {
      const ok = await copyText(view.message.content || "");
      this.host.toast(ok ? "Copied" : "Copy failed");
    });
    if (view.role === "user") {
      button("edit", "Edit and resend", () => this.beginEdit(view));
    } else {
      button("regen", "Regenerate", () => this.regenerate(view));
    }
    if (view.metaText) {
      const meta = document.createElement("span");
      meta.className = "meta";
      meta.textContent = view.metaText;
      view.actions.append(meta);
    }
  }

  /** Shows metrics and the stored outcome of an assistant message. */
  annotate(view, m) {
    const parts = [];
    if (m.ttftMs != null) parts.push(`first token ${Math.round(m.ttftMs)} ms`);
    if (m.tokensPerSecond != null) parts.push(`${m.tokensPerSecond.toFixed(1)} tok/s`);
    if (m.totalTokens != null) parts.push(`${m.totalTokens} tokens`);
    if (m.traceId) parts.push(`trace ${m.traceId}`);
    view.metaText = parts.join(" · ");
    this.fillActions(view);
    view.body.querySelectorAll(".note, .error-banner").forEach((n) => n.remove());
    if (m.status === "interrupted") this.note(view, "Stopped. The partial answer is kept.");
    if (m.status === "error") {
      this.errorBanner(view, { kind: m.errorKind || "internal", message: m.errorMessage || "", traceId: m.traceId });
    }
  }

  note(view, text) {
    const n = document.createElement("div");
    n.className = "note";
    n.textContent = text;
    view.actions.before(n);
  }

  errorBanner(view, error) {
    const banner = document.createElement("div");
    banner.className = "error-banner";
    banner.setAttribute("role", "alert");
    const text = document.createElement("div");
    text.className = "err-text";
    const title = document.createElement("strong");
    title.textContent = ERROR_TITLES[error.kind] || ERROR_TITLES.internal;
    const message = document.createElement("div");
    message.textContent = error.message || "";
    const detail = document.createElement("div");
    detail.className = "err-detail";
    const bits = [error.kind];
    if (error.traceId) bits.push("trace " + error.traceId);
    if (error.retryAfter != null) bits.push(`retry after ${error.retryAfter} s`);
    detail.textContent = bits.join(" · ");
    text.append(title, message, detail);
    const retry = document.createElement("button");
    retry.type = "button";
    retry.className = "primary-btn retry";
    retry.textContent = "Retry";
    retry.addEventListener("click", () => this.regenerate(view));
    banner.append(text, retry);
    view.actions.before(banner);
  }

  markLast() {
    this.thread.querySelectorAll(".msg.last").forEach((e) => e.classList.remove("last"));
    const last = this.thread.lastElementChild;
    if (last) last.classList.add("last");
  }

  scrollToBottom(force) {
    if (force || this.stickToBottom) this.scroll.scrollTop = this.scroll.scrollHeight;
  }

  views() {
    return [...this.thread.children].map((e) => e.behestView).filter(Boolean);
  }

  /** Sends `text` as a new user message after the existing ones. */
  async send(text) {
    if (this.streaming || !text.trim()) return;
    const conversationId = await this.host.ensureConversation(text);
    const user = this.addMessage("user", { role: "user", content: text });
    await this.stream(conversationId, user, null);
  }

  /** Regenerates the answer that follows the user message before `assistantView`. */
  async regenerate(assistantView) {
    if (this.streaming) return;
    const all = this.views();
    const index = all.indexOf(assistantView);
    const user = all.slice(0, index).reverse().find((v) => v.role === "user");
    if (!user) return;
    all.slice(all.indexOf(user) + 1).forEach((v) => v.el.remove());
    await this.stream(this.host.conversationId(), user, user.message.id || null);
  }

  beginEdit(view) {
    if (this.streaming) return;
    const box = document.createElement("div");
    box.className = "edit-box";
    const area = document.createElement("textarea");
    area.value = view.message.content;
    area.rows = Math.min(10, area.value.split("\n").length + 1);
    area.setAttribute("aria-label", "Edit message");
    const row = document.createElement("div");
    row.className = "row";
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "ghost-btn bordered";
    cancel.textContent = "Cancel";
    const save = document.createElement("button");
    save.type = "button";
    save.className = "primary-btn";
    save.textContent = "Send";
    row.append(cancel, save);
    box.append(area, row);
    view.md.hidden = true;
    view.actions.hidden = true;
    view.body.prepend(box);
    area.focus();
    const close = () => { box.remove(); view.md.hidden = false; view.actions.hidden = false; };
    cancel.addEventListener("click", close);
    const submit = async () => {
      const text = area.value;
      if (!text.trim()) return;
      close();
      const all = this.views();
      all.slice(all.indexOf(view) + 1).forEach((v) => v.el.remove());
      const replaceFrom = view.message.id || null;
      view.message = { ...view.message, content: text };
      view.md.textContent = text;
      await this.stream(this.host.conversationId(), view, replaceFrom);
    };
    save.addEventListener("click", submit);
    area.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
      if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); close(); }
    });
  }

  /** The request messages: the system prompt, then every message up to `userView`. */
  requestMessages(userView) {
    const messages = [];
    const system = this.host.params().systemPrompt;
    if (system && system.trim()) messages.push({ role: "system", content: system });
    for (const v of this.views()) {
      if (v.message.content) messages.push({ role: v.role, content: v.message.content });
      if (v === userView) break;
    }
    return messages;
  }

  async stream(conversationId, userView, replaceFrom) {
    const view = this.addMessage("assistant", { role: "assistant", content: "" });
    this.markLast();
    this.stickToBottom = true;
    this.scrollToBottom(true);
    const requestId = newRequestId();
    const renderer = new StreamRenderer(view.md, () => this.scrollToBottom(false));
    const thinking = document.createElement("span");
    thinking.className = "thinking";
    thinking.setAttribute("aria-label", "Waiting for the answer");
    thinking.innerHTML = "<i></i><i></i><i></i>";
    view.md.prepend(thinking);
    const active = { requestId, view, renderer, stopped: false, meta: {} };
    this.active = active;
    this.setBusy(true);
    const params = this.host.params();
    const request = {
      model: params.model || undefined,
      messages: this.requestMessages(userView),
      temperature: params.temperature ?? undefined,
      maxTokens: params.maxTokens ?? undefined,
    };
    const onEvent = (message) => {
      if (this.active !== active) return; // a stopped or finished request: ignore late events
      const { event, data } = message;
      if (event === "started") {
        if (data.traceId) active.meta.traceId = data.traceId;
      } else if (event === "delta") {
        const thinking = view.md.querySelector(".thinking");
        if (thinking) thinking.remove();
        renderer.push(data.text);
      } else if (event === "usage") {
        active.meta.totalTokens = data.totalTokens;
      } else if (event === "done") {
        Object.assign(active.meta, data);
      } else if (event === "interrupted") {
        active.meta.interrupted = data.reason;
      }
    };
    let outcome = null;
    let failure = null;
    try {
      outcome = await api.chat({ requestId, conversationId, request, replaceFrom, onEvent });
    } catch (error) {
      failure = error;
    }
    if (!active.stopped) await this.complete(active, outcome, failure); // else stop() did
    await this.syncIds(conversationId);
  }

  /** Takes the saved messages' ids (used by regenerate, edit and retry) from the history. */
  async syncIds(conversationId) {
    if (!conversationId || this.host.conversationId() !== conversationId) return;
    let stored;
    try {
      stored = await api.getConversation(conversationId);
    } catch (_) {
      return; // ids stay unknown; a resend then appends instead of replacing
    }
    const views = this.views();
    const messages = stored.messages || [];
    if (views.length !== messages.length) return;
    views.forEach((v, i) => {
      if (v.role === messages[i].role) v.message.id = messages[i].id;
    });
  }

  async complete(active, outcome, failure) {
    const { view, renderer } = active;
    const thinking = view.md.querySelector(".thinking");
    if (thinking) thinking.remove();
    const text = await renderer.finish();
    view.message.content = text;
    const status = failure ? "error" : (active.stopped || (outcome && outcome.interrupted)) ? "interrupted" : "complete";
    this.annotate(view, {
      status,
      ttftMs: active.meta.ttftMs,
      tokensPerSecond: active.meta.tokensPerSecond,
      totalTokens: active.meta.totalTokens,
      traceId: (failure && failure.traceId) || active.meta.traceId,
      errorKind: failure && failure.kind,
      errorMessage: failure && failure.message,
    });
    if (this.active === active) {
      this.active = null;
      this.setBusy(false);
    }
    this.markLast();
    this.scrollToBottom(false);
    this.host.afterExchange();
  }

  /** Stops the answer being written. The UI resets at once, whatever the backend does. */
  async stop() {
    const active = this.active;
    if (!active) return;
    active.stopped = true;
    this.active = null;
    this.setBusy(false);
    this.prompt.focus();
    api.cancelChat(active.requestId).catch(() => { /* the UI is reset either way */ });
    await this.complete(active, { interrupted: true }, null);
  }

  setBusy(busy) {
    this.sendBtn.hidden = busy;
    this.stopBtn.hidden = !busy;
    this.sendBtn.disabled = busy;
    this.prompt.setAttribute("aria-busy", busy ? "true" : "false");
  }
}
