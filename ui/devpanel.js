// The developer panel (Ctrl/Cmd+Shift+D): the resolved connection, the chat session's current
// token (header and claims, with a live expiry countdown), the configuration checks (each
// result shown as it finishes), the last requests the app made (status, timing, trace id, and
// the request headers with credentials redacted, in an expandable row), and the per-answer
// metrics of the open conversation.
//
// It never sees a token: `current_token` returns the header and claims of the token chats send
// (the cached one; nothing is minted while it is valid), and Copy token asks Rust to put that
// same token on the clipboard. All data is written with textContent.

import { api } from "./api.js";
import { copyText } from "./render.js";

const MODE_LABELS = {
  demo: "Demo (local gateway)",
  tokenEndpoint: "Token endpoint",
  apiKey: "API key",
  localSigning: "Local signing",
  unconfigured: "Not configured",
};
const ICON_CLOSE = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M6 6l12 12M18 6 6 18"/></svg>';
const ICON_COPY = '<svg viewBox="0 0 24 24" aria-hidden="true"><rect x="9" y="9" width="11" height="11" rx="2"/><path d="M5 15V5a2 2 0 0 1 2-2h10"/></svg>';
const ICON_REFRESH = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M20 11a8 8 0 1 0-2.3 5.7M20 4v7h-7"/></svg>';

const TEMPLATE = `
<div class="dev-body">
  <header class="dev-head">
    <h2 id="dev-title">Developer</h2>
    <button type="button" class="icon-btn" id="dev-close" aria-label="Close the developer panel">${ICON_CLOSE}</button>
  </header>

  <section class="dev-card" aria-labelledby="dev-config-title">
    <h3 id="dev-config-title">Connection</h3>
    <dl class="dev-kv" id="dev-config"></dl>
  </section>

  <section class="dev-card" aria-labelledby="dev-token-title">
    <div class="dev-card-head">
      <h3 id="dev-token-title">Token</h3>
      <div class="row">
        <button type="button" class="ghost-btn bordered sm" id="dev-token-reload">Reload</button>
        <button type="button" class="ghost-btn bordered sm" id="dev-copy-token">${ICON_COPY} Copy token</button>
      </div>
    </div>
    <div class="dev-expiry" id="dev-expiry">
      <div class="dev-expiry-text"><span id="dev-countdown" role="timer" aria-live="off">…</span><span class="muted small" id="dev-expiry-at"></span></div>
      <div class="dev-bar" aria-hidden="true"><div class="dev-bar-fill" id="dev-bar-fill"></div></div>
    </div>
    <p class="muted small dev-note">The token chats send now (renewed shortly before it expires). Copy token puts this token on the clipboard; it is never shown.</p>
    <div class="dev-jwt">
      <div><h4>Header</h4><pre class="dev-code" id="dev-token-header" aria-label="Token header"></pre></div>
      <div><h4>Claims</h4><pre class="dev-code" id="dev-token-claims" aria-label="Token claims"></pre></div>
    </div>
  </section>

  <section class="dev-card" aria-labelledby="dev-checks-title">
    <div class="dev-card-head">
      <h3 id="dev-checks-title">Checks</h3>
      <span class="dev-summary" id="dev-check-summary" role="status" aria-live="polite"></span>
    </div>
    <form class="dev-run" id="dev-run-form">
      <label class="sr-only" for="dev-origins">Browser origins to check CORS for</label>
      <input id="dev-origins" type="text" spellcheck="false" autocomplete="off" placeholder="CORS origins, e.g. https://app.example.com (optional)">
      <button type="submit" class="primary-btn" id="dev-run">Run checks</button>
    </form>
    <ol class="dev-checks" id="dev-checks" aria-label="Check results"></ol>
  </section>

  <section class="dev-card" aria-labelledby="dev-requests-title">
    <div class="dev-card-head">
      <h3 id="dev-requests-title">Recent requests</h3>
      <button type="button" class="icon-btn sm" id="dev-requests-refresh" aria-label="Refresh recent requests" title="Refresh">${ICON_REFRESH}</button>
    </div>
    <div class="dev-table-wrap">
      <table class="dev-table" aria-labelledby="dev-requests-title">
        <thead><tr><th scope="col">Time</th><th scope="col">Request</th><th scope="col">Status</th><th scope="col" class="num">ms</th><th scope="col">Trace id</th></tr></thead>
        <tbody id="dev-requests"></tbody>
      </table>
    </div>
  </section>

  <section class="dev-card" aria-labelledby="dev-metrics-title">
    <div class="dev-card-head">
      <h3 id="dev-metrics-title">This conversation</h3>
      <span class="muted small" id="dev-metrics-summary"></span>
    </div>
    <div class="dev-table-wrap">
      <table class="dev-table" aria-labelledby="dev-metrics-title">
        <thead><tr><th scope="col">#</th><th scope="col" class="num">First token</th><th scope="col" class="num">Tok/s</th><th scope="col" class="num">Tokens</th><th scope="col">Trace id</th></tr></thead>
        <tbody id="dev-metrics"></tbody>
      </table>
    </div>
  </section>
</div>`;

