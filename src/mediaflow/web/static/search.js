// Search: reads the form's query from the URL, calls GET /search, lists hits that
// open the media page at the hit's moment (?t=start_s).
import { api, clock, el } from "./api.js";

const PREFIX = "/ui";
const params = new URLSearchParams(location.search);
const hits = document.getElementById("hits");
const status = document.getElementById("search-status");

for (const name of ["q", "word", "type", "provider"]) {
  const input = document.getElementById(`search-${name}`);
  if (params.get(name)) input.value = params.get(name);
}

function hitItem(hit) {
  let href = `${PREFIX}/media/${hit.media_file_id}`;
  const at = hit.start_s;
  if (at !== null && at !== undefined) {
    href += `?t=${Number(at).toFixed(2)}`;
    // the media page refines a transcript hit to the first matching word's moment
    if (hit.kind === "transcript" && params.get("q")) href += `&q=${encodeURIComponent(params.get("q"))}`;
  }
  const label = hit.kind === "transcript" ? "transcript" : `${hit.analysis_type || "result"}`;
  return el(
    "li",
    { class: "hit", "data-testid": "hit", "data-kind": hit.kind, "data-start": at ?? "", "data-end": hit.end_s ?? "" },
    el(
      "a",
      { href, class: "hit-link", "data-testid": "hit-link" },
      el("span", { class: "hit-name" }, hit.original_name || hit.media_file_id),
      at !== null && at !== undefined ? el("span", { class: "hit-time" }, clock(at, 1)) : null,
    ),
    el("span", { class: "badge" }, label),
    hit.provider ? el("span", { class: "muted small" }, ` ${hit.provider}`) : null,
    el("p", { class: "snippet" }, hit.snippet || ""),
  );
}

async function run() {
  const query = new URLSearchParams();
  for (const name of ["q", "word", "type", "provider"]) {
    if (params.get(name)) query.set(name, params.get(name));
  }
  if (![...query.keys()].length) {
    status.textContent = "Type words to search transcripts, or a word to find in images and video.";
    return;
  }
  query.set("limit", "50");
  status.textContent = "Searching…";
  try {
    const result = await api(`/search?${query}`);
    hits.replaceChildren(...result.items.map(hitItem));
    status.textContent = result.items.length ? `${result.items.length} hit(s)` : "No hits.";
  } catch (err) {
    status.textContent = `Search failed: ${err.message}`;
  }
}

run();
