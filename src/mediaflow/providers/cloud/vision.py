"""Vision answers of any vendor, as the analysis types the local providers write.

Each cloud vision provider reduces one frame's answer to a ``FrameAnswer.answer`` with
some of these keys (pixel boxes in the frame's own size, confidences in 0..1):

- ``labels``: ``[{"name", "confidence"}]``           -> analysis type ``labels``
- ``lines``: ``[{"text", "confidence", "box"}]``      -> ``ocr`` (as rapidocr's; a
  ``{x, y, w, h}`` box becomes its four corners)
- ``faces``: ``[{"x", "y", "w", "h", "confidence"}]`` -> ``faces`` (as the local one's)
- ``moderation``: ``{"flagged", "categories"}``        -> ``moderation``
- ``caption``: ``"..."``                               -> ``caption``
- ``people``: boxes like faces                         -> ``people`` (its own type:
  whole persons, not faces)

``combine`` builds one output per type the provider declares, with a ``frames`` list
(each frame's place in time, as the local providers record it) so that search,
exports and the timeline treat cloud and local results alike.
"""

from __future__ import annotations

from typing import Any

from mediaflow.errors import ProviderError
from mediaflow.providers.base import AnalysisOutput
from mediaflow.providers.cloud.base import FrameAnswer, frame_entry

__all__ = ["FRAME_SCHEMA", "combine", "validate_frame_json"]

# What vision chat models are asked to answer for one frame (OpenAI structured
# outputs / Anthropic tool input); the answer is checked against it here as well.
FRAME_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "description": {"type": "string", "description": "One sentence describing the image."},
        "labels": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Up to 10 short lower-case labels of what the image shows.",
        },
    },
    "required": ["description", "labels"],
    "additionalProperties": False,
}

PROMPT = (
    "Describe this video frame for a media archive. Answer with one sentence of "
    "description and up to 10 short lower-case labels of the things, places and "
    "activities it shows."
)


def validate_frame_json(value: Any, vendor: str) -> dict[str, Any]:
    """``value`` if it matches ``FRAME_SCHEMA``; else a ProviderError saying why."""
    if not isinstance(value, dict):
        raise ProviderError(f"{vendor}: malformed answer (not a JSON object): {value!r:.100}")
    extra = set(value) - set(FRAME_SCHEMA["properties"])
    problems = [f"unexpected field {name!r}" for name in sorted(extra)]
    if not isinstance(value.get("description"), str):
        problems.append("'description' is not a string")
    labels = value.get("labels")
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        problems.append("'labels' is not a list of strings")
    if problems:
        raise ProviderError(f"{vendor}: malformed answer (schema): {'; '.join(problems)}")
    return {
        "description": value["description"].strip(),
        "labels": [x.strip().lower() for x in labels or [] if x.strip()][:10],
    }


def _corners(box: Any) -> list[list[int]]:
    """An ``{x, y, w, h}`` box as the four corners the local OCR provider records."""
    if not isinstance(box, dict):
        return box if isinstance(box, list) else []
    x, y, w, h = (int(box.get(k, 0)) for k in ("x", "y", "w", "h"))
    return [[x, y], [x + w, y], [x + w, y + h], [x, y + h]]


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def combine(
    answers: list[FrameAnswer], types: tuple[str, ...], *, model: str, version: str | None = None
) -> list[AnalysisOutput]:
    """The outputs of ``types`` from every frame's reduced answer (see module doc)."""
    outputs: list[AnalysisOutput] = []

    def add(kind: str, result: dict[str, Any], confidence: float | None) -> None:
        outputs.append(AnalysisOutput(kind, result, model, version, confidence))

    if "labels" in types:
        merged: dict[str, dict[str, Any]] = {}
        frames = []
        for item in answers:
            names = []
            for label in item.answer.get("labels") or []:
                name = str(label["name"]).strip()
                if not name:
                    continue
                names.append(name)
                entry = merged.setdefault(
                    name.lower(), {"name": name, "confidence": 0.0, "frames": 0}
                )
                entry["confidence"] = max(
                    entry["confidence"], round(float(label.get("confidence") or 0), 4)
                )
                entry["frames"] += 1
            frames.append({**frame_entry(item.frame), "labels": names})
        labels = sorted(merged.values(), key=lambda e: (-e["frames"], -e["confidence"]))
        add(
            "labels",
            {"labels": labels, "frames": frames},
            max((e["confidence"] for e in labels), default=None),
        )
    if "ocr" in types:
        frames = []
        unique: dict[str, None] = {}  # an ordered set
        words: set[str] = set()
        confidences: list[float] = []
        for item in answers:
            # boxes as rapidocr writes them: four [x, y] corners, clockwise from top-left
            lines = [{**line, "box": _corners(line.get("box"))}
                     for line in item.answer.get("lines") or []]  # fmt: skip
            for line in lines:
                unique.setdefault(line["text"], None)
                words.update(w.lower() for w in str(line["text"]).split())
                if line.get("confidence") is not None:
                    confidences.append(float(line["confidence"]))
            frames.append({**frame_entry(item.frame), "lines": lines})
        add(
            "ocr",
            {"frames": frames, "text": "\n".join(unique), "words": sorted(words)},
            _mean(confidences),
        )
    for kind in ("faces", "people"):
        if kind in types:
            frames = [{**frame_entry(i.frame), "boxes": i.answer.get(kind) or []} for i in answers]
            scores = [
                float(b["confidence"])
                for f in frames
                for b in f["boxes"]
                if b.get("confidence") is not None
            ]
            add(
                kind,
                {"frames": frames, "count": max((len(f["boxes"]) for f in frames), default=0)},
                _mean(scores),
            )
    if "moderation" in types:
        frames = [{**frame_entry(i.frame), **(i.answer.get("moderation") or {})} for i in answers]
        flagged = any(f.get("flagged") for f in frames)
        add("moderation", {"frames": frames, "flagged": flagged}, None)
    if "caption" in types:
        captions = [
            {**frame_entry(i.frame), "text": i.answer["caption"]}
            for i in answers
            if i.answer.get("caption")
        ]
        add("caption", {"caption": captions, "text": captions[0]["text"] if captions else ""}, None)
    return outputs
