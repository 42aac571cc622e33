"""Long media across workers: split into chunk tasks, each chunk once, finalized once.

A file longer than ``chunk_threshold_s`` is not processed by the one task that picks
it up. That task (``split_file``) validates it, stores its metadata, plans the chunks
(``pipeline.chunks.plan_chunks``), writes the plan in processing_log and queues one
``mediaflow.process_chunk`` task per chunk, which any worker takes:

- a chunk task (``process_chunk``) copies its span out of the original (audio with
  the overlap, ``pipeline.chunk_media.cut``), extracts audio and samples frames from
  it, runs the providers, and keeps what they produced as a JSON object in the content
  store (the data directory every worker shares). Its rows in processing_log carry
  ``{"run", "chunk", "chunks"}``; its last row (stage ``analysis``, ``chunk_done``)
  says where its results are and how far the file has come (``progress``). The job's
  SSE stream shows these rows as they are written.
- "done" is that last row, written in one transaction that locks the media_file row:
  a chunk already done is never done again (a retry finds the row and stops), and
  exactly one transaction sees the last chunk finish. That transaction also writes a
  ``finalize``/``started`` row naming its chunk, and that chunk's task then
  finalizes: the transcripts are stitched, the analyses merged, keyframes saved, the
  file indexed and its status set. A task that died while finalizing is retried by
  the queue, finds its chunk done and itself named as the finalizer, and finalizes
  again (every write supersedes, so a second finalize changes nothing).
- a worker killed mid-chunk loses that chunk only: its task goes back to the queue
  when its heartbeat stops (``stalled_after_s``) and another worker does the chunk.

``run`` (a fresh id per split) keeps a reanalysis's chunks apart from an earlier
split's rows; only the file's latest split acts, so the chunk tasks of a split that
was retried (its worker died while queueing them) or replaced do nothing.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from mediaflow.db.enums import (
    MediaFileStatus,
    MediaType,
    ProcessingLogStatus,
    ProcessingStage,
)
from mediaflow.db.models import AnalysisJob, MediaFile
from mediaflow.db.session import Database
from mediaflow.media.detect import open_container
from mediaflow.media.frames import SamplingPolicy, sample_frames, thumbnail
from mediaflow.media.probe import probe
from mediaflow.media.types import Frame, Shot
from mediaflow.pipeline.chunk_finalize import assemble
from mediaflow.pipeline.chunk_media import cut, extract_audio_range
from mediaflow.pipeline.chunks import Chunk, plan_chunks
from mediaflow.pipeline.costs import Budget
from mediaflow.pipeline.log import LogEvent, StageStep, add_event, error_message, stage_timer
from mediaflow.pipeline.records import ClaimedFile, FileOutcome, KeyframeRow, Records
from mediaflow.pipeline.reuse import ReuseSource
from mediaflow.pipeline.runner import finish_job
from mediaflow.pipeline.stages import Pipeline
from mediaflow.providers.base import (
    AnalysisOutput,
    MediaInput,
    TranscriptOutput,
)
from mediaflow.providers.registry import ProviderSelection
from mediaflow.queue import queue_for
from mediaflow.runtime import Runtime

__all__ = ["CHUNK_TASK", "chunk_lock", "process_chunk", "split_file"]

CHUNK_TASK = "mediaflow.process_chunk"


def chunk_lock(media_file_id: uuid.UUID | str, run: str, index: int) -> str:
    """The queueing lock of one chunk of one split: at most one queued task per chunk."""
    return f"chunk:{media_file_id}:{run}:{index}"


# ----------------------------------------------------------------------------- split


def _duration(path: Path) -> float | None:
    """The container's duration without decoding; None when it cannot be read cheaply."""
    try:
        with open_container(path) as container:
            return container.duration / 1_000_000 if container.duration else None
    except Exception:  # the normal pipeline reports a bad file; here it is just "not long"
        return None


