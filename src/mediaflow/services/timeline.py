"""A media file's results as one timeline: shots, on-screen text, faces, moderation, and
audio events (speech, singing, music, silence).

Visual providers give one entry per analysed frame, and each frame stands for a span
of the video (``start_s``/``end_s``, see ``media.frames``). Laid side by side and in
time order, they say what is on screen when: the media page draws them under the
player, and the JSON export carries them. Pure functions over stored results.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mediaflow.services.schemas import KeyframeOut, TimelineEvent

__all__ = ["build_timeline"]

# one result type -> how its frames become events
_FACES_LABEL = "{n} face(s)"


def _span(entry: Mapping[str, Any]) -> tuple[float, float] | None:
    start, end = entry.get("start_s"), entry.get("end_s")
    if isinstance(start, int | float) and isinstance(end, int | float):
        return float(start), float(end)
    return None


def _runs(
    entries: Iterable[Mapping[str, Any]], key: Any
) -> Iterable[tuple[float, float, Any, Mapping[str, Any]]]:
    """Consecutive frames with the same ``key(entry)`` merged into one span."""
    run: list[Any] | None = None
    for entry in entries:
        span = _span(entry)
        if span is None:
            continue
        value = key(entry)
        if run is not None and run[2] == value and abs(run[1] - span[0]) < 1e-6:
            run[1] = span[1]
            continue
        if run is not None:
            yield run[0], run[1], run[2], run[3]
        run = [span[0], span[1], value, entry]
    if run is not None:
        yield run[0], run[1], run[2], run[3]


def _text(entry: Mapping[str, Any]) -> str:
    lines = entry.get("lines") or []
    return " / ".join(str(line.get("text", "")).strip() for line in lines if line.get("text"))


def _events(provider: str, analysis_type: str, result: Mapping[str, Any]) -> list[TimelineEvent]:
    frames = [f for f in result.get("frames") or [] if isinstance(f, Mapping)]
    events: list[TimelineEvent] = []
    if analysis_type == "ocr":
        for start, end, text, _ in _runs(frames, _text):
            if text:
                events.append(TimelineEvent(type="text", start_s=start, end_s=end,
                                            provider=provider, label=text))  # fmt: skip
    elif analysis_type == "faces":
        for start, end, count, _ in _runs(frames, lambda f: len(f.get("boxes") or [])):
            if count:
                events.append(TimelineEvent(type="faces", start_s=start, end_s=end,
                                            provider=provider, label=_FACES_LABEL.format(n=count),
                                            value=count))  # fmt: skip
    elif analysis_type == "moderation":
        for entry in frames:
            span = _span(entry)
            score = entry.get("nsfw_score")
            if span is not None and isinstance(score, int | float):
                events.append(TimelineEvent(type="moderation", start_s=span[0], end_s=span[1],
                                            provider=provider, label=f"nsfw {score:.2f}",
                                            value=score))  # fmt: skip
    elif analysis_type == "colors":
        for entry in frames:
            span = _span(entry)
            colors = [
                str(c.get("hex")) for c in entry.get("colors") or [] if isinstance(c, Mapping)
            ]
            if span is not None and colors:
                events.append(TimelineEvent(type="colors", start_s=span[0], end_s=span[1],
                                            provider=provider, label=" ".join(colors),
                                            value=colors))  # fmt: skip
    elif analysis_type == "audio_events":  # speech / singing / music / silence
        for event in result.get("events") or []:
            if isinstance(event, Mapping) and event.get("label"):
                events.append(TimelineEvent(type="audio", start_s=float(event["start_s"]),
                                            end_s=float(event["end_s"]), provider=provider,
                                            label=str(event["label"]),
                                            value=str(event["label"])))  # fmt: skip
    return events


def build_timeline(
    results: Iterable[tuple[str, str, Mapping[str, Any]]], keyframes: Iterable[KeyframeOut]
) -> list[TimelineEvent]:
    """Shots and every visual result's per-frame spans, in time order."""
    events = [
        TimelineEvent(
            type="shot",
            start_s=k.start_s,
            end_s=k.end_s,
            provider=None,
            label=f"shot {k.shot + 1}",
            value={"shot": k.shot, "url": k.url},
        )
        for k in keyframes
    ]
    for provider, analysis_type, result in results:
        events += _events(provider, analysis_type, result)
    order = {"shot": 0, "text": 1, "faces": 2, "moderation": 3, "colors": 4, "audio": 5}
    return sorted(events, key=lambda e: (e.start_s, order.get(e.type, 9), e.end_s))
