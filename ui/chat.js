// The conversation view: messages, streaming one answer at a time, Stop, Regenerate,
// Edit-and-resend, copy, and the error banner with Retry (which never removes the partial answer).
//
// Long conversations keep only their latest messages on the page (WINDOW, trimmed back from
// WINDOW_MAX once the user is at the bottom); earlier ones stay in the history (Rust side) and
// come back from it, REVEAL at a time, from the "Show earlier messages" button or by scrolling
// to the top. A chat request sends only the new message: the Rust side puts the stored
// conversation before it. So the page's memory follows what is on screen, not how long the
// conversation has grown.

import { api, newRequestId } from "./api.js";
import { StreamRenderer, renderInto, copyText } from "./render.js";

const ICONS = {
  copy: '<svg viewBox="0 0 24 24" aria-hidden="true"><rect x="9" y="9" width="11" height="11" rx="2"/><path d="M5 15V5a2 2 0 0 1 2-2h10"/></svg>',
  edit: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 20h4L19 9l-4-4L4 16z"/></svg>',
  regen: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M20 11a8 8 0 1 0-2.3 5.7M20 4v7h-7"/></svg>',
};

/** How many of a conversation's latest messages are on the page (app.js opens with these). */
export const WINDOW = 40;
const WINDOW_MAX = 60;
const REVEAL = 20;

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
    this.above = 0; // how many stored messages come before the first on the page
    this.generation = 0; // bumped by show(): work for a conversation no longer shown stops
    this.revealing = false;
    this.autoReveal = true; // off after a failed reveal, until the button is pressed or show()
    this.stickToBottom = true;
    this.scroll.addEventListener("scroll", () => {
      const gap = this.scroll.scrollHeight - this.scroll.scrollTop - this.scroll.clientHeight;
      this.stickToBottom = gap < 80;
      if (this.scroll.scrollTop < 200 && this.above && this.autoReveal) this.revealEarlier();
    });
  }

  get streaming() { return this.active !== null; }

  /** Shows a stored conversation's latest messages (at most WINDOW of them); `earlier` stored
   * ones come before them. */
  async show(messages, earlier = 0) {
    const generation = ++this.generation;
    this.thread.replaceChildren();
    const cut = Math.max(0, messages.length - WINDOW);
    this.above = earlier + cut;
    this.autoReveal = true;
    const entries = messages.slice(cut).map((m) => ({ role: m.role, message: m, stored: m }));
    const views = await this.renderEntries(entries);
    if (generation !== this.generation) return;
    this.thread.append(...views.map((v) => v.el));
    this.drawEarlierControl();
    this.markLast();
    this.scrollToBottom(true);
  }

  /** Builds the views of `entries` off the page, their Markdown rendered (in parallel). */
  async renderEntries(entries) {
    const views = entries.map((e) => this.createMessage(e.role, e.message));
    await Promise.all(views.map(async (view, i) => {
      if (view.role !== "assistant") return;
      await renderInto(view.md, view.message.content || "");
      if (entries[i].stored) this.annotate(view, entries[i].stored);
    }));
    return views;
  }

  /** Brings the REVEAL stored messages before the first on the page back from the history,
   * keeping the reading position. */
  async revealEarlier() {
    const conversationId = this.host.conversationId();
    // Everything shown by show() or settled by stream() has its id; the first one that does
    // marks where the history continues upwards.
    const first = this.views().find((v) => v.message.id);
    if (this.revealing || !this.above || !conversationId || !first) return;
    this.revealing = true;
    const generation = this.generation;
    try {
      const page = await api.getConversation(conversationId, { before: first.message.id, limit: REVEAL });
      if (generation !== this.generation) return;
      const entries = (page.messages || []).map((m) => ({ role: m.role, message: m, stored: m }));
      const views = await this.renderEntries(entries);
      if (generation !== this.generation) return;
      this.above = page.earlier || 0;
      const height = this.scroll.scrollHeight;
      const top = this.scroll.scrollTop;
      const at = this.thread.querySelector(".msg");
      for (const v of views) this.thread.insertBefore(v.el, at);
      this.drawEarlierControl();
      this.scroll.scrollTop = top + (this.scroll.scrollHeight - height);
    } catch (error) {
      // Said once: scrolling does not ask again (and again) until the button is pressed.
      this.autoReveal = false;
      this.host.toast("Could not load the earlier messages: " + (error.message || error.kind), 4000);
    } finally {
      this.revealing = false;
    }
  }

  /** Takes the oldest messages off the page once there are more than WINDOW_MAX, but only
   * while the user reads at the bottom (they stay in the history). */
  trim() {
    const views = this.views();
    if (!this.stickToBottom || views.length <= WINDOW_MAX) return;
    for (const v of views.slice(0, views.length - WINDOW)) {
      this.above += 1;
      v.el.remove();
    }
    this.drawEarlierControl();
    this.scrollToBottom(false);
  }

  drawEarlierControl() {
    let button = this.thread.querySelector(".earlier");
    if (!this.above) {
      if (button) button.remove();
      return;
    }
    if (!button) {
      button = document.createElement("button");
      button.type = "button";
      button.className = "earlier ghost-btn bordered";
      button.addEventListener("click", () => {
        this.autoReveal = true;
        this.revealEarlier();
      });
    }
    const n = this.above;
    button.textContent = `Show ${n} earlier message${n === 1 ? "" : "s"}`;
    this.thread.prepend(button);
  }

  addMessage(role, message) {
    const view = this.createMessage(role, message);
    this.thread.append(view.el);
    return view;
  }

  /** A message's view, not yet on the page. */
  createMessage(role, message) {
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
    view.stored = m;
    const parts = [];
    if (m.ttftMs != null) parts.push(`first token ${Math.round(m.ttftMs)} ms`);
    if (m.tokensPerSecond != null) parts.push(`${m.tokensPerSecond.toFixed(1)} tok/s`);
    if (m.totalTokens != null) parts.push(`${m.totalTokens} tokens`);
    if (m.traceId) parts.push(`trace ${m.traceId}`);
    view.metaText = parts.join(" · ");
    this.fillActions(view);
    view.body.querySelectorAll(".note, .error-banner").forEach((n) => n.remove());
    if (m.status === "interrupted") this.note(view, "Stopped. The partial answer is kept.");
    if (m.status === "complete" && m.finishReason === "length") {
      this.note(view, "Cut short at the Max tokens limit: raise it in this conversation's parameters for a longer answer.");
    }
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
    await this.learnId(user);
    if (this.streaming) return;
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
      await this.learnId(view);
      if (this.streaming) return;
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
    // Only the new message: the Rust side sends the stored conversation before it (up to
    // `replaceFrom`, which a regenerate or an edit replaces).
    const request = {
      model: params.model || undefined,
      systemPrompt: params.systemPrompt || undefined,
      message: userView.message.content,
      temperature: params.temperature ?? undefined,
      maxTokens: params.maxTokens ?? undefined,
    };
    active.received = 0;
    const onEvent = (message) => {
      active.received += 1;
      if (active.onReceived) active.onReceived();
      if (this.active !== active) return; // a stopped or finished request: ignore late events
      const { event, data } = message;
      if (event === "started") {
        clearRetrying(active);
        if (data.traceId) active.meta.traceId = data.traceId;
      } else if (event === "retrying") {
        showRetrying(active, thinking, data);
      } else if (event === "delta") {
        if (!active.hasText) {
          active.hasText = true;
          thinking.remove();
          clearRetrying(active);
        }
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
    // Tauri does not order Channel messages against the command's answer: the answer says how
    // many were sent, so wait for the stragglers (briefly) before settling the view.
    const expected = (outcome && outcome.events) ?? (failure && failure.events);
    const settled = active.stopped || expected == null || await allReceived(active, expected, 2000);
    if (!active.stopped) await this.complete(active, outcome, failure); // else stop() did
    if (outcome && settled) {
      // The answer names the two messages it saved: no need to read the conversation back.
      userView.message.id = outcome.userMessageId;
      view.message.id = outcome.assistantMessageId;
    } else {
      await this.syncIds(conversationId, active.stopped ? null : view);
    }
  }

  /** A message about to be replaced (regenerate, edit) needs its stored id, or the history
   * would keep the old exchange and send it again: asks the history when the page lacks it. */
  async learnId(view) {
    if (!view.message.id) await this.syncIds(this.host.conversationId(), null);
  }

  /** After a failed answer, or one whose last Channel messages never came: takes the saved
   * messages' ids (used by regenerate, edit and retry) from the history, and shows `answered`
   * (the answer just finished, unless the user stopped it: then what was shown stays) as saved,
   * since the saved text has every delta. */
  async syncIds(conversationId, answered) {
    if (!conversationId || this.host.conversationId() !== conversationId) return;
    const views = this.views();
    let stored;
    try {
      stored = await api.getConversation(conversationId, { limit: Math.max(1, views.length) });
    } catch (_) {
      return; // ids stay unknown; a resend then appends instead of replacing
    }
    const messages = stored.messages || [];
    // Only when the page and the history agree on where each message is.
    const aligned = messages.length === views.length
      && (stored.earlier || 0) === this.above
      && views.every((v, i) => v.role === messages[i].role);
    if (!aligned || this.host.conversationId() !== conversationId) return;
    views.forEach((v, i) => { v.message.id = messages[i].id; });
    const last = views[views.length - 1];
    const saved = messages[messages.length - 1];
    if (answered && last === answered && saved.role === "assistant"
        && saved.content.length > (last.message.content || "").length) {
      last.message.content = saved.content;
      await renderInto(last.md, saved.content);
    }
  }

  async complete(active, outcome, failure) {
    const { view, renderer } = active;
    clearRetrying(active);
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
      finishReason: outcome && outcome.finishReason,
    });
    if (this.active === active) {
      this.active = null;
      this.setBusy(false);
    }
    this.markLast();
    this.scrollToBottom(false);
    this.trim();
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

/** What failed, for the retry note. */
function retryCause(status) {
  if (status == null) return "Could not reach the gateway";
  if (status === 429) return "The gateway is busy (429)";
  return `The gateway answered ${status}`;
}

/** Says, under the waiting dots, that the request is sent again and when (counting down). */
function showRetrying(active, thinking, data) {
  clearInterval(active.retryTimer);
  if (!active.retryNote) {
    active.retryNote = document.createElement("span");
    active.retryNote.className = "retry-note";
    active.retryNote.setAttribute("role", "status");
    thinking.after(active.retryNote);
  }
  const until = performance.now() + (data.waitMs || 0);
  const draw = () => {
    const seconds = Math.max(0, Math.ceil((until - performance.now()) / 1000));
    const when = seconds > 0 ? `retrying in ${seconds} s` : "retrying now";
    active.retryNote.textContent = `${retryCause(data.status)} · ${when} (attempt ${data.attempt})`;
  };
  draw();
  active.retryTimer = setInterval(draw, 250);
}

function clearRetrying(active) {
  clearInterval(active.retryTimer);
  active.retryTimer = 0;
  if (active.retryNote) active.retryNote.remove();
  active.retryNote = null;
}

/** Resolves with true once `active` has received `expected` Channel messages, or with false
 * after `limit` ms. */
function allReceived(active, expected, limit) {
  if (active.received >= expected) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (all) => {
      clearTimeout(timer);
      active.onReceived = null;
      resolve(all);
    };
    const timer = setTimeout(() => done(false), limit);
    active.onReceived = () => { if (active.received >= expected) done(true); };
  });
}
