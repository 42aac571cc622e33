"""Subtitle formats of a transcript: WebVTT and SubRip (``services.media.export`` picks)."""

from __future__ import annotations

from typing import Any, Literal

__all__ = ["FORMATS", "ExportFormat", "to_srt", "to_vtt"]

ExportFormat = Literal["json", "vtt", "srt", "txt"]
FORMATS: tuple[ExportFormat, ...] = ("json", "vtt", "srt", "txt")


def _timestamp(seconds: float, separator: str) -> str:
    millis = round(max(seconds, 0.0) * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def to_vtt(segments: list[dict[str, Any]]) -> str:
    """WebVTT cues, one per segment."""
    cues = [
        f"{_timestamp(s['start'], '.')} --> {_timestamp(s['end'], '.')}\n{s['text'].strip()}"
        for s in segments
        if s.get("text", "").strip()
    ]
    return "WEBVTT\n\n" + "\n\n".join(cues) + ("\n" if cues else "")


def to_srt(segments: list[dict[str, Any]]) -> str:
    """SubRip cues, numbered from 1."""
    spoken = [s for s in segments if s.get("text", "").strip()]
    blocks = [
        f"{i}\n{_timestamp(s['start'], ',')} --> {_timestamp(s['end'], ',')}\n{s['text'].strip()}"
        for i, s in enumerate(spoken, start=1)
    ]
    return "\n\n".join(blocks) + ("\n" if blocks else "")
