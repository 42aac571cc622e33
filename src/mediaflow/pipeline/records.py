"""What the pipeline writes while it processes one file, and where.

The stages (``pipeline.stages``) decide *what* happens to a file; ``Records`` is
everything they write: the claim of the file, processing_log rows, its metadata,
provider outputs, and its final status. ``DatabaseRecords`` writes them to
PostgreSQL, each in its own short transaction (no transaction is held open while a
decoder or a model works). The stage logic is tested against an in-memory
``Records`` as well, in milliseconds.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from mediaflow.db.enums import (
    AnalysisProvider,
    MediaFileStatus,
    ProcessingLogStatus,
    ProcessingStage,
    TranscriptionProvider,
)
from mediaflow.db.models import (
    AnalysisJob,
    AnalysisResult,
    MediaFile,
    MediaKeyframe,
    Transcription,
)
from mediaflow.db.session import Database
from mediaflow.errors import NotFound
from mediaflow.media.probe import ProbeResult
from mediaflow.pipeline.log import LogEvent, add_event
from mediaflow.providers.base import AnalysisOutput, TranscriptOutput
from mediaflow.providers.text_embedding import TextEmbedder
from mediaflow.search import index as search_index

__all__ = [
    "ClaimedFile",
    "DatabaseRecords",
    "FileOutcome",
    "KeyframeRow",
    "Records",
    "save_analysis",
    "save_transcription",
]


@dataclass(frozen=True)
class ClaimedFile:
    """A media file this process now works on."""

    media_file_id: uuid.UUID
    job_id: uuid.UUID
    storage_key: str | None
    original_name: str
    # the job's options (``model``, ``max_speakers``...): what providers may read per job
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class FileOutcome:
    """What processing one media file produced."""

    media_file_id: uuid.UUID
    status: MediaFileStatus
    error: str | None = None
    transcriptions: int = 0
    results: int = 0
    provider_failures: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class KeyframeRow:
    """One shot's keyframe as stored: its span, its frame's time, its thumbnail."""

    shot: int
    start_s: float
    end_s: float
    timestamp_s: float
    storage_key: str
    width: int
    height: int
    sharpness: float | None = None


class Records(Protocol):
    """Everything the stages of one file write (each call commits on its own)."""

    def claim(self, media_file_id: uuid.UUID) -> ClaimedFile | None:
        """Mark the file processing; None when it was cancelled. ``NotFound`` if unknown."""
        ...

    def log(self, event: LogEvent) -> None:
        """Write one processing_log row now."""
        ...

    def save_metadata(self, media_file_id: uuid.UUID, info: ProbeResult) -> None:
        """Store what the probe found on the media_file row."""
        ...

    def save_transcription(
        self, file: ClaimedFile, provider: str, output: TranscriptOutput, latency_ms: int
    ) -> None:
        """Store a transcript; it supersedes the file's active one of that provider."""
        ...

    def save_analysis(
        self, file: ClaimedFile, provider: str, outputs: list[AnalysisOutput], latency_ms: int
    ) -> None:
        """Store results; each supersedes the active one of its provider and type."""
        ...

    def save_keyframes(self, file: ClaimedFile, keyframes: list[KeyframeRow]) -> None:
        """Replace the file's keyframes (one per shot) with ``keyframes``."""
        ...

    def index_file(self, file: ClaimedFile) -> dict[str, object]:
        """Finish the file's search index (embeddings); return what the log row says."""
        ...

    def finalize(self, file: ClaimedFile, outcome: FileOutcome) -> None:
        """Record the file's final status (and its ``finalize`` log row) at once."""
        ...


def _now() -> datetime:
    return datetime.now(UTC)


def _supersede(
    session: Session,
    model: type[AnalysisResult] | type[Transcription],
    *conditions: sa.ColumnElement[bool],
) -> list[uuid.UUID]:
    # deactivate in the same transaction as the insert: the unique partial index
    # (uq_*_active) guarantees a concurrent re-run cannot leave two active rows
    return list(
        session.scalars(
            sa.update(model)
            .where(*conditions, model.is_active.is_(True))
            .values(is_active=False)
            .returning(model.id)
        )
    )