let host = null;
let dialog = null;
let token = null; // {header, claims, expiresAt}
let ticker = 0;
let running = false;

const $ = (id) => document.getElementById(id);

function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text != null) el.textContent = text;
  return el;
}

function emptyRow(tbody, columns, text) {
  const tr = element("tr", "dev-empty");
  const td = element("td", "", text);
  td.colSpan = columns;
  tr.append(td);
  tbody.replaceChildren(tr);
}

/** A trace id with a copy button (or a dash). */
function traceCell(traceId) {
  const td = element("td", "dev-trace");
  if (!traceId) {
    td.append(element("span", "muted", "—"));
    return td;
  }
  const code = element("code", "", traceId);
  code.title = traceId;
  td.append(code);
  const copy = element("button", "icon-btn sm");
  copy.type = "button";
  copy.innerHTML = ICON_COPY;
  copy.setAttribute("aria-label", "Copy trace id " + traceId);
  copy.title = "Copy trace id";
  copy.addEventListener("click", async () => {
    host.toast((await copyText(traceId)) ? "Trace id copied" : "Could not copy");
  });
  td.append(copy);
  return td;
}

// ---- connection and token --------------------------------------------------------------------

function drawConfig() {
  const s = host.status() || {};
  const c = (token && token.claims) || {};
  const h = (token && token.header) || {};
  const rows = [
    ["Mode", MODE_LABELS[s.mode] || s.mode || "…"],
    ["Gateway", s.baseUrl || "—"],
    ["Tenant", c.tid],
    ["Project", c.pid],
    ["Key id", h.kid],
    ["User", c.uid || s.userId],
    ["Tier", c.tier],
    ["Issuer", c.iss],
    ["Audience", Array.isArray(c.aud) ? c.aud.join(", ") : c.aud],
    ["Keyring", s.keyring === "persisted" ? "OS keyring" : s.keyring ? "memory only (not saved)" : null],
  ];
  const dl = $("dev-config");
  dl.replaceChildren();
  for (const [name, value] of rows) {
    dl.append(element("dt", "", name), element("dd", value == null ? "muted" : "", value == null ? "—" : String(value)));
  }
  if (s.problem) dl.append(element("dt", "fail-text", "Problem"), element("dd", "fail-text", s.problem));
}

async function loadToken() {
  if (!token) $("dev-countdown").textContent = "Loading…";
  try {
    const info = await api.currentToken();
    token = { header: info.header, claims: info.claims, expiresAt: info.expiresAt };
    $("dev-token-header").textContent = JSON.stringify(info.header, null, 2);
    $("dev-token-claims").textContent = JSON.stringify(info.claims, null, 2);
  } catch (error) {
    token = null;
    $("dev-token-header").textContent = "";
    $("dev-token-claims").textContent = `${error.kind}: ${host.describe(error)}`;
  }
  drawConfig();
  tick();
}

