// One job: files with progress bars and the processing log as a timeline, kept live by
// the SSE stream GET /jobs/{id}/events (polling every 2 s when the stream is unavailable).
import { api, badge, bytes, clock, el, notice, renderTimeline, when } from "./api.js";

const PREFIX = "/ui";
const POLL_MS = 2000;
const jobId = document.getElementById("job").dataset.jobId;
const files = document.getElementById("files");
const timeline = document.getElementById("timeline");
const logRows = new Map(); // id -> row
const fileNames = new Map();
const FINAL = new Set(["completed", "failed", "cancelled"]);
let lastJob = null;

function fileItem(f) {
  const progress = Math.max(0, Math.min(1, Number(f.progress ?? (f.status === "completed" ? 1 : 0))));
  const facts = [f.media_type, f.file_type, bytes(f.size_bytes)];
  if (f.duration_s) facts.push(clock(f.duration_s, 1));
  return el(
    "li",
    { class: "file", "data-testid": "file-row", "data-file-id": f.id, "data-status": f.status },
    el(
      "div",
      { class: "file-head" },
      el("a", { href: `${PREFIX}/media/${f.id}`, "data-testid": "media-link" }, f.original_name || f.id),
      badge(f.status),
      el("span", { class: "muted small" }, facts.filter(Boolean).join(" · ")),
    ),
    el(
      "div",
      { class: "file-progress" },
      el("progress", { max: 1, value: progress, "aria-label": `progress of ${f.original_name}` }),
      el("span", { class: "small" }, `${Math.round(progress * 100)} %`, f.stage ? ` · ${f.stage}` : ""),
    ),
    f.error ? el("p", { class: "error" }, f.error) : null,
  );
}

function showJob(job) {
  lastJob = job;
  document.getElementById("job-name").textContent = job.name || job.id;
  document.title = `${job.name || "Job"} · mediaflow`;
  const status = document.getElementById("job-status");
  status.textContent = job.status;
  status.className = `badge status-${job.status}`;
  status.dataset.status = job.status;
  const meta = [`created ${when(job.created_at)}`];
  if (job.started_at) meta.push(`started ${when(job.started_at)}`);
  if (job.finished_at) meta.push(`finished ${when(job.finished_at)}`);
  document.getElementById("job-meta").textContent = meta.join(" · ");
  const error = document.getElementById("job-error");
  error.textContent = job.error || "";
  error.hidden = !job.error;
  document.getElementById("job-cancel").hidden = FINAL.has(job.status);
  const failed = (job.counts?.failed || 0) + (job.counts?.cancelled || 0);
  document.getElementById("job-retry").hidden = !(FINAL.has(job.status) && failed > 0);
  for (const f of job.files || []) fileNames.set(f.id, f.original_name);
  files.replaceChildren(...(job.files || []).map(fileItem));
}

function showLog() {
  const rows = [...logRows.values()].sort((a, b) => a.id - b.id);
  const n = renderTimeline(timeline, rows, fileNames.size > 1 ? fileNames : null);
  document.getElementById("timeline-empty").hidden = n > 0;
}

function addLog(items) {
  for (const r of items) logRows.set(r.id, r);
  showLog();
}

async function loadLog() {
  // Page through the log with its cursor (next_after: the last row's id, or null at the end).
  let after = 0;
  for (let i = 0; i < 100; i += 1) {
    const page = await api(`/jobs/${jobId}/log?after=${after}&limit=1000`);
    addLog(page.items || []);
    if (page.next_after === null || page.next_after === undefined) break;
    after = page.next_after;
  }
}

async function poll() {
  try {
    showJob(await api(`/jobs/${jobId}`));
    await loadLog();
    notice(null);
  } catch (err) {
    notice(`Could not refresh the job: ${err.message}`);
  }
  if (!lastJob || !FINAL.has(lastJob.status)) setTimeout(poll, POLL_MS);
}

function stream() {
  if (!window.EventSource) return poll();
  const source = new EventSource(`/jobs/${jobId}/events`);
  let opened = false;
  source.addEventListener("open", () => {
    opened = true;
  });
  source.addEventListener("job", (e) => showJob(JSON.parse(e.data)));
  source.addEventListener("log", (e) => addLog([JSON.parse(e.data)]));
  source.addEventListener("end", () => source.close());
  source.addEventListener("error", () => {
    // Closed by the server after "end", or no stream at all: fall back to polling.
    if (source.readyState === EventSource.CLOSED || !opened) {
      source.close();
      if (!lastJob || !FINAL.has(lastJob.status)) poll();
    }
  });
}

async function action(path, label) {
  try {
    await api(path, { method: "POST" });
    notice(null);
    stream();
  } catch (err) {
    notice(`${label} failed: ${err.message}`);
  }
}
document.getElementById("job-cancel").addEventListener("click", () => action(`/jobs/${jobId}/cancel`, "Cancel"));
document.getElementById("job-retry").addEventListener("click", () => action(`/jobs/${jobId}/retry`, "Retry"));

(async () => {
  try {
    showJob(await api(`/jobs/${jobId}`)); // a 401 opens the login form here, before the stream
    document.getElementById("job").dataset.firstStatus = lastJob.status;
    await loadLog();
  } catch (err) {
    notice(`Could not load the job: ${err.message}`);
    return;
  }
  if (!FINAL.has(lastJob.status)) stream();
})();
