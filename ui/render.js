// Markdown rendering in the view: HTML always comes from Rust (pulldown-cmark + ammonia), this
// file only decorates it (code highlighting, copy buttons, math) and paces it during a stream.
//
// Pacing: text arriving on the Channel goes into the DOM at once as plain text (the "tail", one
// text node: cheap, and the browser lays out and paints once per frame however many chunks came);
// everything that measures layout (keeping the view scrolled) runs once per animation frame; the
// Markdown of the whole message is re-rendered through Rust at most every ~100 ms (slower when
// rendering itself gets slow), and once more at the end. Only the streaming message is ever
// re-rendered.
//
// highlight.js and KaTeX (~400 KB of script) run in a worker (render-worker.js) that starts with
// the first code block or formula and ends a few seconds after the last: they cost nothing at
// startup, and their memory goes back when the user stops chatting. The page's thread never
// blocks on the worker: a message being shown waits for its highlighting at most
// DECORATE_WAIT_MS (then shows plain and is highlighted when the worker answers), and a worker
// that hangs on a pathological input is ended after WORKER_TIMEOUT_MS.

import { api } from "./api.js";

const COPY_ICON = '<svg viewBox="0 0 24 24" aria-hidden="true"><rect x="9" y="9" width="11" height="11" rx="2"/><path d="M5 15V5a2 2 0 0 1 2-2h10"/></svg>';

/** Copies text to the clipboard, with the older API as a fallback. */
export async function copyText(text) {
  try {
    if (navigator.clipboard && navigator.clipboard.writeText) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch (_) { /* fall through to the older API */ }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  let ok = false;
  try { ok = document.execCommand("copy"); } catch (_) { ok = false; }
  area.remove();
  return ok;
}

const stylesheets = new Set(); // the vendored stylesheets already added

function addStylesheet(href, id) {
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = href;
  if (id) link.id = id;
  document.head.appendChild(link);
}

/** Adds a vendored stylesheet once. */
function needStylesheet(href, id) {
  if (stylesheets.has(href)) return;
  stylesheets.add(href);
  addStylesheet(href, id);
}

const HIGHLIGHT_THEMES = [["hl-light", "vendor/highlight/github.min.css"], ["hl-dark", "vendor/highlight/github-dark.min.css"]];
const KATEX_CSS = "vendor/katex/katex.min.css";

/** Enables the highlight theme matching the page's theme (once its stylesheets are loaded). */
export function syncHighlightTheme() {
  const dark = document.documentElement.dataset.theme === "dark";
  const light = document.getElementById("hl-light");
  const darkSheet = document.getElementById("hl-dark");
  if (light) light.disabled = dark;
  if (darkSheet) darkSheet.disabled = !dark;
}

/** How long the render worker may sit idle before it is ended (its memory goes back). 1.5 s was
 * measured too (BENCHMARKS.md "After heavy use"): no less memory after heavy use, and more
 * worker starts. */
const WORKER_IDLE_MS = 3000;
/** How long one batch may take before the worker is taken to be stuck and ended. */
const WORKER_TIMEOUT_MS = 10000;

/**
 * The page's side of render-worker.js (highlight.js and KaTeX run there, see that file for why).
 * The worker starts with the first job and ends WORKER_IDLE_MS after the last answer; the next
 * job starts a new one. `document.documentElement.dataset.renderWorker` says which
 * ("running" / "stopped"), `dataset.renderWorkerStarts` how many have started and
 * `dataset.renderWorkerJobs` how many jobs they were sent, for the tests and for anyone
 * debugging memory.
 */
class RenderWorker {
  constructor() {
    this.worker = null;
    this.next = 1;
    this.pending = new Map();
    this.idleTimer = 0;
    this.starts = 0; // workers started, shown in dataset.renderWorkerStarts
    this.jobs = 0; // jobs sent, shown in dataset.renderWorkerJobs
  }

  /** Resolves with one HTML string (or null: leave the element as it is) per job. */
  run(jobs) {
    clearTimeout(this.idleTimer);
    this.idleTimer = 0;
    if (!this.worker) {
      try {
        this.start();
      } catch (error) {
        return Promise.reject(error); // e.g. refused by the page's CSP
      }
    }
    const id = this.next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new Error("the render worker did not answer")), WORKER_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.worker.postMessage({ id, jobs });
      this.jobs += jobs.length;
      document.documentElement.dataset.renderWorkerJobs = String(this.jobs);
    });
  }

  start() {
    const worker = new Worker("render-worker.js");
    worker.onmessage = (event) => {
      const { id, results } = event.data || {};
      const waiting = this.pending.get(id);
      if (waiting) {
        clearTimeout(waiting.timer);
        this.pending.delete(id);
        waiting.resolve(results || []);
      }
      if (!this.pending.size) {
        clearTimeout(this.idleTimer);
        this.idleTimer = setTimeout(() => this.stop(), WORKER_IDLE_MS);
      }
    };
    worker.onerror = (event) => {
      event.preventDefault();
      this.fail(new Error("the render worker failed: " + (event.message || "unknown error")));
    };
    this.worker = worker;
    this.starts += 1;
    document.documentElement.dataset.renderWorker = "running";
    document.documentElement.dataset.renderWorkerStarts = String(this.starts);
  }

  /** Rejects every waiting batch and ends the worker (the next job starts a new one). */
  fail(error) {
    for (const waiting of this.pending.values()) {
      clearTimeout(waiting.timer);
      waiting.reject(error);
    }
    this.pending.clear();
    this.stop();
  }

  stop() {
    clearTimeout(this.idleTimer);
    this.idleTimer = 0;
    if (this.worker) this.worker.terminate();
    this.worker = null;
    document.documentElement.dataset.renderWorker = "stopped";
  }
}

