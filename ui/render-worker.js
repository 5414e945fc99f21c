// Code highlighting (highlight.js) and math (KaTeX) for the chat view, in a worker.
//
// Why a worker: both libraries are large scripts whose grammars, symbol tables and compiled
// code stay in the JavaScript engine for as long as the engine lives. In the page that is the
// whole session (measured: ~12-18 MB of the page's process after a long conversation, see
// BENCHMARKS.md). A worker has its own engine, and render.js ends the worker once it has been
// idle for a few seconds, so that memory goes back when the user stops chatting.
//
// Both libraries produce HTML strings without a DOM (hljs.highlight, katex.renderToString): the
// page inserts them. highlight.js escapes the code it marks up; KaTeX runs with trust: false, so
// no link, class or style from the TeX source reaches the page.
//
// The worker has no DOM and no way to call the app's commands (the IPC key lives only in the
// page); Tauri sends the CSP header with HTML pages only, so the CSP does not reach in here, and
// nothing in this file or the two libraries evaluates strings as code.
//
// Protocol: the page posts {id, jobs: [{kind: "code", lang, text} | {kind: "math", tex,
// display}]}; the worker answers {id, results: [html or null, ...]} in the same order (null: the
// language is unknown or rendering failed; the page leaves that element as it is).

/* global hljs, katex */
"use strict";

const LIBRARIES = {
  code: "vendor/highlight/highlight.min.js",
  math: "vendor/katex/katex.min.js",
};
const loaded = new Set();

function need(kind) {
  if (!loaded.has(kind)) {
    importScripts(LIBRARIES[kind]);
    loaded.add(kind);
  }
}

function run(job) {
  try {
    if (job.kind === "code") {
      need("code");
      if (!job.lang || !hljs.getLanguage(job.lang)) return null;
      return hljs.highlight(job.text, { language: job.lang, ignoreIllegals: true }).value;
    }
    if (job.kind === "math") {
      need("math");
      return katex.renderToString(job.tex, {
        displayMode: !!job.display, throwOnError: false, trust: false,
      });
    }
  } catch (_) {
    // A library that failed to load or threw: the element stays plain.
  }
  return null;
}

self.onmessage = (event) => {
  const { id, jobs } = event.data || {};
  const results = Array.isArray(jobs) ? jobs.map(run) : [];
  self.postMessage({ id, results });
};