def split_file(
    runtime: Runtime, media_file_id: uuid.UUID, providers: list[str] | None
) -> str | None:
    """Split a long file into chunk tasks; None when it is not long (process it whole).

    Returns the file's status after the split: ``processing`` (chunks queued),
    ``failed`` (validation failed, the file is finished), ``cancelled``.
    """
    settings = runtime.settings
    if settings.chunk_threshold_s <= 0:
        return None
    with runtime.db.session() as session:
        row = session.execute(
            sa.select(MediaFile.storage_key, MediaFile.status).where(MediaFile.id == media_file_id)
        ).first()
    if row is None or row.storage_key is None or row.status is MediaFileStatus.CANCELLED:
        return None
    path = runtime.store.local_path(row.storage_key)

    def plan(duration: float | None) -> list[Chunk]:
        return plan_chunks(
            duration,
            threshold_s=settings.chunk_threshold_s,
            length_s=settings.chunk_length_s,
            overlap_s=settings.chunk_overlap_s,
        )

    if not plan(_duration(path)):
        return None
    records = Pipeline.of(runtime).records
    file = records.claim(media_file_id)
    if file is None:
        return MediaFileStatus.CANCELLED.value
    try:
        with stage_timer(
            records.log, file.job_id, media_file_id, ProcessingStage.VALIDATION
        ) as step:
            info = probe(path)
            step.details.update(media_type=info.media_type.value, file_type=info.file_type.value)
        with stage_timer(records.log, file.job_id, media_file_id, ProcessingStage.METADATA) as step:
            records.save_metadata(media_file_id, info)
            step.details.update(codecs=info.codecs, duration_s=info.duration_s)
    except Exception as exc:  # a bad file fails alone, as in the whole-file pipeline
        outcome = FileOutcome(media_file_id, MediaFileStatus.FAILED, error=error_message(exc))
        records.finalize(file, outcome)
        finish_job(runtime.db, file.job_id)
        return outcome.status.value
    chunks = plan(info.duration_s)
    if not chunks:  # the probe's duration is shorter than the container said
        chunks = plan(_duration(path)) or [
            Chunk(0, 0.0, info.duration_s or 0.0, 0.0, info.duration_s or 0.0)
        ]
    run = uuid.uuid4().hex
    records.log(
        LogEvent(
            file.job_id, media_file_id, ProcessingStage.METADATA, ProcessingLogStatus.COMPLETED,
            message=f"split into {len(chunks)} chunks of about {chunks[0].duration_s:.0f} s",
            details={"run": run, "chunks": len(chunks),
                     "chunk_plan": [c.as_dict() for c in chunks]},
        )
    )  # fmt: skip
    records.flush()  # the plan is what the chunk tasks look for: written before they run
    for chunk in chunks:
        runtime.queue.defer_task(
            CHUNK_TASK,
            queue=queue_for(info.media_type.value),
            queueing_lock=chunk_lock(media_file_id, run, chunk.index),
            media_file_id=str(media_file_id), run=run, chunk=chunk.as_dict(),
            chunks=len(chunks), providers=providers,
        )  # fmt: skip
    return MediaFileStatus.PROCESSING.value


# ----------------------------------------------------------------------------- one chunk


@dataclass
class _ChunkRecords:
    """``Records`` for one chunk: log rows go to the database tagged with the chunk;
    provider outputs are kept here, for the chunk's JSON object."""

    base: Records
    tag: dict[str, Any]
    transcripts: dict[str, tuple[TranscriptOutput, int]] = field(default_factory=dict)
    analyses: dict[str, tuple[list[AnalysisOutput], int]] = field(default_factory=dict)

    def claim(self, media_file_id: uuid.UUID) -> ClaimedFile | None:
        raise NotImplementedError("a chunk does not claim its file")

    def log(self, event: LogEvent) -> None:
        self.base.log(dataclasses.replace(event, details={**event.details, **self.tag}))

    def save_metadata(self, media_file_id: uuid.UUID, info: Any) -> None:
        raise NotImplementedError("a chunk has no metadata of its own")

    def save_transcription(
        self, file: ClaimedFile, provider: str, output: TranscriptOutput, latency_ms: int
    ) -> None:
        self.transcripts[provider] = (output, latency_ms)

    def save_analysis(
        self, file: ClaimedFile, provider: str, outputs: list[AnalysisOutput], latency_ms: int
    ) -> None:
        self.analyses[provider] = (outputs, latency_ms)

    def save_keyframes(self, file: ClaimedFile, keyframes: list[KeyframeRow]) -> None:
        raise NotImplementedError("keyframes are saved when the file is finalized")

    def index_file(self, file: ClaimedFile) -> dict[str, object]:
        return {}

    def reusable(
        self, file: ClaimedFile, stage: ProcessingStage, provider: str, fingerprint: str
    ) -> ReuseSource | None:
        return None  # a chunk is new content: reuse is decided for whole files

    def reuse(
        self, file: ClaimedFile, source: ReuseSource, stage: ProcessingStage, provider: str
    ) -> int:
        raise NotImplementedError("a chunk never reuses results")

    def reuse_keyframes(self, file: ClaimedFile, source: ReuseSource) -> int:
        raise NotImplementedError("a chunk never reuses results")

    def finalize(self, file: ClaimedFile, outcome: FileOutcome) -> None:
        raise NotImplementedError("the file is finalized once, after its last chunk")

    def budget(self, job_id: uuid.UUID) -> Budget:
        return self.base.budget(job_id)  # cloud steps of every chunk share the job's budget

    def flush(self) -> None:
        self.base.flush()


