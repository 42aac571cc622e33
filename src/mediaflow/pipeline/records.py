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
import json
import logging
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
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
from mediaflow.pipeline import reuse
from mediaflow.pipeline.costs import Budget, job_budget
from mediaflow.pipeline.log import LogEvent, add_event, add_events
from mediaflow.pipeline.reuse import ReuseSource
from mediaflow.providers.base import AnalysisOutput, TranscriptOutput
from mediaflow.providers.text_embedding import TextEmbedder
from mediaflow.search import index as search_index

logger = logging.getLogger(__name__)

__all__ = [
    "ClaimedFile",
    "DatabaseRecords",
    "FileOutcome",
    "KeyframeRow",
    "Records",
    "mark_low_confidence",
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
    # results of an earlier file with the same content may be copied (pipeline.reuse):
    # only on a file's first run, and not when the job asked for ``force``
    may_reuse: bool = False
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
    warnings: list[str] = field(default_factory=list)


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

    def reusable(
        self, file: ClaimedFile, stage: ProcessingStage, provider: str, fingerprint: str
    ) -> ReuseSource | None:
        """An earlier file with this content where ``provider`` ran with ``fingerprint``."""
        ...

    def reuse(
        self, file: ClaimedFile, source: ReuseSource, stage: ProcessingStage, provider: str
    ) -> int:
        """Copy ``source``'s active rows of ``provider`` onto ``file``; return how many."""
        ...

    def reuse_keyframes(self, file: ClaimedFile, source: ReuseSource) -> int:
        """Copy ``source``'s shot keyframes onto ``file``; return how many."""
        ...

    def finalize(self, file: ClaimedFile, outcome: FileOutcome) -> None:
        """Record the file's final status (and its ``finalize`` log row) at once."""
        ...

    def budget(self, job_id: uuid.UUID) -> Budget:
        """The job's cloud budget and what it has spent (``pipeline.costs``)."""
        ...

    def flush(self) -> None:
        """Write the log rows still waiting for the next write (a task's last step)."""
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
    ``min_confidence`` are stored marked ``low_confidence`` and are not searchable.
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
        segments=mark_low_confidence(
            [dataclasses.asdict(segment) for segment in output.segments], min_confidence
        ),
        confidence=output.confidence,
        latency_ms=latency_ms,
    )
    session.add(row)
    session.flush()
    search_index.drop_sources(session, transcription_ids=superseded)
    search_index.index_transcription(session, row, min_confidence=min_confidence)
    return row


# Rows that close a step wait for the next write that must happen now (the next step's
# ``started`` row, a retry, results, the file's final status) and go in its round trip:
# one commit per step boundary instead of two. They wait for microseconds up to the
# length of a save: the next step starts as soon as one ends.
_DEFERRED = frozenset(
    {ProcessingLogStatus.COMPLETED, ProcessingLogStatus.SKIPPED, ProcessingLogStatus.FAILED}
)


def _storable(event: LogEvent) -> LogEvent:
    """``event`` as PostgreSQL will take it, checked now rather than at a later write.

    Details that are not JSON raise here, failing the step, as a write now would; a NUL
    (which neither text nor JSONB can hold, and which error messages from decoders
    sometimes carry) becomes U+FFFD, so that a deferred row cannot fail a later write.
    """
    encoded = json.dumps(event.details)
    message = event.message
    if "\\u0000" not in encoded and (message is None or "\x00" not in message):
        return event
    return dataclasses.replace(
        event,
        message=message.replace("\x00", "\ufffd") if message is not None else None,
        details=json.loads(encoded.replace("\\u0000", "\\ufffd")),
    )


def mark_low_confidence(
    segments: list[dict[str, Any]], floor: float | None
) -> list[dict[str, Any]]:
    """Mark each segment under ``floor`` ``low_confidence`` (kept, shown, never searched).

    A 0.2 s bell heard as "Press." at confidence 0.17 stays in the transcript for
    people to judge, but is not indexed as speech.
    """
    if floor is None:
        return segments
    for segment in segments:
        confidence = segment.get("confidence")
        if isinstance(confidence, int | float) and confidence < floor:
            segment["low_confidence"] = True
    return segments


