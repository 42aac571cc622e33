// Shared helpers of the web page: API calls (with the login form on 401), DOM building,
// formatting. Data is only ever put into the page with textContent / attributes.

const loginDialog = () => document.getElementById("login-dialog");
let loginWaiters = null; // pending promises while the login form is open

/** Build an element: el("a", {href: "/x", class: "y"}, "text", child, ...). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "style") Object.assign(node.style, value); // CSSOM: allowed by the CSP
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** An API error: HTTP status plus the API's {"error": {code, message}}. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function errorOf(response) {
  let code = "http_" + response.status;
  let message = response.statusText || "request failed";
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch (_) {
    /* not JSON */
  }
  return new ApiError(response.status, code, message);
}

/** Show the login form; resolves once a key was accepted (the cookie is set). */
export function login() {
  if (loginWaiters) return new Promise((resolve) => loginWaiters.push(resolve));
  loginWaiters = [];
  const dialog = loginDialog();
  const form = document.getElementById("login-form");
  const input = document.getElementById("login-key");
  const error = document.getElementById("login-error");
  return new Promise((resolve) => {
    loginWaiters.push(resolve);
    const submit = async (event) => {
      event.preventDefault();
      error.hidden = true;
      const response = await fetch("/session", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ key: input.value }),
        credentials: "same-origin",
      });
      if (!response.ok) {
        const err = await errorOf(response);
        error.textContent = err.message;
        error.hidden = false;
        input.select();
        return;
      }
      form.removeEventListener("submit", submit);
      input.value = "";
      dialog.close();
      document.getElementById("logout").hidden = false;
      const waiters = loginWaiters;
      loginWaiters = null;
      waiters.forEach((w) => w());
    };
    form.addEventListener("submit", submit);
    // Escape would close the form with the page's requests still waiting for a key
    dialog.addEventListener("cancel", (e) => e.preventDefault());
    if (!dialog.open) dialog.showModal();
    input.focus();
  });
}

/** fetch() an API path; JSON back. A 401 opens the login form, then retries. */
export async function api(path, options = {}) {
  for (;;) {
    const response = await fetch(path, {
      credentials: "same-origin",
      ...options,
      headers: { Accept: "application/json", ...(options.headers || {}) },
    });
    if (response.status === 401) {
      await login();
      continue;
    }
    if (!response.ok) throw await errorOf(response);
    if (response.status === 204) return null;
    return response.json();
  }
}

/** Upload a FormData with progress (XMLHttpRequest: fetch reports no upload progress). */
export function upload(path, formData, onProgress) {
  const send = () =>
    new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", path);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) onProgress(e.loaded / e.total);
      };
      xhr.onload = () => resolve(xhr);
      xhr.onerror = () => reject(new ApiError(0, "network", "the upload failed (network)"));
      xhr.send(formData);
    });
  return (async () => {
    for (;;) {
      const xhr = await send();
      if (xhr.status === 401) {
        await login();
        continue;
      }
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch (_) {
        /* not JSON */
      }
      if (xhr.status >= 400) {
        const e = (body && body.error) || {};
        throw new ApiError(xhr.status, e.code || "http_" + xhr.status, e.message || "upload failed");
      }
      return body;
    }
  })();
}

/** Show a message in the page's notice bar (errors of background refreshes). */
export function notice(message) {
  const bar = document.getElementById("notice");
  if (!message) {
    bar.hidden = true;
    bar.textContent = "";
    return;
  }
  bar.textContent = message;
  bar.hidden = false;
}

/** 83.4 -> "1:23.4"; 3725 -> "1:02:05". */
export function clock(seconds, decimals = 0) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
  const s = Math.max(0, Number(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = (s % 60).toFixed(decimals).padStart(decimals ? 3 + decimals : 2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

/** Milliseconds as "850 ms" / "12.3 s" / "2 min 5 s". */
export function duration(ms) {
  if (ms === null || ms === undefined) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** Seconds between two ISO timestamps (null when either is missing). */
export function secondsBetween(a, b) {
  if (!a || !b) return null;
  return (new Date(b) - new Date(a)) / 1000;
}

/** A local date-time string of an ISO timestamp. */
export function when(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString();
}

/** 1536 -> "1.5 KiB". */
export function bytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = Number(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}

/** A status badge. */
export function badge(status) {
  return el("span", { class: `badge status-${status}`, "data-status": status }, status);
}

/** Render the processing log rows as a timeline (stage, status, duration bar). */
export function renderTimeline(list, rows, fileNames = null) {
  // A "started" row is noise once the same attempt of the stage has finished.
  const finished = new Set(
    rows
      .filter((r) => r.status !== "started")
      .map((r) => `${r.media_file_id}|${r.stage}|${r.attempt}`),
  );
  const shown = rows.filter(
    (r) => r.status !== "started" || !finished.has(`${r.media_file_id}|${r.stage}|${r.attempt}`),
  );
  const longest = Math.max(1, ...shown.map((r) => r.duration_ms || 0));
  list.replaceChildren(
    ...shown.map((r) => {
      const width = r.duration_ms ? Math.max(0.5, (100 * r.duration_ms) / longest) : 0;
      const who = fileNames && r.media_file_id ? fileNames.get(r.media_file_id) : null;
      return el(
        "li",
        {
          class: `tl-row status-${r.status}`,
          "data-testid": "timeline-row",
          "data-stage": r.stage,
          "data-status": r.status,
        },
        el("span", { class: "tl-time" }, r.created_at ? new Date(r.created_at).toLocaleTimeString() : ""),
        el(
          "span",
          { class: "tl-stage" },
          r.stage,
          r.details && r.details.provider ? el("small", { class: "tl-provider" }, ` ${r.details.provider}`) : null,
          r.attempt > 1 ? el("small", {}, ` attempt ${r.attempt}`) : null,
          who ? el("small", { class: "muted" }, ` · ${who}`) : null,
        ),
        badge(r.status),
        el(
          "span",
          { class: "tl-bar-wrap", title: duration(r.duration_ms) },
          el("span", { class: "tl-bar", style: { width: `${width}%` } }),
        ),
        el("span", { class: "tl-dur" }, duration(r.duration_ms)),
        r.message ? el("span", { class: "tl-msg" }, r.message) : null,
      );
    }),
  );
  return shown.length;
}

/** Log out: forget the cookie, then reload (the login form comes back on the next 401). */
document.getElementById("logout")?.addEventListener("click", async () => {
  await fetch("/session", { method: "DELETE", credentials: "same-origin" });
  location.reload();
});