function tick() {
  const text = $("dev-countdown");
  const fill = $("dev-bar-fill");
  const box = $("dev-expiry");
  const exp = token && (token.expiresAt || (token.claims && token.claims.exp));
  if (!exp) {
    text.textContent = token ? "No expiry" : "No token";
    fill.style.width = "0";
    box.dataset.state = "none";
    return;
  }
  const iat = (token.claims && token.claims.iat) || exp - 900;
  const left = Math.round(exp - Date.now() / 1000);
  $("dev-expiry-at").textContent = " · at " + new Date(exp * 1000).toLocaleTimeString();
  if (left <= 0) {
    text.textContent = "Expired";
    fill.style.width = "0";
    box.dataset.state = "expired";
    return;
  }
  const h = Math.floor(left / 3600);
  const m = Math.floor((left % 3600) / 60);
  const sec = String(left % 60).padStart(2, "0");
  text.textContent = "Expires in " + (h ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`);
  text.dataset.left = String(left);
  const share = Math.max(0, Math.min(1, left / Math.max(1, exp - iat)));
  fill.style.width = (share * 100).toFixed(1) + "%";
  box.dataset.state = left < 60 ? "soon" : "ok";
}

// ---- checks --------------------------------------------------------------------------------

function checkItem(result) {
  const li = element("li", "dev-check " + (result.ok ? "ok" : "fail"));
  li.dataset.name = result.name;
  const mark = element("span", "dev-mark", result.ok ? "✓" : "✗");
  mark.setAttribute("role", "img");
  mark.setAttribute("aria-label", result.ok ? "passed" : "failed");
  const text = element("div", "dev-check-text");
  text.append(element("code", "dev-check-name", result.name), element("span", "dev-check-detail", result.detail));
  if (result.hint) text.append(element("span", "dev-check-hint", "Hint: " + result.hint));
  li.append(mark, text);
  return li;
}

async function runChecks(event) {
  if (event) event.preventDefault();
  if (running) return;
  running = true;
  const list = $("dev-checks");
  const summary = $("dev-check-summary");
  const button = $("dev-run");
  button.disabled = true;
  button.textContent = "Running…";
  list.replaceChildren();
  list.setAttribute("aria-busy", "true");
  summary.className = "dev-summary";
  summary.textContent = "Running…";
  const origins = $("dev-origins").value.split(/[\s,]+/).filter(Boolean);
  try {
    // Channel messages can arrive after the command's answer: once the report is in, this
    // run's late progress messages must not add duplicate rows.
    let answered = false;
    const report = await api.runCheck(origins, (result) => {
      if (!answered) list.append(checkItem(result));
    });
    answered = true;
    // The report is authoritative: redraw from it in case a streamed message was missed.
    list.replaceChildren(...report.checks.map(checkItem));
    const failed = report.checks.filter((c) => !c.ok).length;
    summary.className = "dev-summary " + (report.ok ? "ok-text" : "fail-text");
    summary.textContent = report.ok
      ? `✓ All ${report.checks.length} checks passed`
      : `✗ ${failed} of ${report.checks.length} checks failed`;
  } catch (error) {
    summary.className = "dev-summary fail-text";
    summary.textContent = host.describe(error);
  } finally {
    list.removeAttribute("aria-busy");
    button.disabled = false;
    button.textContent = "Run checks";
    running = false;
    drawRequests();
  }
}

// ---- recent requests and metrics ------------------------------------------------------------

function statusBadge(r) {
  const label = r.status != null ? String(r.status) : r.ok ? (r.kind === "sign" || r.kind === "check" ? "done" : "OK") : "failed";
  const badge = element("span", "dev-status " + (r.ok ? "ok" : "fail"), label);
  if (r.error) badge.title = r.error;
  return badge;
}

async function drawRequests() {
  const tbody = $("dev-requests");
  let rows;
  try {
    rows = await api.recentRequests(50);
  } catch (error) {
    emptyRow(tbody, 5, host.describe(error));
    return;
  }
  if (!rows.length) {
    emptyRow(tbody, 5, "No requests yet. Send a message or run the checks.");
    return;
  }
  tbody.replaceChildren(...rows.flatMap((r) => {
    const tr = element("tr", "dev-request");
    tr.dataset.kind = r.kind;
    tr.dataset.id = String(r.id);
    const when = element("td", "dev-time", new Date(r.atMs).toLocaleTimeString());
    const what = element("td");
    const line = element("div", "dev-what");
    const headers = r.requestHeaders || [];
    let detail = null;
    if (headers.length) {
      detail = headersRow(r, headers);
      const toggle = element("button", "dev-expand");
      toggle.type = "button";
      toggle.textContent = "▸";
      toggle.setAttribute("aria-expanded", "false");
      toggle.setAttribute("aria-controls", detail.id);
      toggle.setAttribute("aria-label", `Request headers of ${r.method} ${r.path}`);
      toggle.addEventListener("click", () => {
        const open = detail.hidden;
        detail.hidden = !open;
        toggle.setAttribute("aria-expanded", String(open));
        toggle.textContent = open ? "▾" : "▸";
      });
      line.append(toggle);
    }
    line.append(element("span", "dev-kind", r.kind), element("span", "dev-method", r.method), element("span", "dev-path", r.path));
    what.append(line);
    what.title = (r.origin || "") + r.path + (r.error ? "\n" + r.error : "");
    const status = element("td");
    status.append(statusBadge(r));
    tr.append(when, what, status, element("td", "num", String(r.durationMs)), traceCell(r.traceId));
    return detail ? [tr, detail] : [tr];
  }));
}

/** The hidden row under a request: its origin and request headers (redacted by Rust). */
function headersRow(r, headers) {
  const tr = element("tr", "dev-request-headers");
  tr.id = "dev-request-headers-" + r.id;
  tr.hidden = true;
  const td = element("td");
  td.colSpan = 5;
  if (r.origin) td.append(element("div", "dev-origin muted small", r.origin + r.path));
  const dl = element("dl", "dev-headers");
  for (const h of headers) dl.append(element("dt", "", h.name), element("dd", "", h.value));
  td.append(dl);
  tr.append(td);
  return tr;
}

async function drawMetrics() {
  const tbody = $("dev-metrics");
  const summary = $("dev-metrics-summary");
  summary.textContent = "";
  const id = host.conversationId();
  if (!id) {
    emptyRow(tbody, 5, "No conversation is open.");
    return;
  }
  let answers;
  try {
    const conversation = await api.getConversation(id);
    answers = (conversation.messages || []).filter((m) => m.role === "assistant");
  } catch (error) {
    emptyRow(tbody, 5, host.describe(error));
    return;
  }
  if (!answers.length) {
    emptyRow(tbody, 5, "No answers yet.");
    return;
  }
  const fmt = (v, digits) => (v == null ? "—" : Number(v).toFixed(digits));
  tbody.replaceChildren(...answers.map((m, i) => {
    const tr = element("tr", "dev-metric");
    tr.append(
      element("td", "", String(i + 1)),
      element("td", "num", m.ttftMs == null ? "—" : `${Math.round(m.ttftMs)} ms`),
      element("td", "num", fmt(m.tokensPerSecond, 1)),
      element("td", "num", m.totalTokens == null ? "—" : String(m.totalTokens)),
      traceCell(m.traceId),
    );
    if (m.status !== "complete") tr.title = m.status + (m.errorMessage ? ": " + m.errorMessage : "");
    return tr;
  }));
  const avg = (key) => {
    const v = answers.map((m) => m[key]).filter((x) => x != null);
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
  };
  const tokens = answers.reduce((a, m) => a + (m.totalTokens || 0), 0);
  const parts = [`${answers.length} answer${answers.length === 1 ? "" : "s"}`];
  if (avg("ttftMs") != null) parts.push(`avg first token ${Math.round(avg("ttftMs"))} ms`);
  if (avg("tokensPerSecond") != null) parts.push(`avg ${avg("tokensPerSecond").toFixed(1)} tok/s`);
  if (tokens) parts.push(`${tokens} tokens`);
  summary.textContent = parts.join(" · ");
}

// ---- open / close ----------------------------------------------------------------------------

function build() {
  dialog = element("dialog", "dialog drawer");
  dialog.id = "dev-dialog";
  dialog.setAttribute("aria-labelledby", "dev-title");
  dialog.innerHTML = TEMPLATE;
  document.body.append(dialog);
  $("dev-close").addEventListener("click", () => dialog.close());
  $("dev-token-reload").addEventListener("click", loadToken);
  $("dev-copy-token").addEventListener("click", async () => {
    try {
      await api.copyToken();
      host.toast("Token copied to the clipboard");
    } catch (error) {
      host.toast(host.describe(error));
    }
    // The copy may have renewed an expiring token: show the one now on the clipboard.
    loadToken();
  });
  $("dev-run-form").addEventListener("submit", runChecks);
  $("dev-requests-refresh").addEventListener("click", drawRequests);
  dialog.addEventListener("click", (e) => { if (e.target === dialog) dialog.close(); });
  dialog.addEventListener("close", () => { clearInterval(ticker); ticker = 0; });
  emptyRow($("dev-requests"), 5, "…");
  emptyRow($("dev-metrics"), 5, "…");
}

/** Creates the panel; `h` gives {toast, describe, status(), refreshStatus(), conversationId()}. */
export function initDevPanel(h) {
  host = h;
  build();
}

/** Opens the panel and refreshes everything in it. */
export async function openDevPanel() {
  if (!dialog.open) dialog.showModal();
  clearInterval(ticker);
  ticker = setInterval(tick, 1000);
  drawConfig();
  drawRequests();
  drawMetrics();
  // Always ask: the session may have renewed its token since the panel last showed it.
  await loadToken();
  await host.refreshStatus();
  drawConfig();
}

/** Opens or closes the panel. */
export function toggleDevPanel() {
  if (dialog.open) dialog.close();
  else openDevPanel();
}
