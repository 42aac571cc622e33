"""The stages of one media file, in order, each logged in processing_log.

validation -> metadata -> audio_extraction -> frame_extraction -> transcription
-> analysis -> finalize. A file that fails validation or metadata fails alone (its
media_file row says why); a provider that fails is logged and the other providers
still run; a provider that needs what the file lacks (audio, frames) is skipped.
Everything is written through ``Records``: no transaction is held open while a
model or decoder works.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
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
from mediaflow.media.audio import decode_audio
from mediaflow.media.damage import StreamDamage
from mediaflow.media.frames import SamplingPolicy, sample_frames, thumbnail
from mediaflow.media.limits import DecodeLimits
from mediaflow.media.onepass import FrameObserver, decode_pass
from mediaflow.media.probe import ProbeResult, probe
from mediaflow.media.types import Frame, Shot
from mediaflow.pipeline.log import (
    LogEvent,
    StageStep,
    close_step,
    error_message,
    open_step,
    stage_timer,
)
from mediaflow.pipeline.people import FaceLinker
from mediaflow.pipeline.records import (
    ClaimedFile,
    DatabaseRecords,
    FileOutcome,
    KeyframeRow,
    Records,
)
from mediaflow.pipeline.reuse import ReuseSource, fingerprint
from mediaflow.providers.base import Analyzer, MediaInput, Provider, ProviderKind, Transcriber
from mediaflow.providers.cloud.pricing import cost_of, estimate_units
from mediaflow.providers.registry import ProviderRegistry, ProviderSelection
from mediaflow.providers.speakers import add_speakers
from mediaflow.runtime import Runtime
from mediaflow.storage import ObjectStore

__all__ = ["FileOutcome", "Pipeline", "StageCallback", "Timer", "with_retries"]

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


_Planned = tuple[ProcessingStage, Provider]


@dataclass
class _Run:
    """One file's trip through the stages: what it is, what to run, how far it got."""

    file: ClaimedFile
    selection: ProviderSelection
    outcome: FileOutcome
    timer: Timer
    notify: StageCallback
    # providers whose results come from an earlier file with the same content
    reuse: dict[tuple[ProcessingStage, str], ReuseSource] = field(default_factory=dict)