def save_analysis(
    session: Session,
    *,
    job_id: uuid.UUID,
    media_file_id: uuid.UUID,
    provider: AnalysisProvider,
    output: AnalysisOutput,
    latency_ms: int,
) -> AnalysisResult:
    """Deactivate the active result for (file, provider, type) and insert ``output``.

    The search index follows in the same transaction: the old result's moments go,
    the new one's come.
    """
    superseded = _supersede(
        session,
        AnalysisResult,
        AnalysisResult.media_file_id == media_file_id,
        AnalysisResult.provider == provider,
        AnalysisResult.analysis_type == output.analysis_type,
    )
    row = AnalysisResult(
        job_id=job_id,
        media_file_id=media_file_id,
        provider=provider,
        analysis_type=output.analysis_type,
        model=output.model,
        model_version=output.model_version,
        result=output.result,
        confidence=output.confidence,
        latency_ms=latency_ms,
    )
    session.add(row)
    session.flush()
    search_index.drop_sources(session, result_ids=superseded)
    search_index.index_result(session, row)
    return row


def save_transcription(
    session: Session,
    *,
    job_id: uuid.UUID,
    media_file_id: uuid.UUID,
    provider: TranscriptionProvider,
    output: TranscriptOutput,
    latency_ms: int,
    min_confidence: float | None = None,
) -> Transcription:
    """Deactivate the active transcript for (file, provider) and insert ``output``.

    The search index follows in the same transaction; segments below
    ``min_confidence`` are stored but not searchable.
    """
    superseded = _supersede(
        session,
        Transcription,
        Transcription.media_file_id == media_file_id,
        Transcription.provider == provider,
    )
    row = Transcription(
        job_id=job_id,
        media_file_id=media_file_id,
        provider=provider,
        model=output.model,
        language=output.language,
        language_probability=output.language_probability,
        text=output.text,
        segments=[dataclasses.asdict(segment) for segment in output.segments],
        confidence=output.confidence,
        latency_ms=latency_ms,
    )
    session.add(row)
    session.flush()
    search_index.drop_sources(session, transcription_ids=superseded)
    search_index.index_transcription(session, row, min_confidence=min_confidence)
    return row


