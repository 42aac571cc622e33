"""The stages of one media file, in order, each logged in processing_log.

validation -> metadata -> audio_extraction -> frame_extraction -> transcription
-> analysis -> finalize. A file that fails validation or metadata fails alone (its
media_file row says why); a provider that fails is logged and the other providers
still run. No database transaction is held open while a model or decoder works.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from mediaflow.config import get_settings
from mediaflow.db.enums import (
    AnalysisProvider,
    MediaFileStatus,
    MediaType,
    ProcessingLogStatus,
    ProcessingStage,
    TranscriptionProvider,
)
from mediaflow.db.models import MediaFile
from mediaflow.db.session import session_scope
from mediaflow.errors import NotFound, TransientProviderError
from mediaflow.media.audio import extract_audio
from mediaflow.media.frames import extract_frames
from mediaflow.media.probe import probe
from mediaflow.pipeline.log import StageStep, error_message, log_event, log_now, stage_timer
from mediaflow.pipeline.results import save_analysis, save_transcription
from mediaflow.providers import registry
from mediaflow.providers.base import AnalysisOutput, MediaInput, TranscriptOutput
from mediaflow.storage import ContentStore

# Transient provider errors (timeouts, 429, 5xx) are retried with backoff; how many
# attempts and the longest wait come from the settings (provider_retry_attempts,
# provider_retry_max_wait_s) so that tests and impatient users can shorten them.

StageCallback = Callable[[ProcessingStage], None]
Timer = Callable[[ProcessingStage], AbstractContextManager[StageStep]]
T = TypeVar("T")


@dataclass
class FileOutcome:
    """What processing one media file produced."""

    media_file_id: uuid.UUID
    status: MediaFileStatus
    error: str | None = None
    transcriptions: int = 0
    results: int = 0
    provider_failures: list[str] = field(default_factory=list)


def _now() -> datetime:
    return datetime.now(UTC)


def _mark(url: str | None, media_file_id: uuid.UUID, **values: object) -> None:
    with session_scope(url) as session:
        session.execute(sa.update(MediaFile).where(MediaFile.id == media_file_id).values(**values))


def _with_retries(call: Callable[[], T], on_retry: Callable[[int, BaseException], None]) -> T:
    """Call, retrying transient provider errors with exponential backoff."""

    def before_sleep(state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        on_retry(state.attempt_number, failure or TransientProviderError("retrying"))

    settings = get_settings()
    max_wait = settings.provider_retry_max_wait_s
    backoff = wait_exponential(multiplier=0.5, max=max_wait)

    def wait(state: RetryCallState) -> float:
        # A provider that knows how long to wait (an API's Retry-After header) sets
        # ``retry_after_s`` on its error; the cap still applies, so a server asking for
        # an hour cannot park a worker for an hour.
        failure = state.outcome.exception() if state.outcome else None
        retry_after = getattr(failure, "retry_after_s", None)
        if isinstance(retry_after, int | float) and retry_after >= 0:
            return min(float(retry_after), max_wait)
        return float(backoff(state))

    retrying = Retrying(
        retry=retry_if_exception_type(TransientProviderError),
        stop=stop_after_attempt(settings.provider_retry_attempts),
        wait=wait,
        reraise=True,
        before_sleep=before_sleep,
    )
    return retrying(call)


def process_media_file(
    media_file_id: uuid.UUID,
    *,
    store: ContentStore,
    transcription_providers: Sequence[str],
    analysis_providers: Sequence[str],
    url: str | None = None,
    on_stage: StageCallback | None = None,
) -> FileOutcome:
    """Run every stage on one media file; return its outcome (never raises for bad media)."""
    notify = on_stage or (lambda stage: None)
    with session_scope(url) as session:
        row = session.get(MediaFile, media_file_id)
        if row is None:
            raise NotFound(f"media file {media_file_id} does not exist")
        job_id, storage_key = row.job_id, row.storage_key
    outcome = FileOutcome(media_file_id=media_file_id, status=MediaFileStatus.PROCESSING)
    # claimed only if not cancelled meanwhile: a cancel racing a worker's pick wins
    with session_scope(url) as session:
        claimed = session.scalar(
            sa.update(MediaFile)
            .where(MediaFile.id == media_file_id, MediaFile.status != MediaFileStatus.CANCELLED)
            .values(status=MediaFileStatus.PROCESSING, started_at=_now(), error=None)
            .returning(MediaFile.id)
        )
    if claimed is None:
        outcome.status = MediaFileStatus.CANCELLED
        return outcome

    def timer(stage: ProcessingStage) -> AbstractContextManager[StageStep]:
        notify(stage)
        return stage_timer(url, job_id, media_file_id, stage)

    path = store.path_for(storage_key) if storage_key else None
    try:
        # validation and metadata: a bad file fails here, alone
        with timer(ProcessingStage.VALIDATION) as step:
            if path is None or not path.exists():
                raise NotFound(f"stored original {storage_key} is missing")
            info = probe(path)
            step.details.update(media_type=info.media_type.value, file_type=info.file_type.value)
        with timer(ProcessingStage.METADATA) as step:
            _mark(
                url, media_file_id,
                mime_type=info.mime_type, media_type=info.media_type, file_type=info.file_type,
                duration_s=info.duration_s, width=info.width, height=info.height, fps=info.fps,
                sample_rate=info.sample_rate, channels=info.channels, bit_rate=info.bit_rate,
                codecs=info.codecs, streams=info.streams,
            )  # fmt: skip
            step.details.update(codecs=info.codecs, duration_s=info.duration_s)
    except Exception as exc:  # a bad file, or a decoder bug on it: this file fails alone
        outcome.status, outcome.error = MediaFileStatus.FAILED, error_message(exc)
        _finalize(url, job_id, outcome, notify)
        return outcome

    with tempfile.TemporaryDirectory(prefix="mediaflow-") as work:
        audio_path: Path | None = None
        frames = []
        try:
            if info.media_type in (MediaType.VIDEO, MediaType.AUDIO):
                with timer(ProcessingStage.AUDIO_EXTRACTION) as step:
                    audio_path = extract_audio(path, Path(work) / "audio.wav")
                    step.details.update(has_audio=audio_path is not None)
            else:
                _skip(url, job_id, media_file_id, ProcessingStage.AUDIO_EXTRACTION, "no audio")
            if info.media_type in (MediaType.VIDEO, MediaType.IMAGE):
                with timer(ProcessingStage.FRAME_EXTRACTION) as step:
                    frames = extract_frames(path, info.media_type)
                    step.details.update(frames=len(frames))
            else:
                _skip(url, job_id, media_file_id, ProcessingStage.FRAME_EXTRACTION, "no video")
        except Exception as exc:  # this file fails alone
            outcome.status, outcome.error = MediaFileStatus.FAILED, error_message(exc)
            _finalize(url, job_id, outcome, notify)
            return outcome

        media = MediaInput(
            path=path, media_type=info.media_type, frames=frames,
            audio_path=audio_path, duration_s=info.duration_s,
        )  # fmt: skip
        _run_transcription(
            url, job_id, media, transcription_providers, outcome=outcome, timer=timer
        )
        _run_analysis(url, job_id, media, analysis_providers, outcome=outcome, timer=timer)

    outcome.status = MediaFileStatus.COMPLETED
    _finalize(url, job_id, outcome, notify)
    return outcome


def _skip(
    url: str | None, job_id: uuid.UUID, media_file_id: uuid.UUID, stage: ProcessingStage, why: str
) -> None:
    log_now(
        url, job_id=job_id, media_file_id=media_file_id, stage=stage,
        status=ProcessingLogStatus.SKIPPED, message=why,
    )  # fmt: skip


def _retry_logger(
    url: str | None, step: StageStep, provider: str
) -> Callable[[int, BaseException], None]:  # fmt: skip
    job_id, media_file_id, stage = step.job_id, step.media_file_id, step.stage

    def log(attempt: int, exc: BaseException) -> None:
        step.attempt = attempt + 1  # the completed/failed row then says which attempt ended it
        log_now(
            url, job_id=job_id, media_file_id=media_file_id, stage=stage,
            status=ProcessingLogStatus.RETRYING, attempt=attempt, message=str(exc),
            details={"provider": provider},
        )  # fmt: skip

    return log


def _call_provider(
    stage: ProcessingStage,
    name: str,
    call: Callable[[], T],
    save: Callable[[Session, T, int], dict[str, Any]],
    *,
    url: str | None,
    job_id: uuid.UUID,
    outcome: FileOutcome,
    timer: Timer,
) -> dict[str, Any] | None:
    """Run one provider under its stage's log row, with retries, and store its output.

    The model runs outside any transaction; ``save`` writes in one short transaction
    and returns the details for the log row. A provider failure is recorded on the
    outcome (the file goes on with the other providers) and gives None.
    """
    try:
        with timer(stage) as step:
            step.details["provider"] = name
            started = time.perf_counter()
            output = _with_retries(call, _retry_logger(url, step, name))
            latency = int((time.perf_counter() - started) * 1000)
            with session_scope(url) as session:
                step.details.update(save(session, output, latency))
            return step.details
    except Exception as exc:  # a provider's failure (or bug) costs only that provider
        outcome.provider_failures.append(f"{name}: {error_message(exc)}")
        return None


def _run_transcription(
    url: str | None, job_id: uuid.UUID, media: MediaInput, names: Sequence[str], *,
    outcome: FileOutcome, timer: Timer,
) -> None:  # fmt: skip
    stage = ProcessingStage.TRANSCRIPTION
    wanted = [
        n for n in names if media.media_type in registry.get_transcription_provider(n).accepts
    ]
    if media.audio_path is None or not wanted:
        _skip(url, job_id, outcome.media_file_id, stage, "no audio" if wanted else "no provider")
        return
    for name in wanted:
        provider = registry.get_transcription_provider(name)

        def save(
            session: Session, output: TranscriptOutput, latency: int, name: str = name
        ) -> dict[str, Any]:
            save_transcription(
                session, job_id=job_id, media_file_id=outcome.media_file_id,
                provider=TranscriptionProvider(name), output=output, latency_ms=latency,
            )  # fmt: skip
            return {"words": len(output.text.split()), "language": output.language}

        done = _call_provider(
            stage, name, partial(provider.transcribe, media), save,
            url=url, job_id=job_id, outcome=outcome, timer=timer,
        )  # fmt: skip
        if done is not None:
            outcome.transcriptions += 1


def _run_analysis(
    url: str | None, job_id: uuid.UUID, media: MediaInput, names: Sequence[str], *,
    outcome: FileOutcome, timer: Timer,
) -> None:  # fmt: skip
    stage = ProcessingStage.ANALYSIS
    wanted = [n for n in names if media.media_type in registry.get_analysis_provider(n).accepts]
    if not wanted:
        _skip(url, job_id, outcome.media_file_id, stage, "no provider accepts this media")
        return
    for name in wanted:
        provider = registry.get_analysis_provider(name)

        def save(
            session: Session, outputs: list[AnalysisOutput], latency: int, name: str = name
        ) -> dict[str, Any]:
            for output in outputs:
                save_analysis(
                    session, job_id=job_id, media_file_id=outcome.media_file_id,
                    provider=AnalysisProvider(name), output=output, latency_ms=latency,
                )  # fmt: skip
            return {"analysis_types": [o.analysis_type for o in outputs]}

        done = _call_provider(
            stage, name, partial(provider.analyze, media), save,
            url=url, job_id=job_id, outcome=outcome, timer=timer,
        )  # fmt: skip
        if done is not None:
            outcome.results += len(done["analysis_types"])


def _finalize(
    url: str | None, job_id: uuid.UUID, outcome: FileOutcome, notify: StageCallback
) -> None:
    notify(ProcessingStage.FINALIZE)
    error = outcome.error
    if error is None and outcome.provider_failures:
        error = "; ".join(outcome.provider_failures)
    with session_scope(url) as session:
        session.execute(
            sa.update(MediaFile)
            .where(MediaFile.id == outcome.media_file_id)
            .values(status=outcome.status, error=error, finished_at=_now())
        )
        log_event(
            session, job_id=job_id, media_file_id=outcome.media_file_id,
            stage=ProcessingStage.FINALIZE,
            status=(
                ProcessingLogStatus.FAILED
                if outcome.status is MediaFileStatus.FAILED
                else ProcessingLogStatus.COMPLETED
            ),
            message=error,
            details={
                "status": outcome.status.value, "transcriptions": outcome.transcriptions,
                "results": outcome.results, "provider_failures": outcome.provider_failures,
            },
        )  # fmt: skip
