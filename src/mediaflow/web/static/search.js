// Search: reads the form's query from the URL, calls GET /search, lists moments that
// open the media page at their moment (?t=start_s&q=...), matched words marked.
import { api, clock, el } from "./api.js";

const PREFIX = "/ui";
const FIELDS = ["q", "mode", "kind", "word", "type", "provider", "media_type"];
const KIND_LABELS = { speech: "speech", text: "on-screen text", label: "label", result: "result" };
const params = new URLSearchParams(location.search);
const hits = document.getElementById("hits");
const status = document.getElementById("search-status");
const suggestion = document.getElementById("search-suggestion");
const more = document.getElementById("search-more");
let nextOffset = null;

for (const name of FIELDS) {
  const input = document.getElementById(`search-${name.replace("_", "-")}`);
  if (input && params.get(name)) input.value = params.get(name);
}
if (["word", "type", "provider", "media_type"].some((name) => params.get(name))) {
  document.querySelector("details.advanced").open = true;
}

/** The snippet as text nodes, the matched spans (highlights) inside <mark>. */
function marked(snippet, spans) {
  const parts = [];
  let at = 0;
  for (const [start, end] of spans || []) {
    if (start < at || end > snippet.length) continue;
    if (start > at) parts.push(snippet.slice(at, start));
    parts.push(el("mark", {}, snippet.slice(start, end)));
    at = end;
  }
  if (at < snippet.length) parts.push(snippet.slice(at));
  return parts;
}

function hitItem(hit, query) {
  let href = `${PREFIX}/media/${hit.media_file_id}`;
  const at = hit.start_s;
  const link = new URLSearchParams();
  if (at !== null && at !== undefined) link.set("t", Number(at).toFixed(2));
  // the media page seeks to the first matching word of a speech hit and marks the words
  if (query && hit.kind !== "result") link.set("q", query);
  if ([...link.keys()].length) href += `?${link}`;
  const label = KIND_LABELS[hit.kind] || hit.analysis_type || "result";
  return el(
    "li",
    {
      class: "hit", "data-testid": "hit", "data-kind": hit.kind,
      "data-start": at ?? "", "data-end": hit.end_s ?? "",
    },
    el(
      "a",
      { href, class: "hit-link", "data-testid": "hit-link" },
      el("span", { class: "hit-name" }, hit.original_name || hit.media_file_id),
      at !== null && at !== undefined ? el("span", { class: "hit-time" }, clock(at, 1)) : null,
    ),
    el("span", { class: "badge", "data-testid": "hit-kind" }, label),
    hit.provider ? el("span", { class: "muted small" }, ` ${hit.provider}`) : null,
    hit.moments ? el("span", { class: "muted small" }, ` · ${hit.moments} moment(s)`) : null,
    el("p", { class: "snippet", "data-testid": "hit-snippet" }, ...marked(hit.snippet || "", hit.highlights)),
  );
}

function request(offset) {
  const query = new URLSearchParams();
  for (const name of FIELDS) {
    if (params.get(name)) query.set(name, params.get(name));
  }
  query.set("limit", "25");
  if (offset) query.set("offset", String(offset));
  return query;
}

async function run(offset = 0) {
  const query = request(offset);
  if (!query.get("q") && !query.get("word")) {
    status.textContent = "Type what was said, shown or seen, or an exact word to find in images and video.";
    return;
  }
  status.textContent = "Searching…";
  try {
    const result = await api(`/search?${query}`);
    const items = result.items.map((hit) => hitItem(hit, params.get("q")));
    if (offset) hits.append(...items);
    else hits.replaceChildren(...items);
    const shown = hits.children.length;
    status.textContent = shown ? `${shown} hit(s)` : "No hits.";
    if (result.notes.length) status.textContent += ` (${result.notes.join("; ")})`;
    if (result.suggestion) {
      const corrected = new URLSearchParams(params);
      corrected.set("q", result.suggestion);
      suggestion.replaceChildren(
        result.corrected ? "Showing results for " : "Did you mean ",
        el("a", { href: `${PREFIX}/search?${corrected}`, "data-testid": "suggestion-link" }, result.suggestion),
        result.corrected ? "" : "?",
      );
      suggestion.hidden = false;
    }
    nextOffset = result.next_offset;
    more.hidden = nextOffset === null;
  } catch (err) {
    status.textContent = `Search failed: ${err.message}`;
  }
}

more.addEventListener("click", () => nextOffset !== null && run(nextOffset));
run();
