"""Results reused by content: the same bytes, analyzed by the same provider versions.

Uploading a file again (same sha256) need not run the models again. Every provider
call's processing_log row carries the provider's *fingerprint*: its name, the
versions of mediaflow and of the packages it runs on, and the settings that change
its output (model, frame sampling, pixel limit). On a file's first run, a provider
whose fingerprint matches a completed run on an earlier file with the same sha256
gets that file's active results copied (and indexed) instead of running: a
database copy in milliseconds. ``--force`` (job option ``force``) or
``MEDIAFLOW_REUSE_RESULTS=false`` analyzes anyway; a reanalysis always runs.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from mediaflow.config import Settings
from mediaflow.db.enums import (
    AnalysisProvider,
    MediaFileStatus,
    ProcessingLogStatus,
    ProcessingStage,
    TranscriptionProvider,
)
from mediaflow.db.models import (
    AnalysisResult,
    MediaFile,
    MediaKeyframe,
    ProcessingLog,
    Transcription,
)
from mediaflow.providers.base import Provider
from mediaflow.search import index as search_index
from mediaflow.version import __version__

__all__ = ["ReuseSource", "copy_keyframes", "copy_provider", "find_source", "fingerprint"]

# Settings that change what a provider produces, besides its packages' versions.
_SETTINGS_OF: dict[str, tuple[str, ...]] = {
    "faster_whisper": ("whisper_model",),
    "openai": ("openai_transcription_model", "openai_base_url"),
}
# Visual providers see the pipeline's frames: how they are sampled changes the output.
_FRAME_SETTINGS = ("frame_interval_s", "frames_per_hour", "min_frames", "max_image_pixels")


@dataclass(frozen=True)
class ReuseSource:
    """An earlier file with the same content whose provider run can be copied."""

    media_file_id: uuid.UUID
    original_name: str


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "?"


def fingerprint(provider: Provider, settings: Settings) -> str:
    """A short hash of everything that makes ``provider``'s output what it is."""
    names = [*_SETTINGS_OF.get(provider.name, ()), *(_FRAME_SETTINGS)]
    parts: dict[str, Any] = {
        "provider": f"{provider.kind}:{provider.name}",
        "class": f"{type(provider).__module__}.{type(provider).__qualname__}",
        "mediaflow": __version__,
        "packages": {req: _version(req.split("[")[0]) for _, req in provider.requires},
        "settings": {name: str(getattr(settings, name, None)) for name in names},
    }
    text = json.dumps(parts, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def first_run(session: Session, media_file_id: uuid.UUID) -> bool:
    """Whether no provider ever ran on this file (a reanalysis never reuses)."""
    ran = session.scalar(
        sa.select(sa.func.count())
        .select_from(ProcessingLog)
        .where(
            ProcessingLog.media_file_id == media_file_id,
            ProcessingLog.stage.in_([ProcessingStage.TRANSCRIPTION, ProcessingStage.ANALYSIS]),
        )
    )
    return not ran


def find_source(
    session: Session, media_file_id: uuid.UUID, stage: ProcessingStage, name: str, print_: str
) -> ReuseSource | None:
    """The latest completed file with this file's sha256 where ``name`` ran with ``print_``."""
    sha256 = session.scalar(sa.select(MediaFile.sha256).where(MediaFile.id == media_file_id))
    if not sha256:
        return None
    row = session.execute(
        sa.select(MediaFile.id, MediaFile.original_name)
        .join(ProcessingLog, ProcessingLog.media_file_id == MediaFile.id)
        .where(
            MediaFile.sha256 == sha256,
            MediaFile.id != media_file_id,
            MediaFile.status == MediaFileStatus.COMPLETED,
            ProcessingLog.stage == stage,
            ProcessingLog.status == ProcessingLogStatus.COMPLETED,
            ProcessingLog.details["provider"].astext == name,
            ProcessingLog.details["fingerprint"].astext == print_,
        )
        .order_by(ProcessingLog.created_at.desc())
        .limit(1)
    ).first()
    return ReuseSource(row[0], row[1]) if row is not None else None


def copy_provider(
    session: Session,
    *,
    job_id: uuid.UUID,
    media_file_id: uuid.UUID,
    source: ReuseSource,
    stage: ProcessingStage,
    name: str,
    mark: Any = None,
) -> int:
    """Copy the source's active rows of provider ``name`` onto this file; return how many.

    The copies supersede this file's own active rows and are indexed for search in
    the same transaction, as a fresh run's are. ``mark`` re-marks transcript segments
    with this configuration's confidence floor.
    """
    copied = 0
    if stage is ProcessingStage.TRANSCRIPTION:
        rows = session.scalars(
            sa.select(Transcription).where(
                Transcription.media_file_id == source.media_file_id,
                Transcription.is_active,
                Transcription.provider == TranscriptionProvider(name),
            )
        ).all()
        for old in rows:
            superseded = _deactivate(session, Transcription, media_file_id, name)
            segments = [dict(s) for s in old.segments]
            for segment in segments:
                segment.pop("low_confidence", None)
            row = Transcription(
                job_id=job_id, media_file_id=media_file_id, provider=old.provider,
                model=old.model, language=old.language, text=old.text,
                segments=mark(segments) if mark else segments, confidence=old.confidence,
                latency_ms=0,
            )  # fmt: skip
            session.add(row)
            session.flush()
            search_index.drop_sources(session, transcription_ids=superseded)
            search_index.index_transcription(session, row)
            copied += 1
        return copied
    results = session.scalars(
        sa.select(AnalysisResult).where(
            AnalysisResult.media_file_id == source.media_file_id,
            AnalysisResult.is_active,
            AnalysisResult.provider == AnalysisProvider(name),
        )
    ).all()
    for old_result in results:
        superseded = _deactivate(
            session, AnalysisResult, media_file_id, name, old_result.analysis_type
        )
        new = AnalysisResult(
            job_id=job_id, media_file_id=media_file_id, provider=old_result.provider,
            analysis_type=old_result.analysis_type, model=old_result.model,
            model_version=old_result.model_version, result=old_result.result,
            confidence=old_result.confidence, latency_ms=0,
        )  # fmt: skip
        session.add(new)
        session.flush()
        search_index.drop_sources(session, result_ids=superseded)
        search_index.index_result(session, new)
        copied += 1
    return copied


def _deactivate(
    session: Session,
    model: type[AnalysisResult] | type[Transcription],
    media_file_id: uuid.UUID,
    provider: str,
    analysis_type: str | None = None,
) -> list[uuid.UUID]:
    enum = AnalysisProvider if model is AnalysisResult else TranscriptionProvider
    conditions = [
        model.media_file_id == media_file_id,
        model.provider == enum(provider),
        model.is_active.is_(True),
    ]
    if analysis_type is not None and model is AnalysisResult:
        conditions.append(AnalysisResult.analysis_type == analysis_type)
    return list(
        session.scalars(
            sa.update(model).where(*conditions).values(is_active=False).returning(model.id)
        )
    )


def copy_keyframes(session: Session, media_file_id: uuid.UUID, source: ReuseSource) -> int:
    """The source's shot keyframes (thumbnails are content-addressed: shared, not copied)."""
    rows = session.scalars(
        sa.select(MediaKeyframe).where(MediaKeyframe.media_file_id == source.media_file_id)
    ).all()
    session.execute(sa.delete(MediaKeyframe).where(MediaKeyframe.media_file_id == media_file_id))
    columns = ("shot", "start_s", "end_s", "timestamp_s", "storage_key", "width", "height")
    session.add_all(
        MediaKeyframe(
            media_file_id=media_file_id,
            sharpness=r.sharpness,
            **{column: getattr(r, column) for column in columns},
        )
        for r in rows
    )
    return len(rows)
