// The job list (refreshed every 2 s) and the upload form (POST /jobs with progress).
import { api, badge, el, notice, secondsBetween, upload, when } from "./api.js";

const PREFIX = "/ui";
const REFRESH_MS = 2000;
const body = document.getElementById("jobs-body");
const empty = document.getElementById("jobs-empty");
const filter = document.getElementById("jobs-filter");
const updated = document.getElementById("jobs-updated");

function countsText(counts) {
  if (!counts) return "";
  const parts = [`${counts.completed ?? 0}/${counts.total ?? 0} done`];
  for (const key of ["processing", "failed", "skipped", "cancelled"]) {
    if (counts[key]) parts.push(`${counts[key]} ${key}`);
  }
  return parts.join(", ");
}

function row(job) {
  const counts = job.counts || {};
  const total = counts.total || 0;
  const finished = (counts.completed || 0) + (counts.failed || 0) + (counts.skipped || 0) + (counts.cancelled || 0);
  const took = secondsBetween(job.started_at || job.created_at, job.finished_at);
  return el(
    "tr",
    { "data-testid": "job-row", "data-job-id": job.id, "data-status": job.status },
    el("td", {}, el("a", { href: `${PREFIX}/jobs/${job.id}`, "data-testid": "job-link" }, job.name || job.id)),
    el("td", {}, badge(job.status)),
    el(
      "td",
      {},
      el("progress", { max: total || 1, value: finished, "aria-label": "files finished" }),
      " ",
      el("span", { class: "small" }, countsText(counts)),
    ),
    el("td", { class: "small" }, when(job.created_at)),
    el("td", { class: "small" }, took === null ? "" : `${took.toFixed(1)} s`),
  );
}

async function refresh() {
  const params = new URLSearchParams({ limit: "50" });
  if (filter.value) params.set("status", filter.value);
  try {
    const page = await api(`/jobs?${params}`);
    body.replaceChildren(...page.items.map(row));
    empty.hidden = page.items.length > 0;
    updated.textContent = `${page.total} job(s) · updated ${new Date().toLocaleTimeString()}`;
    notice(null);
  } catch (err) {
    notice(`Could not load the jobs: ${err.message}`);
  }
}

let timer = null;
async function loop() {
  clearTimeout(timer);
  await refresh();
  timer = setTimeout(loop, REFRESH_MS);
}
filter.addEventListener("change", loop);

const form = document.getElementById("upload-form");
const progress = document.getElementById("upload-progress");
const status = document.getElementById("upload-status");
const submit = document.getElementById("upload-submit");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const files = document.getElementById("upload-files").files;
  if (!files.length) {
    status.textContent = "Choose at least one file.";
    return;
  }
  const data = new FormData();
  for (const file of files) data.append("files", file);
  const name = document.getElementById("upload-name").value.trim();
  if (name) data.append("name", name);
  const providers = document.getElementById("upload-providers").value.trim();
  if (providers) data.append("providers", providers);
  submit.disabled = true;
  progress.hidden = false;
  progress.value = 0;
  status.textContent = "Uploading…";
  try {
    const job = await upload("/jobs", data, (fraction) => {
      progress.value = fraction;
      status.textContent = `Uploading… ${Math.round(fraction * 100)} %`;
    });
    progress.value = 1;
    status.replaceChildren(
      "Queued: ",
      el("a", { href: `${PREFIX}/jobs/${job.id}`, "data-testid": "uploaded-job" }, job.name || job.id),
    );
    form.reset();
    loop();
  } catch (err) {
    status.textContent = `Upload failed: ${err.message}`;
  } finally {
    submit.disabled = false;
    setTimeout(() => {
      progress.hidden = true;
    }, 1500);
  }
});

loop();
