// One media file: the player (video/audio/image from /media/{id}/content), the transcript
// synced to playback, results grouped by type with face/OCR boxes drawn over the frame,
// the file's processing log and export links. ?t=SECONDS seeks there on load.
import { ApiError, api, badge, bytes, clock, el, notice, renderTimeline } from "./api.js";

const PREFIX = "/ui";
const root = document.getElementById("media");
const mediaId = root.dataset.mediaId;
// Results made before boxes carried their frame's size were analysed at frames scaled
// down to at most this longer side; newer results say their size themselves.
const LEGACY_MAX_SIDE = 1920;
const stage = document.getElementById("stage");
const transcriptList = document.getElementById("transcript");
const FINAL = new Set(["completed", "failed", "skipped", "cancelled"]);
const TYPE_TITLES = {
  ocr: "Text (OCR)",
  faces: "Faces",
  scenes: "Scenes",
  moderation: "Moderation",
  image_features: "Image features",
  audio_features: "Audio features",
};
const typeTitle = (type) => TYPE_TITLES[type] || type.charAt(0).toUpperCase() + type.slice(1).replaceAll("_", " ");

let player = null; // <video>, <audio> or <img>
let canvas = null;
let segments = []; // [{start, end, node}]
let current = -1;
let overlays = []; // [{kind: "faces"|"ocr", frames: [...]}]

const query = new URLSearchParams(location.search).get("q") || "";
const startAt = (() => {
  const t = Number.parseFloat(new URLSearchParams(location.search).get("t"));
  return Number.isFinite(t) && t >= 0 ? t : null;
})();

// ------------------------------------------------------------------ player

function seek(seconds) {
  if (!player || player.tagName === "IMG") return;
  const go = () => {
    player.currentTime = seconds;
    highlight();
  };
  if (player.readyState >= 1) go();
  else player.addEventListener("loadedmetadata", go, { once: true });
}

function buildPlayer(meta) {
  const src = `/media/${mediaId}/content`;
  const label = meta.original_name || "media";
  const wrap = el("div", { class: "stage-inner" });
  const isImage = (meta.mime_type || "").startsWith("image/"); // animated GIF/WebP/PNG too
  if (meta.status === "failed" && !meta.media_type) {
    // nothing was read from the file: say why instead of an empty player
    stage.replaceChildren(
      el("p", { class: "failure", "data-testid": "stage-failure" }, `Not analyzed: ${meta.error || "the file could not be read"}`),
    );
    return;
  }
  if (isImage && meta.media_type) {
    player = el("img", { id: "player", src, alt: label, "data-testid": "player" });
  } else if (meta.media_type === "video") {
    player = el("video", { id: "player", src, controls: true, preload: "metadata", playsinline: true, "data-testid": "player", "aria-label": label });
  } else if (meta.media_type === "audio") {
    player = el("audio", { id: "player", src, controls: true, preload: "metadata", "data-testid": "player", "aria-label": label });
  } else if (meta.media_type === "image") {
    player = el("img", { id: "player", src, alt: label, "data-testid": "player" });
  } else {
    stage.replaceChildren(el("p", { class: "muted" }, "No preview for this file."));
    return;
  }
  wrap.append(player);
  if (meta.media_type !== "audio") {
    canvas = el("canvas", { id: "overlay", class: "overlay", "data-testid": "overlay", "aria-hidden": "true" });
    wrap.append(canvas);
  }
  stage.replaceChildren(wrap);
  if (player.tagName === "IMG") {
    player.addEventListener("load", draw);
  } else {
    for (const name of ["timeupdate", "seeked", "seeking", "loadedmetadata"]) {
      player.addEventListener(name, () => {
        highlight();
        draw();
      });
    }
    if (startAt !== null) seek(startAt);
  }
  new ResizeObserver(draw).observe(player);
  window.addEventListener("resize", draw);
}

// ------------------------------------------------------------------ transcript

