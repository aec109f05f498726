// Renders Adaptive Cards with Microsoft's `adaptivecards` renderer in a jsdom document.
// stdin: a JSON array of cards; stdout: a JSON array, for each card {html} or {error}.
//
// Card text is Markdown, processed with markdown-it configured the way Teams treats card text:
// raw HTML is passed through (so `<command>` becomes an unknown element and its text is lost,
// as Teams drops it) and a single newline is a soft break (lines run together, as in Teams).
"use strict";

const { JSDOM } = require("jsdom");

const dom = new JSDOM("<!DOCTYPE html><html><body></body></html>", { url: "https://teams.invalid/" });
const { window } = dom;
// The renderer expects a browser: expose the DOM's globals (HTMLButtonElement, Node, ...).
for (const name of Object.getOwnPropertyNames(window)) {
  if (!(name in globalThis) && /^[A-Z]/.test(name)) {
    globalThis[name] = window[name];
  }
}
globalThis.window = window;
globalThis.document = window.document;
// jsdom has no innerText (it needs layout); the renderer sets it for plain text.
Object.defineProperty(window.HTMLElement.prototype, "innerText", {
  get() { return this.textContent; },
  set(value) { this.textContent = value; },
  configurable: true,
});

const AdaptiveCards = require("adaptivecards/dist/adaptivecards.js");
const MarkdownIt = require("markdown-it");

const markdown = new MarkdownIt({ html: true, breaks: false, linkify: false });
AdaptiveCards.AdaptiveCard.onProcessMarkdown = (text, result) => {
  result.outputHtml = markdown.render(text);
  result.didProcess = true;
};

function render(payload) {
  const card = new AdaptiveCards.AdaptiveCard();
  const errors = [];
  card.parse(payload, new AdaptiveCards.SerializationContext());
  const element = card.render();
  if (!element) {
    return { error: "the renderer produced nothing" };
  }
  for (const failure of card.validateProperties().failures || []) {
    for (const e of failure.errors || []) errors.push(e.message);
  }
  return { html: element.outerHTML, warnings: errors };
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const cards = JSON.parse(input);
  const out = cards.map((payload) => {
    try {
      return render(payload);
    } catch (error) {
      return { error: String(error && error.stack || error) };
    }
  });
  process.stdout.write(JSON.stringify(out));
});