const renderWorker = new RenderWorker();

/** The worker's latest results, by job (language + code, or TeX): a message re-rendered while it
 * streams (every ~100 ms), shown again, or repeating a formula gets them at once instead of
 * asking the worker again, and its math no longer flashes back to TeX between a re-render and
 * the worker's answer. Least recently used out first, at most KEPT_MAX_CHARS of HTML in all
 * (~1 MB). */
const KEPT_MAX_CHARS = 512 * 1024;
const kept = new Map(); // job key -> HTML, or null (the worker could not do it)
let keptChars = 0;
const inFlight = new Map(); // job key -> the worker's answer (HTML or null) while it is asked

function jobKey(job) {
  return job.kind === "code" ? `c${job.lang}\n${job.text}` : `m${job.display ? 1 : 0}${job.tex}`;
}

function sizeOf(key, html) {
  return key.length + (typeof html === "string" ? html.length : 0);
}

function remember(key, html) {
  if (kept.has(key)) {
    keptChars -= sizeOf(key, kept.get(key));
    kept.delete(key);
  }
  if (sizeOf(key, html) > KEPT_MAX_CHARS / 8) return; // one huge block would push out the rest
  kept.set(key, html);
  keptChars += sizeOf(key, html);
  for (const [oldest, value] of kept) {
    if (keptChars <= KEPT_MAX_CHARS) break;
    keptChars -= sizeOf(oldest, value);
    kept.delete(oldest);
  }
}

/** Puts one job's result (an HTML string, or null: the worker could not do it) in place, unless
 * the element's text changed meanwhile (a newer render replaced it). */
function apply(target, html) {
  const code = target.job.kind === "code";
  if (typeof html !== "string") {
    if (code) target.el.dataset.highlight = "none"; // a language highlight.js does not know
    return;
  }
  if (target.el.textContent !== target.text) return;
  target.el.innerHTML = html;
  if (code) {
    target.el.classList.add("hljs");
    target.el.dataset.highlight = "done";
  }
}

/** Adds the header (language + copy button) to code blocks at once; then highlights them
 * (when `highlight`) and renders math, from the results kept or in the render worker, and puts
 * the results in place (unless the element's text changed meanwhile: a newer render replaced
 * it). Resolves when they are in place; an element the worker could not do stays as it was. */