@dataclass(frozen=True)
class _State:
    file: ClaimedFile
    status: MediaFileStatus
    media_type: MediaType | None
    planned: bool  # the run is the file's latest split (a newer one replaces it)
    done: dict[int, str]  # chunk index -> the key of its results
    finalizer: int | None  # the chunk whose task finalizes


# the file's latest split: a split retried after its worker died, or a reanalysis,
# leaves the chunk tasks of an older split to do nothing
_LATEST_SQL = sa.text(
    "SELECT details->>'run' FROM processing_log WHERE media_file_id = :id "
    "AND details ? 'chunk_plan' ORDER BY id DESC LIMIT 1"
)
_DONE_SQL = sa.text(
    "SELECT stage::text, status::text, details FROM processing_log "
    "WHERE media_file_id = :id AND details->>'run' = :run "
    "AND (details ? 'chunk_done' OR details ? 'finalizer')"
)


def _read_state(session: Any, media_file_id: uuid.UUID, run: str, *, lock: bool) -> _State | None:
    query = sa.select(
        MediaFile.job_id, MediaFile.storage_key, MediaFile.original_name, MediaFile.status,
        MediaFile.media_type,
    ).where(MediaFile.id == media_file_id)  # fmt: skip
    row = session.execute(query.with_for_update() if lock else query).first()
    if row is None:
        return None
    latest = session.execute(_LATEST_SQL, {"id": media_file_id}).scalar()
    planned, done, finalizer = latest == run, {}, None
    for _stage, _status, details in session.execute(_DONE_SQL, {"id": media_file_id, "run": run}):
        if details.get("chunk_done"):
            done[int(details["chunk"])] = str(details["result_key"])
        if "finalizer" in details:
            finalizer = int(details["finalizer"])
    file = ClaimedFile(media_file_id, row.job_id, row.storage_key, row.original_name)
    return _State(file, row.status, row.media_type, planned, done, finalizer)


def process_chunk(
    runtime: Runtime,
    media_file_id: uuid.UUID,
    *,
    run: str,
    chunk_data: dict[str, Any],
    chunks: int,
    providers: list[str] | None,
) -> str:
    """Process one chunk (unless done already); finalize the file after its last chunk."""
    chunk = Chunk.from_dict(chunk_data)
    with runtime.db.session() as session:
        state = _read_state(session, media_file_id, run, lock=False)
    if state is None or state.status is not MediaFileStatus.PROCESSING or not state.planned:
        return "skipped"  # cancelled, finished, or replaced by a newer split
    selection = _selection(runtime, media_file_id, providers)
    if chunk.index in state.done:
        finalizes = state.finalizer == chunk.index  # this task died while finalizing
    else:
        key = _work(runtime, state, run=run, chunk=chunk, chunks=chunks, selection=selection)
        finalizes = _mark_done(runtime.db, state.file, run=run, chunk=chunk, chunks=chunks, key=key)
    if finalizes:
        _finalize(runtime, media_file_id, run)
    return "done"


def _selection(
    runtime: Runtime, media_file_id: uuid.UUID, providers: list[str] | None
) -> ProviderSelection:
    """The providers to run: the task's override, else the job's."""
    with runtime.db.session() as session:
        options = session.execute(
            sa.select(AnalysisJob.options)
            .join(MediaFile, MediaFile.job_id == AnalysisJob.id)
            .where(MediaFile.id == media_file_id)
        ).scalar_one()
    return runtime.providers.select(providers or options.get("providers"), check_available=False)


