// People: GET /people lists them with a cover face; each opens its person page.
import { api, el, notice } from "./api.js";

const PREFIX = "/ui";
const list = document.getElementById("people");
const status = document.getElementById("people-status");

function personItem(person) {
  const cover = person.cover_face_id
    ? el("img", { src: `/people/faces/${person.cover_face_id}/crop`, alt: `face of ${person.label}`, width: 96, height: 96, loading: "lazy" })
    : el("span", { class: "face-placeholder" }, "?");
  return el(
    "li",
    { class: "person", "data-testid": "person-item" },
    el("a", { href: `${PREFIX}/people/${person.id}` }, cover, el("span", { class: "person-label" }, person.label)),
    el("span", { class: "muted" }, ` ${person.face_count} faces · ${person.media_count} files`),
  );
}

async function load() {
  try {
    const body = await api("/people");
    list.replaceChildren(...body.items.map(personItem));
    status.textContent = body.items.length ? "" : "No faces found yet.";
  } catch (error) {
    notice(error.message);
  }
}

document.getElementById("people-recluster").addEventListener("click", async () => {
  status.textContent = "Grouping…";
  try {
    const report = await api("/people/recluster", { method: "POST" });
    status.textContent = `${report.faces} faces in ${report.people} people; ${report.moved} moved.`;
    await load();
  } catch (error) {
    notice(error.message);
  }
});

load();