export async function decorate(root, { highlight }) {
  const targets = [];
  for (const code of root.querySelectorAll("pre > code")) {
    const pre = code.parentElement;
    const lang = languageOf(code);
    if (!pre.querySelector(".code-head")) {
      const head = document.createElement("div");
      head.className = "code-head";
      const label = document.createElement("span");
      label.textContent = lang || "text";
      const button = document.createElement("button");
      button.type = "button";
      button.className = "copy-code";
      button.setAttribute("aria-label", "Copy code");
      button.innerHTML = COPY_ICON + "<span>Copy</span>";
      button.addEventListener("click", async () => {
        const ok = await copyText(code.textContent);
        button.lastChild.textContent = ok ? "Copied" : "Copy failed";
        setTimeout(() => { button.lastChild.textContent = "Copy"; }, 1500);
      });
      head.append(label, button);
      pre.prepend(head);
    }
    if (highlight && lang && !code.dataset.highlight) {
      code.dataset.highlight = "pending";
      targets.push({ el: code, text: code.textContent, job: { kind: "code", lang, text: code.textContent } });
    }
  }
  for (const el of root.querySelectorAll("span.math:not([data-done])")) {
    el.setAttribute("data-done", "");
    const tex = el.textContent;
    targets.push({ el, text: tex, job: { kind: "math", tex, display: el.classList.contains("math-display") } });
  }
  if (!targets.length) return;
  if (targets.some((t) => t.job.kind === "code")) {
    for (const [id, href] of HIGHLIGHT_THEMES) needStylesheet(href, id);
    syncHighlightTheme();
  }
  if (targets.some((t) => t.job.kind === "math")) needStylesheet(KATEX_CSS);
  // Each job goes to the worker once: a job already asked for (by an earlier render of a
  // streaming message, or twice in this one) waits for that answer instead of being sent again.
  const asked = new Map(); // job key -> job, sent in this batch
  const waiting = [];
  for (const target of targets) {
    target.key = jobKey(target.job);
    if (kept.has(target.key)) {
      const html = kept.get(target.key);
      remember(target.key, html); // now the most recently used
      apply(target, html);
      continue;
    }
    if (!inFlight.has(target.key) && !asked.has(target.key)) asked.set(target.key, target.job);
    waiting.push(target);
  }
  if (!waiting.length) return;
  if (asked.size) {
    const batch = renderWorker.run([...asked.values()]);
    [...asked.keys()].forEach((key, i) => {
      const answer = batch
        .then((answers) => {
          const html = answers[i] ?? null;
          remember(key, html);
          return html;
        })
        .finally(() => inFlight.delete(key));
      inFlight.set(key, answer);
    });
  }
  await Promise.all(waiting.map(async (target) => {
    let html;
    try {
      html = await inFlight.get(target.key);
    } catch (_) {
      return; // code stays plain, the TeX source stays visible
    }
    apply(target, html);
  }));
}

function languageOf(code) {
  for (const c of code.classList) {
    if (c.startsWith("language-")) return c.slice("language-".length);
  }
  return "";
}

/** How long a stored message being shown waits for its highlighting and math: the worker
 * answers in ~60 ms when it has to start first, ~15 ms when it runs. */
const DECORATE_WAIT_MS = 300;

/** Renders finished Markdown into `el` (a stored message); resolves once its highlighting and
 * math are in place (so a message appears whole), or after DECORATE_WAIT_MS at most. */
export async function renderInto(el, text) {
  el.innerHTML = await api.renderMarkdown(text);
  const decorated = decorate(el, { highlight: true });
  await Promise.race([decorated, new Promise((resolve) => setTimeout(resolve, DECORATE_WAIT_MS))]);
}

/**
 * Paces one streaming message. `push` text as it arrives; `finish` renders the final
 * Markdown. `onPaint` runs after each visible change (used to keep the view scrolled).
 */
