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
// highlight.js and KaTeX (~400 KB of script) are loaded the first time an answer needs them, so
// they cost nothing at startup or in conversations without code or math.

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

const loading = new Map();

function addStylesheet(href, id) {
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = href;
  if (id) link.id = id;
  document.head.appendChild(link);
}

/** Loads a vendored script (and its stylesheet) once; resolves when it has run. */
function loadVendor(script, stylesheet) {
  if (!loading.has(script)) {
    loading.set(script, new Promise((resolve, reject) => {
      if (stylesheet) addStylesheet(stylesheet);
      const el = document.createElement("script");
      el.src = script;
      el.onload = () => resolve();
      el.onerror = () => { loading.delete(script); reject(new Error("could not load " + script)); };
      document.head.appendChild(el);
    }));
  }
  return loading.get(script);
}

const HIGHLIGHT = "vendor/highlight/highlight.min.js";
const HIGHLIGHT_THEMES = [["hl-light", "vendor/highlight/github.min.css"], ["hl-dark", "vendor/highlight/github-dark.min.css"]];

/** Enables the highlight theme matching the page's theme (once its stylesheets are loaded). */
export function syncHighlightTheme() {
  const dark = document.documentElement.dataset.theme === "dark";
  const light = document.getElementById("hl-light");
  const darkSheet = document.getElementById("hl-dark");
  if (light) light.disabled = dark;
  if (darkSheet) darkSheet.disabled = !dark;
}

/** Loads highlight.js with its light and dark themes. */
function loadHighlighter() {
  if (!document.getElementById("hl-light")) {
    for (const [id, href] of HIGHLIGHT_THEMES) addStylesheet(href, id);
    syncHighlightTheme();
  }
  return loadVendor(HIGHLIGHT);
}
const KATEX = ["vendor/katex/katex.min.js", "vendor/katex/katex.min.css"];

/** Adds the header (language + copy button) to code blocks, math, and optionally highlighting.
 * When highlighting or math needs a library not loaded yet, it is loaded and `root` decorated
 * again (if it is still on the page). */
export function decorate(root, { highlight }) {
  const again = () => { if (root.isConnected) decorate(root, { highlight }); };
  let wantHighlighter = false;
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
    if (highlight && lang && !code.classList.contains("hljs")) {
      if (!window.hljs) {
        wantHighlighter = true;
      } else if (window.hljs.getLanguage(lang)) {
        try { window.hljs.highlightElement(code); } catch (_) { /* leave it plain */ }
      }
    }
  }
  if (wantHighlighter) loadHighlighter().then(again, () => { /* code stays plain */ });
  const math = root.querySelectorAll("span.math:not([data-done])");
  if (math.length && !window.katex) {
    loadVendor(...KATEX).then(again, () => { /* the TeX source stays visible */ });
  } else if (math.length) {
    for (const el of math) {
      const display = el.classList.contains("math-display");
      const tex = el.textContent;
      try {
        window.katex.render(tex, el, { displayMode: display, throwOnError: false, trust: false });
      } catch (_) {
        el.textContent = tex;
      }
      el.setAttribute("data-done", "");
    }
  }
}

function languageOf(code) {
  for (const c of code.classList) {
    if (c.startsWith("language-")) return c.slice("language-".length);
  }
  return "";
}

/** Renders finished Markdown into `el` (a stored message). */
export async function renderInto(el, text) {
  el.innerHTML = await api.renderMarkdown(text);
  decorate(el, { highlight: true });
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
      decorate(this.html, { highlight: false });
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
      decorate(this.html, { highlight: true });
    } catch (_) {
      this.html.textContent = "";
      this.container.appendChild(this.tail);
      this.tail.textContent = this.text;
    }
    this.onPaint();
    return this.text;
  }
}
