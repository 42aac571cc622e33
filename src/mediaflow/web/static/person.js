// One person: face crops, name and merge forms, every appearance (opens the media page
// at its moment).
import { api, clock, el, notice } from "./api.js";

const PREFIX = "/ui";
const personId = document.getElementById("person").dataset.personId;
const title = document.getElementById("person-title");
const summary = document.getElementById("person-summary");
const nameInput = document.getElementById("person-name");
const status = document.getElementById("person-status");
const faces = document.getElementById("person-faces");
const appearances = document.getElementById("person-appearances");

const jsonBody = (method, body) => ({
  method,
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify(body),
});

function faceItem(face) {
  if (!face.has_crop) return null;
  return el(
    "li",
    {},
    el(
      "a",
      { href: `${PREFIX}/media/${face.media_file_id}?t=${face.timestamp_s}` },
      el("img", { src: `/people/faces/${face.id}/crop`, alt: `face at ${clock(face.timestamp_s, 1)}`, width: 96, height: 96, loading: "lazy", "data-testid": "face-crop" }),
    ),
  );
}

function appearanceItem(seen) {
  const span = seen.end_s > seen.start_s ? `${clock(seen.start_s, 1)}–${clock(seen.end_s, 1)}` : clock(seen.start_s, 1);
  return el(
    "li",
    { "data-testid": "appearance" },
    el("a", { href: `${PREFIX}/media/${seen.media_file_id}?t=${seen.start_s}` }, seen.original_name),
    ` ${span} (${seen.faces} ${seen.faces === 1 ? "face" : "faces"})`,
  );
}

async function load() {
  try {
    const person = await api(`/people/${personId}`);
    title.textContent = person.label;
    document.title = `${person.label} · mediaflow`;
    summary.textContent = `${person.face_count} faces in ${person.media_count} files`;
    nameInput.value = person.name || "";
    faces.replaceChildren(...person.faces.map(faceItem).filter(Boolean));
    appearances.replaceChildren(...person.appearances.map(appearanceItem));
  } catch (error) {
    notice(error.message);
  }
}

document.getElementById("person-name-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await api(`/people/${personId}`, jsonBody("PATCH", { name: nameInput.value }));
    status.textContent = "Saved.";
    await load();
  } catch (error) {
    notice(error.message);
  }
});

document.getElementById("person-merge-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const other = document.getElementById("person-merge-other");
  try {
    await api(`/people/${personId}/merge`, jsonBody("POST", { other: other.value }));
    other.value = "";
    status.textContent = "Merged.";
    await load();
  } catch (error) {
    notice(error.message);
  }
});

load();