class DatabaseRecords:
    """``Records`` in PostgreSQL: one short transaction per call.

    processing_log rows that only close a step (completed, skipped, failed) are kept
    until the next write and sent with it, stamped with the time they happened: a
    file's log costs one round trip per step, and each row still says when its step
    ended and how long it took.
    """

    def __init__(
        self,
        db: Database,
        *,
        embedder: TextEmbedder | None = None,
        min_confidence: float | None = None,
        provider_min_confidence: Mapping[str, float] | None = None,
    ) -> None:
        """``min_confidence`` is the floor of every provider; ``provider_min_confidence``
        sets one provider's own (``{"faster_whisper": 0.3}``)."""
        self.db = db
        self.embedder = embedder
        self.min_confidence = min_confidence
        self._pending: list[LogEvent] = []
        self._requeued = 0  # how many of _pending came back from a failed write
        self._lock = threading.Lock()
        self.provider_min_confidence = dict(provider_min_confidence or {})

    @contextmanager
    def _session(self, *events: LogEvent) -> Iterator[Session]:
        """A transaction that first writes the log rows waiting to be sent, then ``events``."""
        with self._lock:
            pending, self._pending = self._pending, []
            requeued, self._requeued = self._requeued, 0
        try:
            with self.db.session() as session:
                add_events(session, [*pending, *events])  # one statement
                yield session
        except BaseException:
            # Not written: they go with the next write, once. Rows that fail a second
            # time may be what fails (the server refuses them): they are dropped, so
            # that they cannot fail every write after them.
            keep = pending[requeued:]
            if len(pending) > len(keep):
                logger.warning("dropped %d processing_log row(s)", len(pending) - len(keep))
            with self._lock:
                self._pending[:0] = keep
                self._requeued += len(keep)
            raise

    def floor(self, provider: str) -> float | None:
        """The confidence under which ``provider``'s segments are marked and not indexed."""
        return self.provider_min_confidence.get(provider, self.min_confidence)

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
            force = isinstance(options, dict) and options.get("force") is True
            may_reuse = not force and reuse.first_run(session, media_file_id)
        return ClaimedFile(
            media_file_id,
            job_id,
            storage_key,
            original_name,
            may_reuse=may_reuse,
            options=dict(options or {}),
        )

    def log(self, event: LogEvent) -> None:
        """A processing_log row: now when it opens a step, with the next write otherwise.

        Every row outlives its step: it commits on its own, not with the step's work.
        """
        if event.at is None:
            event = dataclasses.replace(event, at=_now())
        if event.status in _DEFERRED:
            event = _storable(event)
            with self._lock:
                self._pending.append(event)
            return
        with self._session(event):
            pass

    def flush(self) -> None:
        """Write the closing rows that wait for a next write: nothing else will come."""
        with self._session():
            pass

    def save_metadata(self, media_file_id: uuid.UUID, info: ProbeResult) -> None:
        """The probe's summary fields on the media_file row."""
        with self._session() as session:
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
        with self._session() as session:
            save_transcription(
                session, job_id=file.job_id, media_file_id=file.media_file_id,
                provider=TranscriptionProvider(provider), output=output, latency_ms=latency_ms,
                min_confidence=self.floor(provider),
            )  # fmt: skip

    def save_analysis(
        self, file: ClaimedFile, provider: str, outputs: list[AnalysisOutput], latency_ms: int
    ) -> None:
        """Every output of one provider call, in one transaction."""
        with self._session() as session:
            for output in outputs:
                save_analysis(
                    session, job_id=file.job_id, media_file_id=file.media_file_id,
                    provider=AnalysisProvider(provider), output=output, latency_ms=latency_ms,
                )  # fmt: skip

    def save_keyframes(self, file: ClaimedFile, keyframes: list[KeyframeRow]) -> None:
        """The file's keyframes, replacing those of an earlier run, in one transaction."""
        with self._session() as session:
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

    def reusable(
        self, file: ClaimedFile, stage: ProcessingStage, provider: str, fingerprint: str
    ) -> ReuseSource | None:
        """The latest completed file with this sha256 where ``provider`` ran the same."""
        with self.db.session() as session:
            return reuse.find_source(session, file.media_file_id, stage, provider, fingerprint)

    def reuse(
        self, file: ClaimedFile, source: ReuseSource, stage: ProcessingStage, provider: str
    ) -> int:
        """Copies of ``source``'s active rows of ``provider``, indexed, in one transaction."""
        floor = self.floor(provider)
        with self._session() as session:
            return reuse.copy_provider(
                session, job_id=file.job_id, media_file_id=file.media_file_id, source=source,
                stage=stage, name=provider,
                mark=lambda segments: mark_low_confidence(segments, floor),
            )  # fmt: skip

    def reuse_keyframes(self, file: ClaimedFile, source: ReuseSource) -> int:
        """Copies of ``source``'s keyframe rows."""
        with self._session() as session:
            return reuse.copy_keyframes(session, file.media_file_id, source)

    def finalize(self, file: ClaimedFile, outcome: FileOutcome) -> None:
        """The file's status, error and finish time with its ``finalize`` row, together."""
        error = outcome.error
        if error is None and outcome.provider_failures:
            error = "; ".join(outcome.provider_failures)
        failed = outcome.status is MediaFileStatus.FAILED
        with self._session() as session:
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
                        **({"warnings": outcome.warnings} if outcome.warnings else {}),
                    },
                ),
            )  # fmt: skip

    def budget(self, job_id: uuid.UUID) -> Budget:
        """The job's ``options.max_cost`` and the cost of its completed cloud steps."""
        # the closing rows still waiting carry costs (details.cost): written first
        with self._session() as session:
            return job_budget(session, job_id)
