"""Exports of one media file's results: JSON, WebVTT, SRT and plain text."""

from __future__ import annotations

import json
import uuid
from typing import Any, Literal

import sqlalchemy as sa

from mediaflow.db.models import AnalysisResult, MediaFile, Transcription
from mediaflow.db.session import session_scope
from mediaflow.errors import InvalidInput, NotFound

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


def media_document(media_file_id: uuid.UUID, url: str | None = None) -> dict[str, Any]:
    """Everything known about one media file, active results only, as JSON-ready data."""
    with session_scope(url) as session:
        media = session.get(MediaFile, media_file_id)
        if media is None:
            raise NotFound(f"media file {media_file_id} does not exist")
        transcripts = session.scalars(
            sa.select(Transcription)
            .where(Transcription.media_file_id == media_file_id, Transcription.is_active)
            .order_by(Transcription.created_at)
        ).all()
        results = session.scalars(
            sa.select(AnalysisResult)
            .where(AnalysisResult.media_file_id == media_file_id, AnalysisResult.is_active)
            .order_by(AnalysisResult.analysis_type, AnalysisResult.provider)
        ).all()
        return {
            "media_file": {
                "id": str(media.id), "job_id": str(media.job_id),
                "original_name": media.original_name, "sha256": media.sha256,
                "size_bytes": media.size_bytes, "mime_type": media.mime_type,
                "media_type": media.media_type, "file_type": media.file_type,
                "status": media.status, "error": media.error, "duration_s": media.duration_s,
                "width": media.width, "height": media.height, "fps": media.fps,
                "sample_rate": media.sample_rate, "channels": media.channels,
                "bit_rate": media.bit_rate, "codecs": media.codecs, "streams": media.streams,
            },
            "transcriptions": [
                {
                    "provider": t.provider, "model": t.model, "language": t.language,
                    "text": t.text, "confidence": t.confidence, "segments": t.segments,
                    "latency_ms": t.latency_ms, "created_at": t.created_at.isoformat(),
                }
                for t in transcripts
            ],
            "results": [
                {
                    "provider": r.provider, "analysis_type": r.analysis_type, "model": r.model,
                    "model_version": r.model_version, "confidence": r.confidence,
                    "result": r.result, "latency_ms": r.latency_ms,
                    "created_at": r.created_at.isoformat(),
                }
                for r in results
            ],
        }  # fmt: skip


def export(media_file_id: uuid.UUID, fmt: str, url: str | None = None) -> str:
    """One media file's results in ``fmt`` (json, vtt, srt, txt)."""
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown export format {fmt!r}", hint=f"one of {', '.join(FORMATS)}")
    document = media_document(media_file_id, url)
    if fmt == "json":
        return json.dumps(document, indent=2, default=str) + "\n"
    transcripts = document["transcriptions"]
    if not transcripts:
        raise NotFound(f"media file {media_file_id} has no transcription to export as {fmt}")
    segments = transcripts[0]["segments"]
    if fmt == "vtt":
        return to_vtt(segments)
    if fmt == "srt":
        return to_srt(segments)
    return str(transcripts[0]["text"]).strip() + "\n"
