// The workers (GET /workers), refreshed every 2 s: host, pid, heartbeat, current files.
import { api, badge, el, notice, when } from "./api.js";

const PREFIX = "/ui";
const REFRESH_MS = 2000;
const body = document.getElementById("workers-body");
const empty = document.getElementById("workers-empty");
const updated = document.getElementById("workers-updated");

function files(worker) {
  if (!worker.current_files.length) return el("span", { class: "small" }, "idle");
  return el(
    "ul",
    { class: "plain" },
    ...worker.current_files.map((file) =>
      el(
        "li",
        {},
        el("a", { href: `${PREFIX}/media/${file.media_file_id}`, "data-testid": "worker-file" }, file.original_name || file.media_file_id),
      ),
    ),
  );
}

function row(worker) {
  return el(
    "tr",
    { "data-testid": "worker-row", "data-worker-id": String(worker.id), "data-alive": String(worker.alive) },
    el("td", {}, String(worker.id)),
    el("td", { "data-testid": "worker-host" }, worker.host || "(gone)"),
    el("td", {}, worker.pid === null ? "" : String(worker.pid)),
    el("td", { class: "small" }, worker.queues.join(", ")),
    el("td", {}, badge(worker.alive ? "alive" : "silent")),
    el("td", { class: "small" }, `${when(worker.last_heartbeat)} (${worker.heartbeat_age_s.toFixed(1)} s ago)`),
    el("td", {}, files(worker)),
  );
}

async function refresh() {
  try {
    const page = await api("/workers");
    body.replaceChildren(...page.items.map(row));
    empty.hidden = page.items.length > 0;
    updated.textContent = `${page.items.length} worker(s) · updated ${new Date().toLocaleTimeString()}`;
    notice(null);
  } catch (err) {
    notice(`Could not load the workers: ${err.message}`);
  }
}

async function loop() {
  await refresh();
  setTimeout(loop, REFRESH_MS);
}

loop();
