// The media page's "People and speakers" card: the people whose faces are in this file
// (each opens its person page) and the speakers of its transcript, renamable here.
import { api, el, notice } from "./api.js";

const PREFIX = "/ui";
const mediaId = document.getElementById("media").dataset.mediaId;
const card = document.getElementById("who");
const peopleList = document.getElementById("media-people");
const speakerList = document.getElementById("media-speakers");

function personItem(person) {
  const face = person.cover_face_id
    ? el("img", { src: `/people/faces/${person.cover_face_id}/crop`, alt: `face of ${person.label}`, width: 64, height: 64, loading: "lazy" })
    : null;
  return el("li", { class: "person" }, el("a", { href: `${PREFIX}/people/${person.id}` }, face, el("span", {}, person.label)));
}

function speakerItem(speaker) {
  const input = el("input", { type: "text", value: speaker.name, maxlength: 100, "aria-label": `new name for ${speaker.name}`, "data-testid": "speaker-name" });
  const form = el(
    "form",
    { class: "inline-form", "data-testid": "speaker-rename" },
    input,
    el("button", { type: "submit", class: "secondary" }, "Rename"),
    el("span", { class: "muted small" }, ` ${speaker.segments} segments · ${speaker.seconds.toFixed(1)} s`),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api(`/media/${mediaId}/speakers/${encodeURIComponent(speaker.name)}`, {
        method: "PATCH",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name: input.value }),
      });
      location.reload(); // the transcript and exports show the new name
    } catch (error) {
      notice(error.message);
    }
  });
  return el("li", { "data-testid": "speaker" }, form);
}

(async () => {
  try {
    const [people, speakers] = await Promise.all([
      api(`/people?media_id=${mediaId}`),
      api(`/media/${mediaId}/speakers`),
    ]);
    peopleList.replaceChildren(...people.items.map(personItem));
    speakerList.replaceChildren(...speakers.items.map(speakerItem));
    card.hidden = !people.items.length && !speakers.items.length;
  } catch (error) {
    if (error.status !== 404) notice(error.message);
  }
})();