export class StreamRenderer {
  constructor(container, onPaint) {
    this.onPaint = onPaint || (() => {});
    this.html = document.createElement("div");
    this.tail = document.createElement("span");
    this.tail.className = "tail cursor";
    this.container = container;
    container.replaceChildren(this.html, this.tail);
    this.text = "";
    this.renderedUpTo = 0;
    this.frame = 0;
    this.timer = 0;
    this.inFlight = null;
    this.lastRenderAt = 0;
    this.interval = 100;
    this.closed = false;
  }

  push(text) {
    if (this.closed || !text) return;
    this.text += text;
    this.updateTail();
    if (!this.frame) this.frame = requestAnimationFrame(() => this.paint());
  }

  /** The text received so far. */
  fullText() {
    return this.text;
  }

  paint() {
    this.frame = 0;
    if (this.closed) return;
    this.onPaint();
    this.scheduleRender();
  }

  scheduleRender() {
    if (this.inFlight || this.timer || this.closed) return;
    if (this.text.length === this.renderedUpTo) return;
    const wait = Math.max(0, this.interval - (performance.now() - this.lastRenderAt));
    this.timer = setTimeout(() => { this.timer = 0; this.renderNow(); }, wait);
  }

  async renderNow() {
    const upTo = this.text.length;
    const started = performance.now();
    this.inFlight = api.renderMarkdown(this.text).then((html) => {
      if (this.closed) return;
      this.html.innerHTML = html;
      decorate(this.html, { highlight: false }).then(() => this.onPaint());
      this.renderedUpTo = upTo;
      this.updateTail();
      this.onPaint();
    }).catch(() => { /* keep showing the plain tail; the final render retries */ });
    await this.inFlight;
    this.inFlight = null;
    this.lastRenderAt = performance.now();
    // Slow renders (huge answers) back off so the UI stays responsive.
    this.interval = Math.min(1000, Math.max(100, (this.lastRenderAt - started) * 4));
    this.scheduleRender();
  }

  /** Shows the not-yet-rendered text (and the cursor). Text without a line break continues
   * the last rendered block in place; text with one goes below it until the next render. */
  updateTail() {
    const rest = this.text.slice(this.renderedUpTo);
    const inline = !rest.includes("\n");
    if (inline) {
      const spaced = this.renderedUpTo > 0 && /\s/.test(this.text[this.renderedUpTo - 1]);
      this.tail.textContent = (spaced && !/^\s/.test(rest) ? " " : "") + rest;
      const target = this.lastBlock();
      if (this.tail.parentNode !== target) target.appendChild(this.tail);
    } else {
      this.tail.textContent = rest.replace(/^\n+/, "");
      if (this.tail.parentNode !== this.container) this.container.appendChild(this.tail);
    }
  }

  /** The innermost last block of the rendered HTML (a paragraph, list item, heading, cell or
   * code block), or the rendered root when there is none. */
  lastBlock() {
    let target = this.html;
    let node = this.html.lastElementChild;
    while (node && /^(P|LI|UL|OL|BLOCKQUOTE|H[1-6]|PRE|CODE|TABLE|THEAD|TBODY|TR|TD|TH)$/.test(node.tagName)) {
      target = node;
      if (/^(P|CODE|TD|TH|H[1-6])$/.test(node.tagName)) break;
      node = node.lastElementChild;
    }
    return target;
  }

  /** Stops pacing and renders everything received; resolves with the final text. */
  async finish() {
    if (this.frame) cancelAnimationFrame(this.frame);
    if (this.timer) clearTimeout(this.timer);
    this.frame = 0;
    this.timer = 0;
    this.closed = true;
    if (this.inFlight) await this.inFlight;
    this.tail.classList.remove("cursor");
    try {
      this.html.innerHTML = await api.renderMarkdown(this.text);
      this.tail.textContent = "";
      decorate(this.html, { highlight: true }).then(() => this.onPaint());
    } catch (_) {
      this.html.textContent = "";
      this.container.appendChild(this.tail);
      this.tail.textContent = this.text;
    }
    this.onPaint();
    return this.text;
  }
}
