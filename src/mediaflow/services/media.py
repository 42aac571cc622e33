"""Media files: metadata, the stored original, results, the active transcript, exports,
and reanalysis.

"The active transcript" is chosen here and only here (the oldest active one when
several providers made one), so that ``mediaflow show``, the API, the web page and
every export show the same text.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from mediaflow.db.enums import AnalysisProvider, JobStatus, MediaFileStatus, TranscriptionProvider
from mediaflow.db.models import (
    AnalysisJob,
    AnalysisResult,
    MediaFile,
    MediaKeyframe,
    Transcription,
)
from mediaflow.errors import InvalidInput, NotFound, Refused
from mediaflow.pipeline.records import FileOutcome
from mediaflow.pipeline.runner import finish_job
from mediaflow.pipeline.stages import Pipeline
from mediaflow.runtime import Runtime
from mediaflow.services.export import FORMATS, to_srt, to_vtt
from mediaflow.services.schemas import (
    KeyframeOut,
    MediaOut,
    ResultOut,
    TimelineEvent,
    TranscriptionOut,
)
from mediaflow.services.timeline import build_timeline
from mediaflow.storage import ObjectStore

__all__ = [
    "StoredOriginal",
    "active_transcription",
    "export",
    "get_media",
    "get_transcription",
    "keyframe_image",
    "keyframes",
    "list_results",
    "media_document",
    "original",
    "reanalyze",
    "timeline",
]


def _get(session: Session, media_id: uuid.UUID) -> MediaFile:
    media = session.get(MediaFile, media_id)
    if media is None:
        raise NotFound(f"media file {media_id} does not exist")
    return media


def active_transcription(
    session: Session, media_id: uuid.UUID, provider: TranscriptionProvider | None = None
) -> Transcription | None:
    """The file's active transcript: of ``provider``, else the oldest active one."""
    query = sa.select(Transcription).where(
        Transcription.media_file_id == media_id, Transcription.is_active
    )
    if provider is not None:
        query = query.where(Transcription.provider == provider)
    return session.scalars(
        query.order_by(Transcription.created_at, Transcription.id).limit(1)
    ).first()


def _active_results(session: Session, media_id: uuid.UUID) -> Sequence[AnalysisResult]:
    return session.scalars(
        sa.select(AnalysisResult)
        .where(AnalysisResult.media_file_id == media_id, AnalysisResult.is_active)
        .order_by(AnalysisResult.analysis_type, AnalysisResult.provider)
    ).all()


# -- reads --------------------------------------------------------------------------


def get_media(runtime: Runtime, media_id: uuid.UUID) -> MediaOut:
    """Everything stored about one media file; ``NotFound`` when there is none."""
    with runtime.db.session() as session:
        return MediaOut.model_validate(_get(session, media_id))


def list_results(
    runtime: Runtime,
    media_id: uuid.UUID,
    *,
    analysis_type: str | None = None,
    provider: AnalysisProvider | None = None,
    include_inactive: bool = False,
) -> list[ResultOut]:
    """Results of one media file: active ones unless ``include_inactive``."""
    with runtime.db.session() as session:
        _get(session, media_id)
        query = sa.select(AnalysisResult).where(AnalysisResult.media_file_id == media_id)
        if not include_inactive:
            query = query.where(AnalysisResult.is_active)
        if analysis_type is not None:
            query = query.where(AnalysisResult.analysis_type == analysis_type)
        if provider is not None:
            query = query.where(AnalysisResult.provider == provider)
        query = query.order_by(
            AnalysisResult.analysis_type,
            AnalysisResult.provider,
            AnalysisResult.created_at.desc(),
            AnalysisResult.id,
        )
        return [ResultOut.model_validate(row) for row in session.scalars(query)]


