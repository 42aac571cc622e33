"""Subtitle formats of a transcript: WebVTT and SubRip (``services.media.export`` picks).

A segment with a ``speaker`` carries it: WebVTT as a voice span (``<v Speaker 1>``),
SubRip as a ``Speaker 1: `` prefix (SubRip has no voice markup).
"""

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


def _voice(speaker: object) -> str:
    """A speaker's name as a WebVTT voice annotation allows it (no ``>``, entities escaped)."""
    text = " ".join(str(speaker).split()).replace("&", "&amp;").replace("<", "&lt;")
    return text.replace(">", "&gt;")


def _vtt_text(segment: dict[str, Any]) -> str:
    text = segment["text"].strip()
    speaker = segment.get("speaker")
    return f"<v {_voice(speaker)}>{text}" if speaker else text


def _srt_text(segment: dict[str, Any]) -> str:
    text = segment["text"].strip()
    speaker = segment.get("speaker")
    return f"{' '.join(str(speaker).split())}: {text}" if speaker else text


def to_vtt(segments: list[dict[str, Any]]) -> str:
    """WebVTT cues, one per segment (a voice span where the segment has a speaker)."""
    cues = [
        f"{_timestamp(s['start'], '.')} --> {_timestamp(s['end'], '.')}\n{_vtt_text(s)}"
        for s in segments
        if s.get("text", "").strip()
    ]
    return "WEBVTT\n\n" + "\n\n".join(cues) + ("\n" if cues else "")


def to_srt(segments: list[dict[str, Any]]) -> str:
    """SubRip cues, numbered from 1 (``Speaker: `` before the text where there is one)."""
    spoken = [s for s in segments if s.get("text", "").strip()]
    blocks = [
        f"{i}\n{_timestamp(s['start'], ',')} --> {_timestamp(s['end'], ',')}\n{_srt_text(s)}"
        for i, s in enumerate(spoken, start=1)
    ]
    return "\n\n".join(blocks) + ("\n" if blocks else "")
