"""The stages of one media file, in order, each logged in processing_log.

validation -> metadata -> audio_extraction -> frame_extraction -> transcription
-> analysis -> finalize. A file that fails validation or metadata fails alone (its
media_file row says why); a provider that fails is logged and the other providers
still run; a provider that needs what the file lacks (audio, frames) is skipped.
Everything is written through ``Records``: no transaction is held open while a
model or decoder works.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from mediaflow.config import Settings
from mediaflow.db.enums import MediaFileStatus, MediaType, ProcessingLogStatus, ProcessingStage
from mediaflow.errors import DatabaseUnavailable, NotFound, TransientProviderError
from mediaflow.media.audio import extract_audio
from mediaflow.media.frames import SamplingPolicy, sample_frames, thumbnail
from mediaflow.media.probe import probe
from mediaflow.media.types import Frame, Shot
from mediaflow.pipeline.log import LogEvent, StageStep, error_message, stage_timer
from mediaflow.pipeline.records import (
    ClaimedFile,
    DatabaseRecords,
    FileOutcome,
    KeyframeRow,
    Records,
)
from mediaflow.providers.base import Analyzer, MediaInput, Provider, ProviderKind, Transcriber
from mediaflow.providers.registry import ProviderRegistry, ProviderSelection
from mediaflow.runtime import Runtime
from mediaflow.storage import ContentStore

__all__ = ["FileOutcome", "Pipeline", "StageCallback", "with_retries"]

StageCallback = Callable[[ProcessingStage], None]
Timer = Callable[[ProcessingStage], AbstractContextManager[StageStep]]
T = TypeVar("T")


def with_retries(
    call: Callable[[], T],
    on_retry: Callable[[int, BaseException], None],
    *,
    attempts: int,
    max_wait_s: float,
) -> T:
    """Call, retrying transient provider errors with exponential backoff.

    A provider that knows how long to wait (an API's ``Retry-After``) sets
    ``retry_after_s`` on its error; ``max_wait_s`` still caps it, so a server asking
    for an hour cannot park a worker for an hour.
    """

    def before_sleep(state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        on_retry(state.attempt_number, failure or TransientProviderError("retrying"))

    backoff = wait_exponential(multiplier=0.5, max=max_wait_s)

    def wait(state: RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome else None
        retry_after = getattr(failure, "retry_after_s", None)
        if isinstance(retry_after, int | float) and retry_after >= 0:
            return min(float(retry_after), max_wait_s)
        return float(backoff(state))

    retrying = Retrying(
        retry=retry_if_exception_type(TransientProviderError),
        stop=stop_after_attempt(attempts),
        wait=wait,
        reraise=True,
        before_sleep=before_sleep,
    )
    return retrying(call)


@dataclass
class _Run:
    """One file's trip through the stages: what it is, what to run, how far it got."""

    file: ClaimedFile
    selection: ProviderSelection
    outcome: FileOutcome
    timer: Timer


class Pipeline:
    """Runs the stages of one file at a time with one runtime's parts."""

    def __init__(
        self,
        *,
        records: Records,
        store: ContentStore,
        providers: ProviderRegistry,
        settings: Settings,
    ) -> None:
        self.records = records
        self.store = store
        self.providers = providers
        self.settings = settings
        self._sampling = SamplingPolicy(
            interval_s=settings.frame_interval_s,
            frames_per_hour=settings.frames_per_hour,
            min_frames=settings.min_frames,
        )

    @classmethod
    def of(cls, runtime: Runtime) -> Pipeline:
        """The pipeline writing to ``runtime``'s database."""
        return cls(
            records=DatabaseRecords(
                runtime.db,
                embedder=runtime.embedder,
                min_confidence=runtime.settings.search_min_confidence,
            ),
            store=runtime.store,
            providers=runtime.providers,
            settings=runtime.settings,
        )

    # -- one file -----------------------------------------------------------------------

    def process_file(
        self,
        media_file_id: uuid.UUID,
        selection: ProviderSelection,
        *,
        on_stage: StageCallback | None = None,
    ) -> FileOutcome:
        """Run every stage on one media file; return its outcome (never raises for bad media).

        ``NotFound`` when there is no such file; a file cancelled meanwhile is left alone.
        """
        notify = on_stage or (lambda stage: None)
        file = self.records.claim(media_file_id)
        if file is None:
            return FileOutcome(media_file_id=media_file_id, status=MediaFileStatus.CANCELLED)
        outcome = FileOutcome(media_file_id=media_file_id, status=MediaFileStatus.PROCESSING)

        def timer(stage: ProcessingStage) -> AbstractContextManager[StageStep]:
            notify(stage)
            return stage_timer(self.records.log, file.job_id, media_file_id, stage)

        run = _Run(file, selection, outcome, timer)
        try:
            self._stages(run)
        except DatabaseUnavailable:
            raise  # not the file's fault: the task waits for the database and runs it again
        except Exception as exc:  # a bad file, or a decoder bug on it: this file fails alone
            outcome.status, outcome.error = MediaFileStatus.FAILED, error_message(exc)
        else:
            outcome.status = MediaFileStatus.COMPLETED
        notify(ProcessingStage.FINALIZE)
        self.records.finalize(file, outcome)
        return outcome

    def _stages(self, run: _Run) -> None:
        file, timer = run.file, run.timer
        path = self.store.path_for(file.storage_key) if file.storage_key else None
        # validation and metadata: a bad file fails here, alone
        with timer(ProcessingStage.VALIDATION) as step:
            if path is None or not path.exists():
                raise NotFound(f"stored original of {file.original_name} is missing")
            info = probe(path)
            step.details.update(media_type=info.media_type.value, file_type=info.file_type.value)
        with timer(ProcessingStage.METADATA) as step:
            self.records.save_metadata(file.media_file_id, info)
            step.details.update(codecs=info.codecs, duration_s=info.duration_s)

        with tempfile.TemporaryDirectory(prefix="mediaflow-") as work:
            audio_path: Path | None = None
            frames: list[Frame] = []
            if info.media_type in (MediaType.VIDEO, MediaType.AUDIO):
                with timer(ProcessingStage.AUDIO_EXTRACTION) as step:
                    audio_path = extract_audio(path, Path(work) / "audio.wav")
                    step.details.update(has_audio=audio_path is not None)
            else:
                self._skip(run, ProcessingStage.AUDIO_EXTRACTION, "no audio")
            if info.media_type in (MediaType.VIDEO, MediaType.IMAGE):
                with timer(ProcessingStage.FRAME_EXTRACTION) as step:
                    sample = sample_frames(path, info.media_type, self._sampling)
                    frames = sample.frames
                    step.details.update(sample.details)
                    if sample.shots:
                        step.details["keyframes"] = self._save_keyframes(run.file, sample.shots)
            else:
                self._skip(run, ProcessingStage.FRAME_EXTRACTION, "no video")

            media = MediaInput(
                path=path, media_type=info.media_type, frames=frames, audio_path=audio_path,
                duration_s=info.duration_s, name=file.original_name,
            )  # fmt: skip
            self._run_providers(run, media, ProcessingStage.TRANSCRIPTION)
            self._run_providers(run, media, ProcessingStage.ANALYSIS)
        self._index(run)

    def _save_keyframes(self, file: ClaimedFile, shots: list[Shot]) -> int:
        """A thumbnail of each shot's keyframe in the content store, and the shot's row."""
        rows = []
        for shot in shots:
            data, (width, height) = thumbnail(shot.keyframe)
            stored = self.store.store_bytes(data)
            rows.append(
                KeyframeRow(
                    shot=shot.index, start_s=shot.start_s, end_s=shot.end_s,
                    timestamp_s=min(max(shot.keyframe.timestamp_s, shot.start_s), shot.end_s),
                    storage_key=stored.key, width=width, height=height,
                    sharpness=shot.sharpness,
                )
            )  # fmt: skip
        self.records.save_keyframes(file, rows)
        return len(rows)

    def _index(self, run: _Run) -> None:
        """The search index of the file: its words are in already, its vectors come now.

        A failure here is logged and noted on the file, which keeps its results.
        """
        try:
            with run.timer(ProcessingStage.INDEXING) as step:
                step.details.update(self.records.index_file(run.file))
        except Exception as exc:
            run.outcome.provider_failures.append(f"search index: {error_message(exc)}")

    # -- providers ----------------------------------------------------------------------

    def _skip(self, run: _Run, stage: ProcessingStage, why: str, **details: object) -> None:
        self.records.log(
            LogEvent(
                run.file.job_id,
                run.file.media_file_id,
                stage,
                ProcessingLogStatus.SKIPPED,
                message=why,
                details=dict(details),
            )
        )

    def _run_providers(self, run: _Run, media: MediaInput, stage: ProcessingStage) -> None:
        kind: ProviderKind = (
            "transcription" if stage is ProcessingStage.TRANSCRIPTION else "analysis"
        )
        providers = [self.providers.get(kind, name) for name in run.selection.of(kind)]
        wanted = [p for p in providers if media.media_type in p.accepts]
        if not wanted:
            self._skip(run, stage, "no provider accepts this media")
            return
        runnable = [p for p in wanted if _lacks(p, media) is None]
        if not runnable:
            # one reason for the whole stage: every provider lacks the same input
            self._skip(run, stage, _lacks(wanted[0], media) or "nothing to analyze")
            return
        for provider in wanted:
            missing = _lacks(provider, media)
            if missing is not None:
                self._skip(run, stage, missing, provider=provider.name)
                continue
            self._call(run, stage, provider, media)

    def _call(
        self, run: _Run, stage: ProcessingStage, provider: Provider, media: MediaInput
    ) -> None:
        """Run one provider under its stage's log row, with retries, and store its output.

        The model runs outside any transaction; a provider's failure (or bug) is
        recorded on the outcome and costs only that provider.
        """
        name, file, outcome = provider.name, run.file, run.outcome
        try:
            with run.timer(stage) as step:
                step.details["provider"] = name
                started = time.perf_counter()
                if isinstance(provider, Transcriber):
                    transcript = self._retrying(step, name, partial(provider.transcribe, media))
                    latency = _ms_since(started)
                    self.records.save_transcription(file, name, transcript, latency)
                    step.details.update(
                        words=len(transcript.text.split()), language=transcript.language
                    )
                    outcome.transcriptions += 1
                else:
                    assert isinstance(provider, Analyzer)
                    outputs = self._retrying(step, name, partial(provider.analyze, media))
                    latency = _ms_since(started)
                    self.records.save_analysis(file, name, outputs, latency)
                    step.details["analysis_types"] = [o.analysis_type for o in outputs]
                    outcome.results += len(outputs)
        except Exception as exc:
            outcome.provider_failures.append(f"{name}: {error_message(exc)}")

    def _retrying(self, step: StageStep, provider: str, call: Callable[[], T]) -> T:
        def on_retry(attempt: int, exc: BaseException) -> None:
            step.attempt = attempt + 1  # the completed/failed row then says which attempt ended it
            self.records.log(
                LogEvent(
                    step.job_id,
                    step.media_file_id,
                    step.stage,
                    ProcessingLogStatus.RETRYING,
                    attempt=attempt,
                    message=str(exc),
                    details={"provider": provider},
                )
            )

        return with_retries(
            call,
            on_retry,
            attempts=self.settings.provider_retry_attempts,
            max_wait_s=self.settings.provider_retry_max_wait_s,
        )


def _lacks(provider: Provider, media: MediaInput) -> str | None:
    """What ``provider`` needs and ``media`` does not have (None: nothing lacks)."""
    if isinstance(provider, Transcriber) or (
        isinstance(provider, Analyzer) and provider.uses == "audio"
    ):
        return "no audio" if media.audio_path is None else None
    if (
        isinstance(provider, Analyzer)
        and provider.uses == "frames"
        and not media.frames
        and media.media_type is not MediaType.IMAGE
    ):
        return "no frames"
    return None


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