def get_transcription(
    runtime: Runtime, media_id: uuid.UUID, provider: TranscriptionProvider | None = None
) -> TranscriptionOut:
    """The active transcript; ``NotFound`` when the file has none."""
    with runtime.db.session() as session:
        _get(session, media_id)
        row = active_transcription(session, media_id, provider)
        if row is None:
            raise NotFound(f"media file {media_id} has no transcription")
        return TranscriptionOut.model_validate(row)


@dataclass(frozen=True)
class StoredOriginal:
    """Where a media file's original lies (its store and key), and what to serve it as."""

    media: MediaOut
    store: ObjectStore
    key: str
    size_bytes: int
    etag: str

    def read(self, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Stream ``length`` bytes from ``start`` out of the store (a range request on S3)."""
        return self.store.read_range(self.key, start, length)

    def presigned_url(self, expires_s: int, content_type: str | None) -> str | None:
        """A URL the client may fetch the bytes from directly (None: a local store)."""
        return self.store.presigned_url(self.key, expires_s, content_type)


def original(runtime: Runtime, media_id: uuid.UUID) -> StoredOriginal:
    """The stored original of a media file; ``NotFound`` when it has none or it is gone."""
    with runtime.db.session() as session:
        row = _get(session, media_id)
        media, key = MediaOut.model_validate(row), row.storage_key
    if key is None:
        raise NotFound(f"media file {media_id} has no stored original")
    store = runtime.store
    try:
        size = store.size(key)
    except NotFound:
        raise NotFound(f"the stored original of media file {media_id} is missing") from None
    return StoredOriginal(media, store, key, size, f'"{media.sha256 or key}"')


def _keyframes(session: Session, media_id: uuid.UUID) -> list[KeyframeOut]:
    rows = session.scalars(
        sa.select(MediaKeyframe)
        .where(MediaKeyframe.media_file_id == media_id)
        .order_by(MediaKeyframe.shot)
    ).all()
    return [
        KeyframeOut(
            shot=row.shot, start_s=row.start_s, end_s=row.end_s, timestamp_s=row.timestamp_s,
            width=row.width, height=row.height, sharpness=row.sharpness,
            url=f"/media/{media_id}/keyframes/{row.shot}",
        )
        for row in rows
    ]  # fmt: skip


def keyframes(runtime: Runtime, media_id: uuid.UUID) -> list[KeyframeOut]:
    """The shots of a video with their keyframes' thumbnails, in order (none for others)."""
    with runtime.db.session() as session:
        _get(session, media_id)
        return _keyframes(session, media_id)


def keyframe_image(runtime: Runtime, media_id: uuid.UUID, shot: int) -> bytes:
    """The JPEG thumbnail of one shot; ``NotFound`` for an unknown shot or a missing file."""
    with runtime.db.session() as session:
        _get(session, media_id)
        key = session.scalar(
            sa.select(MediaKeyframe.storage_key).where(
                MediaKeyframe.media_file_id == media_id, MediaKeyframe.shot == shot
            )
        )
    if key is None:
        raise NotFound(f"media file {media_id} has no shot {shot}")
    try:
        return runtime.store.read_bytes(key)
    except NotFound:
        raise NotFound(
            f"the thumbnail of shot {shot} of media file {media_id} is missing"
        ) from None


def _timeline(session: Session, media_id: uuid.UUID) -> list[TimelineEvent]:
    results = [
        (str(r.provider), r.analysis_type, r.result) for r in _active_results(session, media_id)
    ]
    return build_timeline(results, _keyframes(session, media_id))


def timeline(runtime: Runtime, media_id: uuid.UUID) -> list[TimelineEvent]:
    """Shots, on-screen text, faces, moderation and colours over time, in time order."""
    with runtime.db.session() as session:
        _get(session, media_id)
        return _timeline(session, media_id)


def media_document(runtime: Runtime, media_id: uuid.UUID) -> dict[str, Any]:
    """Everything known about one media file, active results only, as JSON-ready data."""
    with runtime.db.session() as session:
        media = _get(session, media_id)
        transcripts = session.scalars(
            sa.select(Transcription)
            .where(Transcription.media_file_id == media_id, Transcription.is_active)
            .order_by(Transcription.created_at, Transcription.id)
        ).all()
        results = _active_results(session, media_id)
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
            "keyframes": [k.model_dump() for k in _keyframes(session, media_id)],
            "timeline": [e.model_dump() for e in _timeline(session, media_id)],
        }  # fmt: skip