class DatabaseRecords:
    """``Records`` in PostgreSQL: one short transaction per call."""

    def __init__(
        self,
        db: Database,
        *,
        embedder: TextEmbedder | None = None,
        min_confidence: float | None = None,
    ) -> None:
        self.db = db
        self.embedder = embedder
        self.min_confidence = min_confidence

    def claim(self, media_file_id: uuid.UUID) -> ClaimedFile | None:
        """Claimed only if not cancelled meanwhile: a cancel racing a worker's pick wins."""
        with self.db.session() as session:
            row = session.execute(
                sa.update(MediaFile)
                .where(MediaFile.id == media_file_id, MediaFile.status != MediaFileStatus.CANCELLED)
                .values(status=MediaFileStatus.PROCESSING, started_at=_now(), error=None)
                .returning(MediaFile.job_id, MediaFile.storage_key, MediaFile.original_name)
            ).first()
            if row is None:
                if session.get(MediaFile, media_file_id) is None:
                    raise NotFound(f"media file {media_file_id} does not exist")
                return None
            job_id, storage_key, original_name = row
            options = session.scalar(sa.select(AnalysisJob.options).where(AnalysisJob.id == job_id))
        return ClaimedFile(media_file_id, job_id, storage_key, original_name, dict(options or {}))

    def log(self, event: LogEvent) -> None:
        """One processing_log row in its own transaction (it outlives the step)."""
        with self.db.session() as session:
            add_event(session, event)

    def save_metadata(self, media_file_id: uuid.UUID, info: ProbeResult) -> None:
        """The probe's summary fields on the media_file row."""
        with self.db.session() as session:
            session.execute(
                sa.update(MediaFile)
                .where(MediaFile.id == media_file_id)
                .values(
                    mime_type=info.mime_type,
                    media_type=info.media_type,
                    file_type=info.file_type,
                    duration_s=info.duration_s,
                    width=info.width,
                    height=info.height,
                    fps=info.fps,
                    sample_rate=info.sample_rate,
                    channels=info.channels,
                    bit_rate=info.bit_rate,
                    codecs=info.codecs,
                    streams=info.streams,
                )
            )

    def save_transcription(
        self, file: ClaimedFile, provider: str, output: TranscriptOutput, latency_ms: int
    ) -> None:
        """The transcript, superseding the active one of this provider."""
        with self.db.session() as session:
            save_transcription(
                session, job_id=file.job_id, media_file_id=file.media_file_id,
                provider=TranscriptionProvider(provider), output=output, latency_ms=latency_ms,
                min_confidence=self.min_confidence,
            )  # fmt: skip

    def save_analysis(
        self, file: ClaimedFile, provider: str, outputs: list[AnalysisOutput], latency_ms: int
    ) -> None:
        """Every output of one provider call, in one transaction."""
        with self.db.session() as session:
            for output in outputs:
                save_analysis(
                    session, job_id=file.job_id, media_file_id=file.media_file_id,
                    provider=AnalysisProvider(provider), output=output, latency_ms=latency_ms,
                )  # fmt: skip

    def save_keyframes(self, file: ClaimedFile, keyframes: list[KeyframeRow]) -> None:
        """The file's keyframes, replacing those of an earlier run, in one transaction."""
        with self.db.session() as session:
            session.execute(
                sa.delete(MediaKeyframe).where(MediaKeyframe.media_file_id == file.media_file_id)
            )
            session.add_all(
                MediaKeyframe(media_file_id=file.media_file_id, **dataclasses.asdict(row))
                for row in keyframes
            )

    def index_file(self, file: ClaimedFile) -> dict[str, object]:
        """Embed the file's moments that have no vector yet, where semantic search can run.

        Its words are indexed already (with each transcript and result); the model runs
        here, outside any transaction, in batches.
        """
        with self.db.session() as session:
            moments = session.execute(
                sa.text("SELECT count(*) FROM search_moment WHERE media_file_id = :id"),
                {"id": file.media_file_id},
            ).scalar_one()
        details: dict[str, object] = {"moments": int(moments)}
        if self.embedder is None or not moments:
            return details
        status = search_index.semantic_status(self.db, self.embedder)
        if not status.available:
            details["semantic"] = f"unavailable: {status.reason}"
            return details
        report = search_index.embed_pending(
            self.db, self.embedder, media_file_id=file.media_file_id
        )
        details.update(
            embedded=report.embedded,
            embed_ms=round(report.model_seconds * 1000),
            model=self.embedder.model_version,
        )
        return details

    def finalize(self, file: ClaimedFile, outcome: FileOutcome) -> None:
        """The file's status, error and finish time with its ``finalize`` row, together."""
        error = outcome.error
        if error is None and outcome.provider_failures:
            error = "; ".join(outcome.provider_failures)
        failed = outcome.status is MediaFileStatus.FAILED
        with self.db.session() as session:
            session.execute(
                sa.update(MediaFile)
                .where(MediaFile.id == file.media_file_id)
                .values(status=outcome.status, error=error, finished_at=_now())
            )
            add_event(
                session,
                LogEvent(
                    file.job_id, file.media_file_id, ProcessingStage.FINALIZE,
                    ProcessingLogStatus.FAILED if failed else ProcessingLogStatus.COMPLETED,
                    message=error,
                    details={
                        "status": outcome.status.value, "transcriptions": outcome.transcriptions,
                        "results": outcome.results, "provider_failures": outcome.provider_failures,
                    },
                ),
            )  # fmt: skip