def _shift_frames(frames: Sequence[Frame], offset: float, chunk: Chunk) -> list[Frame]:
    """Frames in the file's time, cut to the chunk's own span (their spans tile it)."""
    kept: list[Frame] = []
    for frame in frames:
        t = frame.timestamp_s + offset
        start = (frame.start_s + offset) if frame.start_s is not None else t
        end = (frame.end_s + offset) if frame.end_s is not None else t
        if end <= chunk.start_s or start >= chunk.end_s:
            continue
        kept.append(
            Frame(
                len(kept), round(t, 3), encoded=frame.encoded, size=(frame.width, frame.height),
                start_s=round(max(start, chunk.start_s), 3), end_s=round(min(end, chunk.end_s), 3),
                shot=frame.shot,
            )
        )  # fmt: skip
    return kept


def _keyframes(
    runtime: Runtime, shots: Sequence[Shot], offset: float, chunk: Chunk
) -> list[dict[str, Any]]:
    rows = []
    for shot in shots:
        start, end = shot.start_s + offset, shot.end_s + offset
        if not chunk.start_s <= start < chunk.end_s:
            continue  # a shot belongs to the chunk it starts in
        data, (width, height) = thumbnail(shot.keyframe)
        stored = runtime.store.store_bytes(data)
        rows.append(
            dataclasses.asdict(
                KeyframeRow(
                    shot=shot.index, start_s=round(start, 3), end_s=round(end, 3),
                    timestamp_s=round(min(max(shot.keyframe.timestamp_s + offset, start), end), 3),
                    storage_key=stored.key, width=width, height=height, sharpness=shot.sharpness,
                )
            )
        )  # fmt: skip
    return rows


def _shift_transcript(output: TranscriptOutput, offset: float) -> dict[str, Any]:
    data = dataclasses.asdict(output)
    span = data["details"].get("span_s")
    if span:  # the part of the file the transcript answers for (pause-cut decoding)
        data["details"]["span_s"] = [round(t + offset, 3) for t in span]
    for segment in data["segments"]:
        segment["start"] = round(segment["start"] + offset, 3)
        segment["end"] = round(segment["end"] + offset, 3)
        for word in segment["words"]:
            word["start"] = round(word["start"] + offset, 3)
            word["end"] = round(word["end"] + offset, 3)
    return data


def _work(
    runtime: Runtime,
    state: _State,
    *,
    run: str,
    chunk: Chunk,
    chunks: int,
    selection: ProviderSelection,
) -> str:
    """Run the chunk's stages; return the content-store key of what they produced."""
    file = state.file
    assert file.storage_key is not None
    pipeline = Pipeline.of(runtime)
    records = _ChunkRecords(pipeline.records, {"run": run, "chunk": chunk.index, "chunks": chunks})
    pipeline.records = records
    settings = runtime.settings

    def timer(stage: ProcessingStage) -> AbstractContextManager[StageStep]:
        return stage_timer(records.log, file.job_id, file.media_file_id, stage)

    original = runtime.store.local_path(file.storage_key)
    with tempfile.TemporaryDirectory(prefix="mediaflow-chunk-") as work_name:
        work = Path(work_name)
        with timer(ProcessingStage.AUDIO_EXTRACTION) as step:
            # sample-exact: the chunk's transcription hears what the whole file's would
            audio = extract_audio_range(original, work / "audio.wav", chunk.audio_start_s,
                                        chunk.audio_end_s)  # fmt: skip
            step.details.update(has_audio=audio is not None, start_s=chunk.start_s,
                                end_s=chunk.end_s, audio_start_s=chunk.audio_start_s,
                                audio_end_s=chunk.audio_end_s)  # fmt: skip
        piece, video_offset = original, 0.0  # an audio file's "file" providers read it whole
        frames: list[Frame] = []
        keyframes: list[dict[str, Any]] = []
        if state.media_type is MediaType.VIDEO:
            with timer(ProcessingStage.FRAME_EXTRACTION) as step:
                piece = work / "chunk.mkv"
                video_offset = cut(original, piece, chunk.start_s, chunk.end_s, audio=False)
                policy = SamplingPolicy(
                    interval_s=settings.frame_interval_s,
                    frames_per_hour=settings.frames_per_hour,
                    min_frames=1,  # the file's minimum is the whole file's, not each chunk's
                )
                sample = sample_frames(piece, MediaType.VIDEO, policy)
                frames = _shift_frames(sample.frames, video_offset, chunk)
                keyframes = _keyframes(runtime, sample.shots, video_offset, chunk)
                step.details.update(sample.details, frames=len(frames), keyframes=len(keyframes),
                                    offset_s=round(video_offset, 3))  # fmt: skip
        media = _media(piece, state, frames, audio, chunk, last=chunk.index == chunks - 1)
        try:
            outcome = pipeline.run_providers(file, selection, media, timer)
        finally:
            records.flush()  # the last step's closing row goes now, not with a next write

    def clock(name: str) -> float:
        # where a provider's own times start: the chunk's audio, or its video piece
        uses = getattr(runtime.providers.get("analysis", name), "uses", "frames")
        return chunk.audio_start_s if uses == "audio" else video_offset

    results = {
        "chunk": chunk.as_dict(),
        "transcripts": {
            name: {"output": _shift_transcript(output, chunk.audio_start_s), "latency_ms": latency}
            for name, (output, latency) in records.transcripts.items()
        },
        "analyses": {
            name: {
                "outputs": [dataclasses.asdict(o) for o in outputs],
                "latency_ms": latency,
                "offset_s": clock(name),
            }
            for name, (outputs, latency) in records.analyses.items()
        },
        "keyframes": keyframes,
        "failures": outcome.provider_failures,
    }
    return runtime.store.store_bytes(json.dumps(results).encode()).key


