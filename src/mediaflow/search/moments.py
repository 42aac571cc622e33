"""Searchable moments from what the pipeline stored: pure functions, no database.

A moment is one thing a person could be looking for, at one place in one file:

- ``speech``: one transcript segment (start/end, speaker when known);
- ``text``: text on screen, one block per run of frames showing the same text (the
  span from the first of those frames to the last), or the text of an image;
- ``label``: a label a provider gave (``labels``, ``tags``, ``objects``, ``caption``,
  ``description``, ``audio_events`` results: whatever names what is seen or heard).

``moments_of_transcript`` and ``moments_of_result`` are the only places that know the
shape of stored results; the index writes what they return.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "LABEL_TYPES",
    "MomentKind",
    "MomentText",
    "moments_of_result",
    "moments_of_transcript",
]

MomentKind = Literal["speech", "text", "label"]
# analysis types whose results name what is seen or heard, one label per entry
LABEL_TYPES = frozenset(
    {"labels", "tags", "objects", "caption", "captions", "description", "audio_events"}
)
# Longest text one moment holds: a page of OCR is split, not indexed as one blob.
MAX_CHARS = 4000


@dataclass(frozen=True)
class MomentText:
    """One moment before it is written: what, where in the file, and its text."""

    kind: MomentKind
    position: int  # order within its source (segment index, block index)
    start_s: float | None
    end_s: float | None
    text: str
    speaker: str | None = None


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return round(number, 3) if math.isfinite(number) and number >= 0 else None


def _clean(text: Any) -> str:
    """One line of text: whitespace folded, NULs gone (PostgreSQL text cannot hold them)."""
    if not isinstance(text, str):
        return ""
    return " ".join(text.replace("\x00", " ").split())[:MAX_CHARS]


def _span(start: float | None, end: float | None) -> tuple[float | None, float | None]:
    if start is not None and end is not None and end < start:
        return start, start
    return start, end


def moments_of_transcript(
    segments: Sequence[Any], *, min_confidence: float | None = None
) -> list[MomentText]:
    """One ``speech`` moment per segment with text.

    Segments below ``min_confidence``, or marked ``low_confidence`` when stored (a
    per-provider floor against hallucinated words in noise), are kept in the
    transcript but not indexed.
    """
    moments: list[MomentText] = []
    for position, segment in enumerate(segments):
        if not isinstance(segment, Mapping):
            continue
        text = _clean(segment.get("text"))
        if not text:
            continue
        confidence = segment.get("confidence")
        if segment.get("low_confidence") is True:
            continue
        if (
            min_confidence is not None
            and isinstance(confidence, int | float)
            and confidence < min_confidence
        ):
            continue
        start, end = _span(_seconds(segment.get("start")), _seconds(segment.get("end")))
        speaker = segment.get("speaker")
        moments.append(
            MomentText(
                kind="speech", position=position, start_s=start, end_s=end, text=text,
                speaker=str(speaker) if isinstance(speaker, str | int) and speaker != "" else None,
            )
        )  # fmt: skip
    return moments


def _frame_text(frame: Mapping[str, Any]) -> str:
    lines = frame.get("lines")
    if isinstance(lines, list):
        return _clean(
            " ".join(_clean(line.get("text")) for line in lines if isinstance(line, Mapping))
        )
    return _clean(frame.get("text"))


def _ocr_moments(result: Mapping[str, Any]) -> list[MomentText]:
    """One ``text`` moment per run of consecutive frames showing the same text."""
    frames = [f for f in result.get("frames") or [] if isinstance(f, Mapping)]
    moments: list[MomentText] = []
    run_text, run_start, run_end = "", None, None

    def close() -> None:
        if run_text:
            start, end = _span(run_start, run_end)
            moments.append(MomentText("text", len(moments), start, end, run_text))

    for frame in frames:
        text = _frame_text(frame)
        # a frame's own span (a shot or an interval) when the result gives one
        start = _seconds(frame.get("start_s", frame.get("timestamp_s")))
        end = _seconds(frame.get("end_s", frame.get("timestamp_s")))
        if text and text == run_text:
            run_end = end if end is not None else run_end
            continue
        if start is not None and (run_end is None or start > run_end):
            run_end = start  # the text stayed on screen until this frame changed it
        close()
        run_text, run_start, run_end = text, start, end
    close()
    if not moments and not frames:
        text = _clean(result.get("text"))
        if text:  # a result without frames (a document, a cloud provider): one block
            moments.append(MomentText("text", 0, None, None, text))
    return moments


def _label_names(value: Any) -> Iterable[tuple[str, float | None, float | None]]:
    """(name, start, end) of each entry of a label list, whatever shape the provider gives."""
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, str):
            yield _clean(item), None, None
        elif isinstance(item, Mapping):
            name = next(
                (
                    _clean(item[key])
                    for key in ("name", "label", "text", "description", "caption")
                    if isinstance(item.get(key), str)
                ),
                "",
            )
            start = _seconds(item.get("start_s", item.get("timestamp_s")))
            end = _seconds(item.get("end_s", item.get("timestamp_s")))
            yield name, start, end


def _label_moments(analysis_type: str, result: Mapping[str, Any]) -> list[MomentText]:
    entries: list[tuple[str, float | None, float | None]] = []
    for key in (analysis_type, "labels", "tags", "objects", "events", "segments"):
        if key in result:
            entries = list(_label_names(result[key]))
            break
    else:
        for key in ("caption", "description", "text"):
            if isinstance(result.get(key), str):
                entries = [(_clean(result[key]), None, None)]
                break
    moments: list[MomentText] = []
    for name, start, end in entries:
        if name:
            begin, finish = _span(start, end)
            moments.append(MomentText("label", len(moments), begin, finish, name))
    return moments


def moments_of_result(analysis_type: str, result: Mapping[str, Any]) -> list[MomentText]:
    """The moments one analysis result holds (none for measurements such as colours)."""
    if analysis_type == "ocr":
        return _ocr_moments(result)
    if analysis_type in LABEL_TYPES:
        return _label_moments(analysis_type, result)
    return []