def export(runtime: Runtime, media_id: uuid.UUID, fmt: str) -> str:
    """One media file's results in ``fmt`` (json, vtt, srt, txt)."""
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown export format {fmt!r}", hint=f"one of {', '.join(FORMATS)}")
    if fmt == "json":
        return json.dumps(media_document(runtime, media_id), indent=2, default=str) + "\n"
    with runtime.db.session() as session:
        _get(session, media_id)
        row = active_transcription(session, media_id)
        if row is None:
            raise NotFound(f"media file {media_id} has no transcription to export as {fmt}")
        text, segments = row.text, list(row.segments)
    if fmt == "vtt":
        return to_vtt(segments)
    if fmt == "srt":
        return to_srt(segments)
    return text.strip() + "\n"


# -- changes ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Before:
    """A file's state before a reanalysis marked it, to put back if queueing fails."""

    job_id: uuid.UUID
    status: MediaFileStatus
    error: str | None
    finished_at: datetime | None


def _mark_for_reanalysis(runtime: Runtime, media_id: uuid.UUID) -> _Before:
    """Set the file pending and its job running again; return what the file was."""
    with runtime.db.session() as session:
        media = _get(session, media_id)
        if media.status is MediaFileStatus.PROCESSING:
            raise Refused(
                f"media file {media_id} is being processed", hint="wait until it is finished"
            )
        job = session.get(AnalysisJob, media.job_id)
        if job is None:  # the foreign key makes this impossible; keep mypy honest
            raise NotFound(f"job {media.job_id} does not exist")
        before = _Before(job.id, media.status, media.error, media.finished_at)
        # pending again, and the job running again, so that readers see the new round
        media.status, media.error, media.finished_at = MediaFileStatus.PENDING, None, None
        job.status, job.finished_at, job.error = JobStatus.RUNNING, None, None
        return before


def _put_back(runtime: Runtime, media_id: uuid.UUID, before: _Before) -> None:
    with runtime.db.session() as session:
        media = _get(session, media_id)
        media.status, media.error = before.status, before.error
        media.finished_at = before.finished_at
    finish_job(runtime.db, before.job_id)


def reanalyze(
    runtime: Runtime,
    media_id: uuid.UUID,
    providers: Sequence[str] | str | None = None,
    *,
    queue: bool,
) -> FileOutcome | None:
    """Run ``providers`` (None: the job's own) on one media file again.

    New outputs supersede the active rows (kept, inactive), the stages log a new
    round, and the job gets its final status again. ``queue``: hand the file to the
    workers and return None; else process it here and return its outcome. Unknown
    or unavailable providers are refused before anything changes; ``Refused`` while
    the file is being processed or already queued.
    """
    requested = runtime.providers.select(providers) if providers else None
    before = _mark_for_reanalysis(runtime, media_id)
    job_id = before.job_id
    if queue:
        try:
            runtime.queue.defer_files([media_id], providers=requested.names if requested else None)
        except Refused:
            raise  # already queued: that task runs the file and settles the job
        except Exception:
            # nothing was queued: the file and its job are as they were
            with contextlib.suppress(Exception):
                _put_back(runtime, media_id, before)
            raise
        return None
    try:
        if requested is None:
            with runtime.db.session() as session:
                options = session.scalar(
                    sa.select(AnalysisJob.options).where(AnalysisJob.id == job_id)
                )
            requested = runtime.providers.select(
                (options or {}).get("providers"), check_available=False
            )
        return Pipeline.of(runtime).process_file(media_id, requested)
    finally:
        # even if something unexpected escapes, the job must not stay "running"
        finish_job(runtime.db, job_id)