def _media(
    piece: Path,
    state: _State,
    frames: list[Frame],
    audio: Path | None,
    chunk: Chunk,
    *,
    last: bool,
) -> MediaInput:
    return MediaInput(
        path=piece, media_type=state.media_type or MediaType.VIDEO, frames=frames,
        audio_path=audio, duration_s=chunk.audio_end_s - chunk.audio_start_s,
        name=f"{state.file.original_name} [{chunk.start_s:.0f}-{chunk.end_s:.0f} s]",
        audio_offset_s=chunk.audio_start_s,
        span_s=(chunk.start_s if chunk.index else None, None if last else chunk.end_s),
    )  # fmt: skip


def _mark_done(
    db: Database, file: ClaimedFile, *, run: str, chunk: Chunk, chunks: int, key: str
) -> bool:
    """Record the chunk as done, once; True when it was the last (its task finalizes)."""
    with db.session() as session:
        state = _read_state(session, file.media_file_id, run, lock=True)
        if state is None or chunk.index in state.done:
            return state is not None and state.finalizer == chunk.index
        done = len(state.done) + 1
        add_event(
            session,
            LogEvent(
                file.job_id, file.media_file_id, ProcessingStage.ANALYSIS,
                ProcessingLogStatus.COMPLETED, message=f"chunk {chunk.index + 1} of {chunks} done",
                details={"run": run, "chunk": chunk.index, "chunks": chunks, "chunk_done": True,
                         "result_key": key, "progress": round(done / chunks, 4)},
            ),
        )  # fmt: skip
        if done < chunks:
            return False
        add_event(
            session,
            LogEvent(
                file.job_id, file.media_file_id, ProcessingStage.FINALIZE,
                ProcessingLogStatus.STARTED, message=f"all {chunks} chunks done",
                details={"run": run, "finalizer": chunk.index},
            ),
        )  # fmt: skip
        return True


# ----------------------------------------------------------------------------- finalize


def _finalize(runtime: Runtime, media_file_id: uuid.UUID, run: str) -> None:
    """Put the chunks' results together as the file's, and finish the file and its job."""
    with runtime.db.session() as session:
        state = _read_state(session, media_file_id, run, lock=False)
    if state is None or state.status is not MediaFileStatus.PROCESSING:
        return
    parts = [
        json.loads(runtime.store.local_path(key).read_bytes())
        for _, key in sorted(state.done.items())
    ]
    assemble(Pipeline.of(runtime).records, state.file, run, parts)
    finish_job(runtime.db, state.file.job_id)