class Pipeline:
    """Runs the stages of one file at a time with one runtime's parts."""

    def __init__(
        self,
        *,
        records: Records,
        store: ObjectStore,
        providers: ProviderRegistry,
        settings: Settings,
        people: FaceLinker | None = None,
    ) -> None:
        self.records = records
        self.people = people  # links found faces to people (None: faces stay unlinked)
        self.store = store
        self.providers = providers
        self.settings = settings
        self._limits = DecodeLimits.of(settings)
        self._sampling = SamplingPolicy(
            interval_s=settings.frame_interval_s,
            frames_per_hour=settings.frames_per_hour,
            min_frames=settings.min_frames,
            limits=self._limits,
        )

    @classmethod
    def of(cls, runtime: Runtime) -> Pipeline:
        """The pipeline writing to ``runtime``'s database."""
        return cls(
            records=DatabaseRecords(
                runtime.db,
                embedder=runtime.embedder,
                min_confidence=runtime.settings.search_min_confidence,
                provider_min_confidence=runtime.settings.provider_min_confidence,
            ),
            store=runtime.store,
            providers=runtime.providers,
            settings=runtime.settings,
            people=FaceLinker(
                runtime.db, runtime.store, threshold=runtime.settings.people_match_threshold
            ),
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

        run = _Run(file, selection, outcome, timer, notify)
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
        # validation and metadata: a bad file fails here, alone
        with timer(ProcessingStage.VALIDATION) as step:
            if file.storage_key is None:
                raise NotFound(f"stored original of {file.original_name} is missing")
            try:  # a remote store fetches it into the worker's cache here
                path = self.store.local_path(file.storage_key)
            except NotFound:
                raise NotFound(f"stored original of {file.original_name} is missing") from None
            info = probe(path, self._limits)
            step.details.update(media_type=info.media_type.value, file_type=info.file_type.value)
        with timer(ProcessingStage.METADATA) as step:
            self.records.save_metadata(file.media_file_id, info)
            step.details.update(codecs=info.codecs, duration_s=info.duration_s)

        if self._plan_reuse(run, info.media_type):
            self._reuse_all(run, info)
            self._index(run)
            return

        with tempfile.TemporaryDirectory(prefix="mediaflow-") as work:
            audio_path: Path | None = None
            frames: list[Frame] = []
            damages: list[StreamDamage] = []
            observed: dict[str, object] = {}
            if _one_pass(info):
                audio_path, frames, observed = self._decode_once(run, path, info, Path(work))
            elif info.has_audio:
                with timer(ProcessingStage.AUDIO_EXTRACTION) as step:
                    track = decode_audio(path, Path(work) / "audio.wav", self._limits)
                    audio_path = track.path if track is not None else None
                    step.details.update(has_audio=audio_path is not None)
                    if track is not None and track.damage.damaged:
                        _warn(step, track.damage, run)
                        damages.append(track.damage)
            else:
                self._skip(run, ProcessingStage.AUDIO_EXTRACTION, _no_audio(file))
            if _one_pass(info):
                pass  # the frames came with the audio
            elif info.media_type in (MediaType.VIDEO, MediaType.IMAGE):
                with timer(ProcessingStage.FRAME_EXTRACTION) as step:
                    sample = sample_frames(path, info.media_type, self._sampling)
                    frames = sample.frames
                    step.details.update(sample.details)
                    if sample.damage is not None and sample.damage.damaged:
                        _warn(step, sample.damage, run)
                        damages.append(sample.damage)
                    if sample.shots:
                        step.details["keyframes"] = self._save_keyframes(run.file, sample.shots)
            else:
                no_video = f"{file.original_name} has no video"
                self._skip(run, ProcessingStage.FRAME_EXTRACTION, no_video)
            if damages:
                # the damage stays with the file's stream metadata, for people and exports
                self.records.save_metadata(file.media_file_id, _with_damage(info, damages))

            media = MediaInput(
                path=path, media_type=info.media_type, frames=frames, audio_path=audio_path,
                duration_s=info.duration_s, name=file.original_name, observed=observed,
                options=file.options,
            )  # fmt: skip
            self._run_providers(run, media, ProcessingStage.TRANSCRIPTION)
            self._run_providers(run, media, ProcessingStage.ANALYSIS)
        self._index(run)

    def _decode_once(
        self, run: _Run, path: Path, info: ProbeResult, work: Path
    ) -> tuple[Path | None, list[Frame], dict[str, object]]:
        """Audio extraction and frame extraction in one pass over the file.

        Both stages are logged as they always were, each with its own duration (its
        own decoder's time; the shared reading of packets is in ``details.pass``). A
        stream that fails fails its own stage; the first failure then fails the file.
        """
        file = run.file
        wants_frames = info.media_type is MediaType.VIDEO
        observers = self._frame_observers(run) if wants_frames else {}
        steps: dict[ProcessingStage, StageStep] = {}
        for stage, wanted, why in (
            (ProcessingStage.AUDIO_EXTRACTION, info.has_audio, _no_audio(file)),
            (ProcessingStage.FRAME_EXTRACTION, wants_frames, f"{file.original_name} has no video"),
        ):
            if wanted:
                run.notify(stage)
                steps[stage] = open_step(self.records.log, file.job_id, file.media_file_id, stage)
            else:
                self._skip(run, stage, why)
        try:
            result = decode_pass(
                path,
                dest_wav=work / "audio.wav" if info.has_audio else None,
                policy=self._sampling if wants_frames else None,
                observers=list(observers.values()),
            )
        except Exception as exc:
            for step in steps.values():
                close_step(self.records.log, step, exc)
            raise
        shared: dict[str, object] = {"demux_ms": _ms(result.demux_s), "packets": result.packets}
        if len(steps) > 1:
            shared["with"] = [stage.value for stage in steps]
        damages: list[StreamDamage] = []
        failure: BaseException | None = None
        audio_path: Path | None = None
        if (audio_step := steps.get(ProcessingStage.AUDIO_EXTRACTION)) is not None:
            step = audio_step
            audio_path = result.audio.path if result.audio is not None else None
            step.details.update(has_audio=audio_path is not None, **{"pass": shared})
            if result.audio is not None and result.audio.damage.damaged:
                _warn(step, result.audio.damage, run)
                damages.append(result.audio.damage)
            close_step(self.records.log, step, result.audio_error, duration_ms=_ms(result.audio_s))
            failure = result.audio_error
        frames: list[Frame] = []
        if (frame_step := steps.get(ProcessingStage.FRAME_EXTRACTION)) is not None:
            step = frame_step
            started = time.perf_counter()
            sample = result.sample
            if sample is not None:
                frames = sample.frames
                step.details.update(sample.details)
                if sample.damage is not None and sample.damage.damaged:
                    _warn(step, sample.damage, run)
                    damages.append(sample.damage)
                if sample.shots and failure is None:
                    step.details["keyframes"] = self._save_keyframes(file, sample.shots)
            step.details["pass"] = shared
            if observers:
                step.details.update(
                    observed=sorted(observers), observers_ms=_ms(result.observers_s)
                )
            own = result.video_s + time.perf_counter() - started
            close_step(self.records.log, step, result.video_error, duration_ms=_ms(own))
            failure = failure or result.video_error
        if failure is not None:
            raise failure
        if damages:
            # the damage stays with the file's stream metadata, for people and exports
            self.records.save_metadata(file.media_file_id, _with_damage(info, damages))
        # an observer that failed saw only part of the file: its provider reads it itself
        return audio_path, frames, {n: o for n, o in observers.items() if o in result.observers}

    def _frame_observers(self, run: _Run) -> dict[str, FrameObserver]:
        """The selected video providers that look at every frame (scene detection)."""
        observers: dict[str, FrameObserver] = {}
        for name in run.selection.of("analysis"):
            if (ProcessingStage.ANALYSIS, name) in run.reuse:
                continue  # its results are copied: it looks at nothing
            try:
                provider = self.providers.get("analysis", name)
                make = getattr(provider, "frame_observer", None)
                if callable(make) and MediaType.VIDEO in provider.accepts:
                    observers[name] = make()
            except Exception:
                continue  # the provider then reads the file itself, or fails on its own
        return observers

    # -- reuse by content -------------------------------------------------------------

    def _applicable(self, run: _Run, media_type: MediaType) -> list[_Planned]:
        """The selected providers that take this media type, with their stage."""
        chosen: list[_Planned] = []
        for stage, kind in (
            (ProcessingStage.TRANSCRIPTION, "transcription"),
            (ProcessingStage.ANALYSIS, "analysis"),
        ):
            for name in run.selection.of(kind):  # type: ignore[arg-type]
                provider = self.providers.get(kind, name)  # type: ignore[arg-type]
                if media_type in provider.accepts:
                    chosen.append((stage, provider))
        return chosen

    def _plan_reuse(self, run: _Run, media_type: MediaType) -> bool:
        """Find the providers whose results can be copied; True when all of them can."""
        if not (self.settings.reuse_results and run.file.may_reuse):
            return False
        applicable = self._applicable(run, media_type)
        for stage, provider in applicable:
            source = self.records.reusable(
                run.file, stage, provider.name, fingerprint(provider, self.settings)
            )
            if source is not None:
                run.reuse[(stage, provider.name)] = source
        return bool(applicable) and len(run.reuse) == len(applicable)

    def _reuse_all(self, run: _Run, info: ProbeResult) -> None:
        """Every provider's results copied: nothing to decode, nothing to run."""
        source = next(iter(run.reuse.values()))
        why = f"reused from {source.original_name} ({source.media_file_id})"
        for stage in (ProcessingStage.AUDIO_EXTRACTION, ProcessingStage.FRAME_EXTRACTION):
            self._skip(run, stage, why, reused_from=str(source.media_file_id))
        if info.media_type is MediaType.VIDEO:
            self.records.reuse_keyframes(run.file, source)
        media = MediaInput(path=Path(), media_type=info.media_type, name=run.file.original_name)
        for stage, provider in self._applicable(run, info.media_type):
            self._call(run, stage, provider, media)

    def run_providers(
        self, file: ClaimedFile, selection: ProviderSelection, media: MediaInput, timer: Timer
    ) -> FileOutcome:
        """The transcription and analysis stages alone on ``media`` (a chunk of a long file:
        ``pipeline.chunked``); what they produce goes to ``records``."""
        outcome = FileOutcome(media_file_id=file.media_file_id, status=MediaFileStatus.PROCESSING)
        run = _Run(file, selection, outcome, timer, notify=lambda _stage: None)
        self._run_providers(run, media, ProcessingStage.TRANSCRIPTION)
        self._run_providers(run, media, ProcessingStage.ANALYSIS)
        return outcome

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
        runnable = [p for p in wanted if (stage, p.name) in run.reuse or _lacks(p, media) is None]
        if not runnable:
            # one reason for the whole stage: every provider lacks the same input
            self._skip(run, stage, _lacks(wanted[0], media) or "nothing to analyze")
            return
        for provider in wanted:
            missing = None if (stage, provider.name) in run.reuse else _lacks(provider, media)
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
            if provider.needs_key and not self._within_budget(run, stage, provider, media):
                return
        except Exception as exc:  # the budget could not be read: no unbudgeted cloud call
            outcome.provider_failures.append(f"{name}: budget check failed: {error_message(exc)}")
            return
        try:
            with run.timer(stage) as step:
                step.details["provider"] = name
                # what a later upload of the same content compares to reuse this run
                step.details["fingerprint"] = fingerprint(provider, self.settings)
                source = run.reuse.get((stage, name))
                if source is not None:
                    copied = self.records.reuse(file, source, stage, name)
                    step.details["reused_from"] = str(source.media_file_id)
                    step.message = f"reused from {source.original_name} ({source.media_file_id})"
                    if stage is ProcessingStage.TRANSCRIPTION:
                        outcome.transcriptions += copied
                    else:
                        outcome.results += copied
                    return
                started = time.perf_counter()
                if isinstance(provider, Transcriber):
                    transcript = self._retrying(step, name, partial(provider.transcribe, media))
                    if media.audio_path is not None:  # who speaks when (issue 12)
                        step.details["diarization"] = add_speakers(
                            transcript, media.audio_path, self.settings, media.options
                        )
                    latency = _ms_since(started)
                    self.records.save_transcription(file, name, transcript, latency)
                    step.details.update(
                        words=len(transcript.text.split()), language=transcript.language
                    )
                    billing = transcript.details.get("billing")
                    outcome.transcriptions += 1
                else:
                    assert isinstance(provider, Analyzer)
                    outputs = self._retrying(step, name, partial(provider.analyze, media))
                    latency = _ms_since(started)
                    self.records.save_analysis(file, name, outputs, latency)
                    step.details["analysis_types"] = [o.analysis_type for o in outputs]
                    billing = next((o.billing for o in outputs if o.billing), None)
                    if self.people is not None:
                        linked = self.people.link(file, name, outputs, media.frames)
                        if linked is not None:
                            step.details["people"] = linked
                    outcome.results += len(outputs)
                if provider.needs_key:  # a cloud call: its cost goes in the log (the ledger)
                    units = billing or estimate_units(provider, media)
                    step.details["cost"] = cost_of(self.settings, provider.kind, name, units)
        except Exception as exc:
            outcome.provider_failures.append(f"{name}: {error_message(exc)}")

    def _within_budget(
        self, run: _Run, stage: ProcessingStage, provider: Provider, media: MediaInput
    ) -> bool:
        """Whether a cloud call fits the job's ``options.max_cost``; if not, log the skip."""
        budget = self.records.budget(run.file.job_id)
        if budget.max_cost is None:
            return True
        estimate = cost_of(
            self.settings, provider.kind, provider.name, estimate_units(provider, media)
        )
        usd = float(estimate["usd"])  # type: ignore[arg-type]
        if budget.allows(usd):
            return True
        self._skip(
            run, stage,
            f"budget: {provider.name} would cost about ${usd:.4f}; the job has spent "
            f"${budget.spent:.4f} of its max_cost ${budget.max_cost:.4f}",
            provider=provider.name, budget="exceeded", estimated_usd=usd,
            spent_usd=budget.spent, max_cost=budget.max_cost,
        )  # fmt: skip
        return False

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


def _one_pass(info: ProbeResult) -> bool:
    """Whether audio and frames come from one decode pass: an audio or video file that
    PyAV reads (images and animated images are read with Pillow)."""
    return not info.mime_type.startswith("image/") and info.media_type in (
        MediaType.VIDEO,
        MediaType.AUDIO,
    )


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _no_audio(file: ClaimedFile) -> str:
    return f"{file.original_name} has no audio track"


def _warn(step: StageStep, damage: StreamDamage, run: _Run) -> None:
    """Damage that did not fail the file: a warning on the stage's row and the file."""
    warning = f"decoded with damage: {damage.summary()}"
    step.message = f"warning: {warning}"
    step.details["damage"] = damage.to_dict()
    step.details["warning"] = warning
    run.outcome.warnings.append(warning)


def _with_damage(info: ProbeResult, damages: list[StreamDamage]) -> ProbeResult:
    by_index = {d.index: d for d in damages}
    streams = [
        {**stream, "damage": by_index[stream.get("index")].to_dict()}
        if stream.get("index") in by_index
        else stream
        for stream in info.streams
    ]
    return dataclasses.replace(info, streams=streams)


def _lacks(provider: Provider, media: MediaInput) -> str | None:
    """What ``provider`` needs and ``media`` does not have (None: nothing lacks)."""
    if isinstance(provider, Transcriber) or (
        isinstance(provider, Analyzer) and provider.uses == "audio"
    ):
        return f"{media.label} has no audio track" if media.audio_path is None else None
    if (
        isinstance(provider, Analyzer)
        and provider.uses == "frames"
        and not media.frames
        and media.media_type is not MediaType.IMAGE
    ):
        return f"no frames were extracted from {media.label}"
    return None


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
