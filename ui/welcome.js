// The empty state of a new chat, with the first-run card in demo mode (offering to configure a
// real project) and a few suggestions.

const $ = (id) => document.getElementById(id);

const SUGGESTIONS = [
  ["Write a Rust function", "that reverses the words of a sentence"],
  ["Explain JWTs", "and why short-lived tokens are safer"],
  ["Compare SQLite and Postgres", "as a table"],
  ["Show the quadratic formula", "in LaTeX"],
];

function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text) el.textContent = text;
  return el;
}

/** Draws the welcome screen into #empty. */
export function drawWelcome({ status, settings, onConfigure, onDismiss, onSuggestion }) {
  const empty = $("empty");
  empty.hidden = false;
  empty.replaceChildren(
    element("div", "brand-mark", "B"),
    element("h2", "", "How can I help?"),
    element("p", "", "Answers stream in as they are written. Your conversations stay on this computer."),
  );
  if (status && status.demo && !(settings && settings.firstRunDismissed)) {
    const card = element("div", "first-run");
    card.id = "first-run";
    const txt = element("div", "txt");
    txt.append(
      element("strong", "", "You are in demo mode"),
      "Chats go to a local gateway built into the app, with canned answers. Connect your Behest project to chat with real models.",
    );
    const configure = element("button", "primary-btn", "Configure a project");
    configure.type = "button";
    configure.addEventListener("click", onConfigure);
    const dismiss = element("button", "ghost-btn bordered", "Keep the demo");
    dismiss.type = "button";
    dismiss.addEventListener("click", () => {
      card.remove();
      onDismiss();
    });
    card.append(txt, configure, dismiss);
    empty.append(card);
  }
  const grid = element("div", "suggestions");
  for (const [title, rest] of SUGGESTIONS) {
    const b = element("button", "suggestion", title);
    b.type = "button";
    b.append(element("span", "", rest));
    b.addEventListener("click", () => onSuggestion(title + " " + rest));
    grid.append(b);
  }
  empty.append(grid);
}