function highlight() {
  if (!player || player.tagName === "IMG" || !segments.length) return;
  const t = player.currentTime;
  let found = -1;
  for (let i = 0; i < segments.length; i += 1) {
    if (segments[i].start <= t + 0.05 && t < segments[i].end) found = i;
  }
  if (found === current) return;
  if (current >= 0) {
    segments[current].node.classList.remove("current");
    segments[current].node.removeAttribute("aria-current");
  }
  current = found;
  if (found >= 0) {
    const node = segments[found].node;
    node.classList.add("current");
    node.setAttribute("aria-current", "true");
    // keep the line visible inside the transcript's own scroll box (not the page)
    const box = transcriptList;
    const top = node.offsetTop - box.offsetTop;
    if (top < box.scrollTop || top + node.offsetHeight > box.scrollTop + box.clientHeight) {
      box.scrollTop = Math.max(0, top - box.clientHeight / 3);
    }
  }
}

const MAX_LINE_WORDS = 18;
const PAUSE_S = 0.35;

/** Transcript lines: segments split by their word timings at sentence ends, at clause
 *  marks or pauses once a line has a few words, and every MAX_LINE_WORDS words, so that a
 *  long recognised segment still reads (and seeks) line by line. */
function toLines(items) {
  const lines = [];
  const join = (ws) =>
    ws.map((w) => String(w.word)).map((t) => (/^\s/.test(t) ? t : ` ${t}`)).join("").replace(/\s+/g, " ").trim();
  items.forEach((seg, index) => {
    const words = (seg.words || []).filter((w) => Number.isFinite(Number(w.start)));
    if (words.length < 2) {
      lines.push({ start: seg.start, end: seg.end, text: seg.text, segment: index, speaker: seg.speaker });
      return;
    }
    let chunk = [];
    const flush = (end) => {
      if (!chunk.length) return;
      const first = !lines.length || lines[lines.length - 1].segment !== index;
      lines.push({ start: first ? Number(seg.start) : Number(chunk[0].start), end, text: join(chunk), segment: index, speaker: seg.speaker });
      chunk = [];
    };
    words.forEach((w, i) => {
      chunk.push(w);
      if (i === words.length - 1) return;
      const text = String(w.word).trim();
      const next = words[i + 1];
      const split =
        /[.!?…]["')\]]*$/.test(text) ||
        (/[,;:]["')\]]*$/.test(text) && chunk.length >= 5) ||
        (Number(next.start) - Number(w.end) >= PAUSE_S && chunk.length >= 3) ||
        chunk.length >= MAX_LINE_WORDS;
      if (split) flush(Number(next.start));
    });
    flush(Number(seg.end));
  });
  return lines;
}

/** The words of a search query worth marking (no operators, no excluded words). */
function queryTerms(q) {
  const kept = q.toLowerCase().replace(/-("[^"]*"|\S+)/g, " ").replace(/\bor\b/g, " ");
  return (kept.match(/[\p{L}\p{N}]+/gu) || []).filter((x) => x.length > 1);
}

function matches(word, terms) {
  const bare = String(word).toLowerCase().replace(/[^\p{L}\p{N}]+/gu, "");
  return bare && terms.some((term) => bare === term || bare.startsWith(term));
}

/** Text as nodes, the words matching the search query inside <mark>. */
function markTerms(text, terms) {
  if (!terms.length) return [text];
  return text.split(/(\s+)/).map((part) => (matches(part, terms) ? el("mark", {}, part) : part));
}

/** The start of the first word matching ``q`` in the segment at ``t`` (or the next one). */
function wordMoment(items, t, q) {
  const terms = queryTerms(q);
  if (!terms.length) return null;
  for (const seg of items) {
    if (Number(seg.end) < t - 0.05) continue;
    for (const w of seg.words || []) {
      if (matches(w.word, terms)) return Number(w.start);
    }
    return null; // only the hit's own segment
  }
  return null;
}

async function loadTranscript(meta) {
  let transcript = null;
  try {
    transcript = await api(`/media/${mediaId}/transcription`);
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
  }
  const items = transcript?.segments || [];
  const empty = document.getElementById("transcript-empty");
  if (!transcript || (!items.length && !transcript.text)) {
    empty.hidden = false;
    return;
  }
  showExports(items.length ? ["vtt", "srt", "txt"] : ["txt"]);
  const language = transcript.language && transcript.language_probability
    ? `${transcript.language} (${Math.round(100 * transcript.language_probability)}%)`
    : transcript.language;
  const facts = [language, transcript.provider, transcript.model].filter(Boolean);
  document.getElementById("transcript-meta").textContent = facts.join(" · ");
  const playable = meta.media_type === "video" || meta.media_type === "audio";
  if (!items.length) {
    transcriptList.replaceChildren(el("li", {}, el("p", {}, transcript.text)));
    return;
  }
  let lastSpeaker = null;
  segments = toLines(items).map((s, i) => {
    const speaker = s.speaker && s.speaker !== lastSpeaker ? s.speaker : null;
    lastSpeaker = s.speaker || lastSpeaker;
    const node = el(
      "button",
      {
        type: "button",
        class: "segment",
        "data-testid": "segment",
        "data-index": i,
        "data-segment": s.segment,
        "data-start": s.start,
        "data-end": s.end,
        disabled: !playable,
        onclick: () => seek(Number(s.start)),
      },
      el("span", { class: "seg-time" }, clock(s.start)),
      speaker ? el("span", { class: "seg-speaker", "data-testid": "segment-speaker" }, speaker) : null,
      el("span", { class: "seg-text" }, ...markTerms((s.text || "").trim(), queryTerms(query))),
    );
    return { start: Number(s.start), end: Number(s.end), node };
  });
  transcriptList.replaceChildren(...segments.map((s) => el("li", {}, s.node)));
  highlight();
  if (playable && startAt !== null && query) {
    const moment = wordMoment(items, startAt, query);
    if (moment !== null && Number.isFinite(moment)) seek(moment);
  }
}

// ------------------------------------------------------------------ results & overlay

function frameSpace() {
  // The displayed picture's own pixels (the player's natural size).
  const w = player.tagName === "IMG" ? player.naturalWidth : player.videoWidth;
  const h = player.tagName === "IMG" ? player.naturalHeight : player.videoHeight;
  if (!w || !h) return null;
  return { w, h };
}

function frameScale(frame, space) {
  // Boxes are in the pixels of the analysed frame, whose size the result records
  // (width/height); the picture on screen may be larger (the original).
  if (frame.width && frame.height) return frame.width / space.w;
  return Math.max(space.w, space.h) > LEGACY_MAX_SIDE ? LEGACY_MAX_SIDE / Math.max(space.w, space.h) : 1;
}

function nearestFrame(frames, t) {
  // a frame stands for its span (start_s..end_s); older results have no spans
  for (const f of frames) {
    if (f.start_s !== undefined && f.end_s !== undefined && f.start_s <= t && t < f.end_s) return f;
  }
  let best = null;
  for (const f of frames) {
    if (!best || Math.abs(f.timestamp_s - t) < Math.abs(best.timestamp_s - t)) best = f;
  }
  return best;
}

function draw() {
  if (!canvas || !player) return;
  const space = frameSpace();
  const cw = player.clientWidth;
  const ch = player.clientHeight;
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(cw * ratio);
  canvas.height = Math.round(ch * ratio);
  canvas.style.width = `${cw}px`;
  canvas.style.height = `${ch}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, cw, ch);
  if (!space || !overlays.length) return;
  // object-fit: contain - the picture may be letterboxed inside the element
  const fit = Math.min(cw / space.w, ch / space.h);
  const ox = (cw - space.w * fit) / 2;
  const oy = (ch - space.h * fit) / 2;
  const t = player.tagName === "IMG" ? 0 : player.currentTime;
  const showFaces = document.getElementById("show-faces").checked;
  const showOcr = document.getElementById("show-ocr").checked;
  const times = new Set();
  ctx.lineWidth = 2;
  ctx.font = "12px system-ui, sans-serif";
  for (const o of overlays) {
    if ((o.kind === "faces" && !showFaces) || (o.kind === "ocr" && !showOcr)) continue;
    const frame = nearestFrame(o.frames, t);
    if (!frame) continue;
    times.add(frame.timestamp_s);
    const k = fit / frameScale(frame, space); // frame pixels -> CSS pixels
    if (o.kind === "faces") {
      ctx.strokeStyle = "#ffb020";
      ctx.fillStyle = "#ffb020";
      for (const b of frame.boxes || []) {
        ctx.strokeRect(ox + b.x * k, oy + b.y * k, b.w * k, b.h * k);
        ctx.fillText("face", ox + b.x * k + 3, oy + b.y * k - 4);
      }
    } else {
      ctx.strokeStyle = "#20c0ff";
      ctx.fillStyle = "#20c0ff";
      for (const line of frame.lines || []) {
        const pts = line.box || [];
        if (pts.length < 3) continue;
        ctx.beginPath();
        pts.forEach(([x, y], i) => (i ? ctx.lineTo(ox + x * k, oy + y * k) : ctx.moveTo(ox + x * k, oy + y * k)));
        ctx.closePath();
        ctx.stroke();
        const maxY = Math.max(...pts.map((p) => p[1]));
        ctx.fillText(line.text, ox + pts[0][0] * k, oy + maxY * k + 13);
      }
    }
  }
  const label = document.getElementById("overlay-frame");
  label.textContent =
    player.tagName === "IMG" || !times.size ? "" : `boxes of the frame at ${[...times].map((x) => clock(x, 1)).join(", ")}`;
}

function seekButton(seconds, text) {
  return el("button", { type: "button", class: "chip", onclick: () => seek(seconds) }, text);
}

function summary(result, playable) {
  const r = result.result || {};
  const parts = [];
  if (result.analysis_type === "ocr") {
    if (r.text) parts.push(el("pre", { class: "ocr-text", "data-testid": "ocr-text" }, r.text));
    const withText = (r.frames || []).filter((f) => (f.lines || []).length);
    if (playable && withText.length) {
      parts.push(el("div", { class: "chips" }, "Text at ", ...withText.map((f) => seekButton(f.timestamp_s, clock(f.timestamp_s, 1)))));
    }
    if (!r.text) parts.push(el("p", { class: "muted" }, "No text found."));
  } else if (result.analysis_type === "faces") {
    const withFaces = (r.frames || []).filter((f) => (f.boxes || []).length);
    parts.push(el("p", {}, `Up to ${r.count ?? 0} face(s) in one frame; faces in ${withFaces.length} of ${(r.frames || []).length} frame(s).`));
    if (playable && withFaces.length) {
      parts.push(el("div", { class: "chips" }, "Faces at ", ...withFaces.map((f) => seekButton(f.timestamp_s, `${clock(f.timestamp_s, 1)} (${f.boxes.length})`))));
    }
  } else if (result.analysis_type === "scenes") {
    const scenes = r.scenes || [];
    parts.push(el("p", {}, `${scenes.length} scene(s)`));
    if (playable && scenes.length) {
      parts.push(el("div", { class: "chips" }, "Scenes at ", ...scenes.map((sc) => seekButton(sc.start_s, clock(sc.start_s, 1)))));
    }
  } else if (result.analysis_type === "moderation") {
    const score = Number(r.max_nsfw_score);
    const text = Number.isFinite(score) ? `highest NSFW score ${score.toFixed(3)} (threshold ${r.threshold})` : "no score";
    parts.push(el("p", {}, text, " · ", el("strong", {}, r.flagged ? "flagged" : "not flagged")));
  } else if (result.analysis_type === "audio_levels") {
    const pct = (x) => (x === null || x === undefined ? "–" : `${Math.round(Number(x) * 100)} %`);
    const db = (x, unit) => (x === null || x === undefined ? "–" : `${Number(x).toFixed(1)} ${unit}`);
    parts.push(
      el("p", {}, `loudness ${db(r.integrated_lufs, "LUFS")} · peak ${db(r.peak_dbfs, "dBFS")} · speech ${pct(r.speech_ratio)} · silence ${pct(r.silence_ratio)}`),
    );
  } else if (result.analysis_type === "colors") {
    const colors = (r.colors || []).filter((c) => /^#[0-9a-f]{6}$/i.test(String(c.hex)));
    parts.push(
      el(
        "div",
        { class: "chips" },
        ...colors.map((c) =>
          el("span", { class: "swatch-chip" }, el("span", { class: "swatch", style: { backgroundColor: c.hex } }), `${c.hex} ${Math.round(c.proportion * 100)} %`),
        ),
      ),
    );
  } else if (result.analysis_type === "perceptual_hash") {
    parts.push(el("p", { class: "small" }, "phash ", el("code", {}, r.phash || "–"), " · dhash ", el("code", {}, r.dhash || "–")));
  }
  parts.push(el("details", {}, el("summary", {}, "Raw result"), el("pre", { class: "json" }, JSON.stringify(r, null, 2))));
  return parts;
}

async function loadResults(meta) {
  const page = await api(`/media/${mediaId}/results`);
  const items = page.items || [];
  const container = document.getElementById("results");
  document.getElementById("results-empty").hidden = items.length > 0;
  const groups = new Map();
  for (const item of items) {
    if (!groups.has(item.analysis_type)) groups.set(item.analysis_type, []);
    groups.get(item.analysis_type).push(item);
  }
  const playable = meta.media_type === "video";
  overlays = [];
  const sections = [];
  for (const [type, list] of groups) {
    sections.push(
      el(
        "section",
        { class: "result-group", "data-testid": "result-group", "data-type": type },
        el("h3", {}, typeTitle(type), el("span", { class: "muted small" }, ` (${list.length})`)),
        ...list.map((item) =>
          el(
            "article",
            { class: "result", "data-testid": "result", "data-provider": item.provider },
            el(
              "p",
              { class: "result-head" },
              el("strong", {}, item.provider),
              el("span", { class: "muted small" }, [item.model, item.model_version].filter(Boolean).join(" · ")),
              item.confidence !== null && item.confidence !== undefined
                ? el("span", { class: "small" }, `confidence ${Number(item.confidence).toFixed(3)}`)
                : null,
            ),
            ...summary(item, playable),
          ),
        ),
      ),
    );
    for (const item of list) {
      const frames = item.result?.frames;
      if ((type === "faces" || type === "ocr") && Array.isArray(frames) && frames.length) {
        overlays.push({ kind: type, frames });
      }
    }
  }
  container.replaceChildren(...sections);
  document.getElementById("overlay-controls").hidden = !overlays.length || !canvas;
  draw();
}

// ------------------------------------------------------------------ shots and timeline

const TIMELINE_ROWS = [
  ["text", "On-screen text"],
  ["faces", "Faces"],
  ["moderation", "Moderation"],
  ["colors", "Colours"],
  ["audio", "Audio"],
];

const AUDIO_COLOURS = { speech: "#4a78c8", singing: "#9b59b6", music: "#e08a2c", silence: "#cfcfcf", other: "#8a8a8a" };

function moderationColour(score) {
  const red = Math.round(80 + 175 * Math.min(1, Math.max(0, score)));
  return `rgb(${red}, 90, 90)`;
}

async function loadTimeline(meta) {
  if (meta.media_type !== "video" && meta.media_type !== "audio") return;
  const [shots, timeline] = await Promise.all([
    api(`/media/${mediaId}/keyframes`),
    api(`/media/${mediaId}/timeline`),
  ]);
  const events = timeline.items || [];
  if (!shots.items.length && !events.length) return;
  document.getElementById("visual").hidden = false;
  const duration = Math.max(meta.duration_s || 0, ...events.map((e) => e.end_s)) || 1;
  document.getElementById("shots").replaceChildren(
    ...shots.items.map((shot) =>
      el(
        "button",
        {
          type: "button", class: "shot", "data-testid": "shot", "data-start": shot.start_s,
          title: `shot ${shot.shot + 1}: ${clock(shot.start_s, 1)} – ${clock(shot.end_s, 1)}`,
          onclick: () => seek(Number(shot.start_s)),
        },
        el("img", { src: shot.url, alt: `shot ${shot.shot + 1}`, loading: "lazy", width: 120 }),
        el("span", { class: "small muted" }, clock(shot.start_s, 1)),
      ),
    ),
  );
  const rows = TIMELINE_ROWS.map(([type, title]) => {
    const items = events.filter((e) => e.type === type);
    if (!items.length) return null;
    return el(
      "div",
      { class: "vrow", "data-testid": "timeline-track", "data-type": type },
      el("span", { class: "vrow-title small" }, title),
      el(
        "div",
        { class: "vtrack" },
        ...items.map((e) => {
          const style = {
            left: `${(100 * e.start_s) / duration}%`,
            width: `${Math.max(0.4, (100 * (e.end_s - e.start_s)) / duration)}%`,
          };
          if (type === "moderation") style.background = moderationColour(Number(e.value));
          if (type === "colors" && Array.isArray(e.value)) style.background = e.value[0];
          if (type === "audio") style.background = AUDIO_COLOURS[e.value] || "#999";
          return el("button", {
            type: "button", class: `vevent vevent-${type}`, "data-testid": "timeline-event",
            "data-start": e.start_s, "data-end": e.end_s, title: `${clock(e.start_s, 1)} ${e.label}`,
            style, onclick: () => seek(Number(e.start_s)),
          });
        }),
      ),
    );
  });
  const texts = events.filter((e) => e.type === "text");
  document.getElementById("visual-timeline").replaceChildren(
    ...rows.filter(Boolean),
    texts.length
      ? el(
          "ol",
          { class: "text-events", "data-testid": "text-events" },
          ...texts.map((e) =>
            el("li", {}, seekButton(e.start_s, clock(e.start_s, 1)), el("span", { class: "small" }, ` ${e.label}`)),
          ),
        )
      : null,
  );
}

// ------------------------------------------------------------------ log, exports, meta

async function loadLog(meta) {
  if (!meta.job_id) return;
  const rows = [];
  let after = 0;
  for (let i = 0; i < 100; i += 1) {
    const page = await api(`/jobs/${meta.job_id}/log?after=${after}&limit=1000`);
    rows.push(...(page.items || []).filter((r) => r.media_file_id === mediaId || !r.media_file_id));
    if (page.next_after === null || page.next_after === undefined) break;
    after = page.next_after;
  }
  const n = renderTimeline(document.getElementById("timeline"), rows);
  document.getElementById("timeline-empty").hidden = n > 0;
}

function showMeta(meta) {
  document.getElementById("media-name").textContent = meta.original_name || mediaId;
  document.title = `${meta.original_name || "Media"} · mediaflow`;
  const status = document.getElementById("media-status");
  status.replaceWith(Object.assign(badge(meta.status || "unknown"), { id: "media-status" }));
  const facts = [meta.media_type, meta.mime_type];
  if (meta.width && meta.height) facts.push(`${meta.width}×${meta.height}`);
  if (meta.duration_s) facts.push(clock(meta.duration_s, 1));
  if (meta.size_bytes) facts.push(bytes(meta.size_bytes));
  document.getElementById("media-meta").textContent = facts.filter(Boolean).join(" · ");
  // the failure reason (or a provider's), and damage met while decoding, in words
  const problems = document.getElementById("media-problems");
  const lines = [];
  if (meta.error) lines.push(el("p", { class: "failure", "data-testid": "media-error" }, meta.status === "failed" ? `Failed: ${meta.error}` : meta.error));
  for (const stream of meta.streams || []) {
    const d = stream.damage;
    if (d && d.bad_packets) {
      lines.push(el("p", { class: "muted", "data-testid": "media-warning" }, `Warning: ${d.bad_packets} of ${d.packets} ${stream.codec} ${stream.type} packets could not be decoded; the rest was analyzed.`));
    }
  }
  problems.replaceChildren(...lines);
  problems.hidden = lines.length === 0;
  const jobLink = document.getElementById("media-job-link");
  if (meta.job_id) jobLink.href = `${PREFIX}/jobs/${meta.job_id}`;
  showExports([]);
  document.getElementById("show-faces").addEventListener("change", draw);
  document.getElementById("show-ocr").addEventListener("change", draw);
}

// Only exports that exist: JSON always; VTT and SRT with timed segments, TXT with text.
function showExports(formats) {
  const exports = document.getElementById("exports");
  exports.replaceChildren(
    el("span", { class: "muted small" }, "Export: "),
    ...[...formats, "json"].map((f) =>
      el("a", { href: `/media/${mediaId}/export?format=${f}`, download: true, class: "chip", "data-testid": `export-${f}` }, f.toUpperCase()),
    ),
  );
}

async function watchUntilDone(meta) {
  // Still processing: look again every 3 s and reload the page's data once it is done.
  let status = meta.status;
  while (status && !FINAL.has(status)) {
    await new Promise((r) => setTimeout(r, 3000));
    status = (await api(`/media/${mediaId}`)).status;
  }
  if (status !== meta.status) location.reload();
}

(async () => {
  let meta;
  try {
    meta = await api(`/media/${mediaId}`); // a 401 opens the login form before anything else
  } catch (err) {
    notice(`Could not load the media file: ${err.message}`);
    return;
  }
  showMeta(meta);
  buildPlayer(meta);
  const parts = [loadTranscript(meta), loadResults(meta), loadLog(meta), loadTimeline(meta)];
  const failures = (await Promise.allSettled(parts)).filter((p) => p.status === "rejected");
  if (failures.length) notice(failures.map((f) => f.reason.message).join("; "));
  watchUntilDone(meta).catch(() => {});
})();
