// Two providers' transcripts of one media file side by side (GET /media/{id}/compare):
// words only one side has are marked (<del> on the reference, <ins> on the other), with
// the WER of the compared transcript against the reference, and latency and cost.
import { api, el, notice } from "./api.js";

const root = document.getElementById("compare");
const mediaId = root.dataset.mediaId;
const selectA = document.getElementById("compare-a");
const selectB = document.getElementById("compare-b");

function words(list, mark, className) {
  const text = list.join(" ");
  return mark ? el(mark, { class: className }, text) : text;
}

function render(result) {
  const left = document.getElementById("compare-left");
  const right = document.getElementById("compare-right");
  left.replaceChildren();
  right.replaceChildren();
  for (const run of result.diff) {
    const changed = run.op !== "equal";
    if (run.a.length) left.append(words(run.a, changed ? "del" : null, "diff-del"), " ");
    if (run.b.length) right.append(words(run.b, changed ? "ins" : null, "diff-ins"), " ");
  }
  document.getElementById("compare-left-title").textContent = `Reference: ${result.a.provider}`;
  document.getElementById("compare-right-title").textContent = `Compared: ${result.b.provider}`;
  const pct = (result.wer * 100).toFixed(1);
  document.getElementById("compare-summary").textContent =
    `WER of ${result.b.provider} against ${result.a.provider}: ${pct}%`;
  const cell = (v) => el("td", {}, v === null || v === undefined ? "–" : String(v));
  const rows = [
    ["model", result.a.model, result.b.model],
    ["language", result.a.language, result.b.language],
    ["words", result.a.words, result.b.words],
    ["latency (ms)", result.a.latency_ms, result.b.latency_ms],
    ["cost (USD)", result.a.cost_usd, result.b.cost_usd],
  ];
  document.getElementById("compare-facts").replaceChildren(
    el("tr", {}, el("th", {}, ""), el("th", {}, result.a.provider), el("th", {}, result.b.provider)),
    ...rows.map(([label, a, b]) => el("tr", {}, el("th", {}, label), cell(a), cell(b))),
  );
  for (const [select, chosen] of [[selectA, result.a.provider], [selectB, result.b.provider]]) {
    select.replaceChildren(...result.available.map((name) => el("option", { value: name, selected: name === chosen }, name)));
  }
}

async function load(a, b) {
  const error = document.getElementById("compare-error");
  error.hidden = true;
  const query = new URLSearchParams();
  if (a) query.set("a", a);
  if (b) query.set("b", b);
  try {
    render(await api(`/media/${mediaId}/compare?${query}`));
  } catch (err) {
    error.textContent = err.message;
    error.hidden = false;
  }
}

document.getElementById("compare-form").addEventListener("submit", (event) => {
  event.preventDefault();
  load(selectA.value, selectB.value);
});
const params = new URLSearchParams(window.location.search);
load(params.get("a"), params.get("b")).catch((err) => notice(err.message));
