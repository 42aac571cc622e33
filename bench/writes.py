"""What the pipeline's writes of one long file cost, next to a COPY of the same rows.

Run from the repository root::

    .venv/bin/python bench/writes.py                  # a 1-hour file, 5 runs each
    .venv/bin/python bench/writes.py --hours 0.25 --runs 3

What it does, in one run on one machine, on a scratch database at head
(``bench/support.py``: ``--database-url``, else the service on 127.0.0.1:5432, else
an embedded PostgreSQL):

- **transcript**: a generated ``--hours`` transcript the shape faster-whisper gives
  (a segment every 4 s, 11 words each with word timestamps) saved through the
  pipeline's own ``DatabaseRecords.save_transcription``: supersede the active one,
  insert the row (segments as JSONB), its search moments and the word dictionary,
  one transaction;
- **video results**: the outputs of OCR (``rapidocr``), faces (``opencv_haar``) and
  colours + hashes (``image_features``) for ``frames_per_hour`` frames per hour (the
  setting's default, 720), the shapes those providers give, through
  ``DatabaseRecords.save_analysis`` (one transaction per provider call);
- **log rows**: the processing_log rows of one video file (started + completed per
  stage and provider), through ``DatabaseRecords.log`` as the pipeline writes them,
  then ``DatabaseRecords.finalize`` (the file's status and its finalize row).

The floor of each is the same rows (and the same moments) sent with ``COPY`` in one
transaction on a bare psycopg connection: the least the server can be asked to do.
``statements`` counts what the pipeline sent (an executemany counts once: psycopg
pipelines it in one round trip); ``transactions`` the commits.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from bench.support import bench_database  # noqa: E402

from mediaflow.db.enums import (  # noqa: E402
    MediaFileStatus,
    ProcessingLogStatus,
    ProcessingStage,
)
from mediaflow.db.session import Database, libpq_url  # noqa: E402
from mediaflow.pipeline.log import LogEvent, add_event  # noqa: E402
from mediaflow.pipeline.records import ClaimedFile, DatabaseRecords, FileOutcome  # noqa: E402
from mediaflow.providers.base import AnalysisOutput, Segment, TranscriptOutput, Word  # noqa: E402
from mediaflow.search.index import _result_rows, _transcription_rows  # noqa: E402

_WORDS = (
    "media analysis speech video audio image frame scene face text search result provider "
    "worker queue database index transcript archive interview camera light studio river "
    "mountain city market evening morning weather report music voice slide chart"
)
VOCABULARY = _WORDS.split()
SEGMENT_S = 4.0
WORDS_PER_SEGMENT = 11


def transcript(hours: float) -> TranscriptOutput:
    """A transcript of ``hours`` shaped like faster-whisper's: segments with timed words."""
    segments = []
    for i in range(int(hours * 3600 / SEGMENT_S)):
        start = i * SEGMENT_S
        words = [
            Word(
                start=round(start + k * 0.35, 2),
                end=round(start + k * 0.35 + 0.3, 2),
                word=" " + VOCABULARY[(i * 7 + k * 13) % len(VOCABULARY)],
                probability=0.9,
            )
            for k in range(WORDS_PER_SEGMENT)
        ]
        text = "".join(w.word for w in words).strip()
        segments.append(Segment(start, start + SEGMENT_S - 0.1, text, words, confidence=-0.2))
    return TranscriptOutput(
        text=" ".join(s.text for s in segments),
        segments=segments,
        language="en",
        confidence=0.9,
        model="tiny.en",
    )


def _frame(i: int, interval: float) -> dict[str, Any]:
    return {
        "index": i, "timestamp_s": round(i * interval, 3), "start_s": round(i * interval, 3),
        "end_s": round((i + 1) * interval, 3), "width": 1280, "height": 720,
    }  # fmt: skip


def video_outputs(hours: float, frames_per_hour: int) -> dict[str, list[AnalysisOutput]]:
    """OCR, faces and colours/hashes of a ``hours`` video, shaped like the providers' own."""
    count = max(1, int(hours * frames_per_hour))
    interval = hours * 3600 / count
    ocr_frames, face_frames, colour_frames, hashes = [], [], [], []
    for i in range(count):
        slide = i // 6  # a slide stays on screen for six frames
        lines = [
            {
                "text": f"Slide {slide} "
                + " ".join(VOCABULARY[(slide + k + n) % 33] for k in range(5)),
                "confidence": 0.93,
                "box": [[40, 40 + 60 * n], [900, 40 + 60 * n], [900, 90 + 60 * n],
                        [40, 90 + 60 * n]],
            }
            for n in range(3)
        ]  # fmt: skip
        ocr_frames.append({**_frame(i, interval), "lines": lines})
        face_frames.append({**_frame(i, interval), "boxes": [[500, 200, 180, 180]]})
        colour_frames.append(
            {**_frame(i, interval), "colors": [{"hex": "#203040", "share": 0.5}] * 3}
        )
        hashes.append({**_frame(i, interval), "phash": f"{i:016x}", "dhash": f"{i * 3:016x}"})
    words = sorted(
        {w.lower() for f in ocr_frames for line in f["lines"] for w in line["text"].split()}
    )
    text = "\n".join(dict.fromkeys(line["text"] for f in ocr_frames for line in f["lines"]))
    return {
        "rapidocr": [
            AnalysisOutput("ocr", {
                "frames": ocr_frames, "words": words, "ocr_runs": count // 6,
                "text": text,
            }, "PP-OCRv4", "3.10.0", 0.93),
        ],
        "opencv_haar": [AnalysisOutput("faces", {"frames": face_frames, "count": 1}, "haar")],
        "image_features": [
            AnalysisOutput("perceptual_hash", {
                "phash": hashes[0]["phash"], "dhash": hashes[0]["dhash"], "hash_size": 8,
                "frames": hashes,
            }, "phash+dhash"),
            AnalysisOutput("colors", {"colors": [{"hex": "#203040", "share": 1.0}],
                                      "frames": colour_frames}, "pillow-mediancut"),
        ],
    }  # fmt: skip


def log_events(job_id: uuid.UUID, file_id: uuid.UUID) -> list[LogEvent]:
    """The processing_log rows of one video file with the default providers."""
    events: list[LogEvent] = []
    steps = [
        (ProcessingStage.VALIDATION, None), (ProcessingStage.METADATA, None),
        (ProcessingStage.AUDIO_EXTRACTION, None), (ProcessingStage.FRAME_EXTRACTION, None),
        (ProcessingStage.TRANSCRIPTION, "faster_whisper"), (ProcessingStage.ANALYSIS, "rapidocr"),
        (ProcessingStage.ANALYSIS, "opencv_haar"), (ProcessingStage.ANALYSIS, "image_features"),
        (ProcessingStage.ANALYSIS, "scenedetect"), (ProcessingStage.ANALYSIS, "opennsfw"),
        (ProcessingStage.ANALYSIS, "audio_features"), (ProcessingStage.INDEXING, None),
    ]  # fmt: skip
    # the last row (finalize) is written by DatabaseRecords.finalize with the file's status
    for stage, provider in steps:
        details: dict[str, Any] = {"provider": provider} if provider else {}
        events.append(LogEvent(job_id, file_id, stage, ProcessingLogStatus.STARTED))
        events.append(
            LogEvent(
                job_id, file_id, stage, ProcessingLogStatus.COMPLETED,
                details={**details, "frames": 720}, duration_ms=1234,
            )
        )  # fmt: skip
    events.append(
        LogEvent(
            job_id, file_id, ProcessingStage.FINALIZE, ProcessingLogStatus.COMPLETED,
            details={"status": "completed", "transcriptions": 1, "results": 8},
        )
    )  # fmt: skip
    return events


@dataclasses.dataclass
class Counter:
    """Statements and commits an engine sent while counting."""

    statements: int = 0
    commits: int = 0


@contextmanager
def counting(engine: sa.Engine) -> Iterator[Counter]:
    """Count the statements (an executemany once) and commits on ``engine``."""
    counter = Counter()

    def on_execute(*_args: Any) -> None:
        counter.statements += 1

    def on_commit(*_args: Any) -> None:
        counter.commits += 1

    sa.event.listen(engine, "before_cursor_execute", on_execute)
    sa.event.listen(engine, "commit", on_commit)
    try:
        yield counter
    finally:
        sa.event.remove(engine, "before_cursor_execute", on_execute)
        sa.event.remove(engine, "commit", on_commit)


def _fresh_file(db: Database) -> ClaimedFile:
    job_id, file_id = uuid.uuid4(), uuid.uuid4()
    with db.session() as session:
        session.execute(
            sa.text("INSERT INTO analysis_job (id, name, status) VALUES (:id, 'bench', 'running')"),
            {"id": job_id},
        )
        session.execute(
            sa.text(
                "INSERT INTO media_file (id, job_id, original_name, status) "
                "VALUES (:id, :job, 'talk.mp4', 'processing')"
            ),
            {"id": file_id, "job": job_id},
        )
    return ClaimedFile(file_id, job_id, None, "talk.mp4")


def _copy_floor(
    connection: psycopg.Connection[Any],
    file: ClaimedFile,
    results: list[tuple[str, AnalysisOutput]],
    transcripts: list[TranscriptOutput],
    events: list[LogEvent],
) -> None:
    """The same rows and moments sent with COPY, one transaction."""
    from mediaflow.db.models import AnalysisResult, Transcription

    moments: list[dict[str, Any]] = []
    with connection.transaction(), connection.cursor() as cursor:
        if results:
            with cursor.copy(
                "COPY analysis_result (id, job_id, media_file_id, provider, analysis_type, "
                "model, model_version, result, confidence) FROM STDIN"
            ) as copy:
                for provider, output in results:
                    row_id = uuid.uuid4()
                    copy.write_row((
                        row_id, file.job_id, file.media_file_id, provider, output.analysis_type,
                        output.model, output.model_version, json.dumps(output.result),
                        output.confidence,
                    ))  # fmt: skip
                    moments += _result_rows(
                        AnalysisResult(
                            id=row_id, media_file_id=file.media_file_id, provider=provider,
                            analysis_type=output.analysis_type, result=output.result,
                        )
                    )  # fmt: skip
        for output in transcripts:
            row_id = uuid.uuid4()
            segments = [dataclasses.asdict(s) for s in output.segments]
            with cursor.copy(
                "COPY transcription (id, job_id, media_file_id, provider, model, language, "
                "text, segments, confidence) FROM STDIN"
            ) as copy:
                copy.write_row((
                    row_id, file.job_id, file.media_file_id, "faster_whisper", output.model,
                    output.language, output.text, json.dumps(segments), output.confidence,
                ))  # fmt: skip
            moments += _transcription_rows(
                Transcription(
                    id=row_id, media_file_id=file.media_file_id, provider="faster_whisper",
                    segments=segments,
                )
            )  # fmt: skip
        if moments:
            columns = list(moments[0])
            with cursor.copy(f"COPY search_moment ({', '.join(columns)}) FROM STDIN") as copy:
                for moment in moments:
                    copy.write_row([moment[c] for c in columns])
        if events:
            with cursor.copy(
                "COPY processing_log (job_id, media_file_id, stage, status, attempt, message, "
                "details, duration_ms) FROM STDIN"
            ) as copy:
                for e in events:
                    copy.write_row((
                        e.job_id, e.media_file_id, e.stage.value, e.status.value, e.attempt,
                        e.message, json.dumps(e.details), e.duration_ms,
                    ))  # fmt: skip
            cursor.execute(
                "UPDATE media_file SET status = 'completed', finished_at = now() WHERE id = %s",
                (file.media_file_id,),
            )


def _time(
    runs: int,
    prepare: Callable[[], Any],
    call: Callable[[Any], None],
    engine: sa.Engine | None = None,
) -> tuple[list[float], Counter]:
    """Times of ``runs`` calls after one warm-up, and what the last call sent on ``engine``."""
    times = []
    counter = Counter()
    for _ in range(runs + 1):  # the first run warms caches and is not counted
        arg = prepare()
        with counting(engine) if engine is not None else _nothing() as counted:
            started = time.perf_counter()
            call(arg)
            times.append(time.perf_counter() - started)
        counter = counted
    return times[1:], counter


@contextmanager
def _nothing() -> Iterator[Counter]:
    yield Counter()


def main() -> None:
    """Measure the three writes and their COPY floors; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0, help="length of the media")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per measure (median)")
    parser.add_argument("--frames-per-hour", type=int, default=720)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    spoken = transcript(args.hours)
    video = video_outputs(args.hours, args.frames_per_hour)
    flat = [(provider, o) for provider, outputs in video.items() for o in outputs]
    rows: list[tuple[str, float, float, Counter, str]] = []
    with (
        tempfile.TemporaryDirectory() as work,
        bench_database(args.database_url, Path(work)) as (url, label),
    ):
        db = Database(url)
        records = DatabaseRecords(db)
        engine = db.engine
        bare_connection = psycopg.connect(libpq_url(url), autocommit=True)

        def measure(
            name: str,
            write: Callable[[ClaimedFile], None],
            floor: Callable[[ClaimedFile], None],
            size: str,
        ) -> None:
            ours, counter = _time(args.runs, lambda: _fresh_file(db), write, engine)
            bare, _ = _time(args.runs, lambda: _fresh_file(db), floor)
            rows.append((name, statistics.median(ours), statistics.median(bare), counter, size))

        def save_transcript(file: ClaimedFile) -> None:
            records.save_transcription(file, "faster_whisper", spoken, 0)

        def save_video(file: ClaimedFile) -> None:
            for provider, outputs in video.items():
                records.save_analysis(file, provider, outputs, 0)

        def save_log(file: ClaimedFile) -> None:
            for event in log_events(file.job_id, file.media_file_id)[:-1]:
                records.log(event)
            records.finalize(file, FileOutcome(file.media_file_id, MediaFileStatus.COMPLETED))

        measure(
            "transcript", save_transcript,
            lambda f: _copy_floor(bare_connection, f, [], [spoken], []),
            f"{len(spoken.segments)} segments, "
            f"{sum(len(s.words) for s in spoken.segments)} words",
        )  # fmt: skip
        measure(
            "video results (OCR, faces, colours, hashes)", save_video,
            lambda f: _copy_floor(bare_connection, f, flat, [], []),
            f"{len(flat)} results over {int(args.hours * args.frames_per_hour)} frames",
        )  # fmt: skip

        def save_log_row_by_row(file: ClaimedFile) -> None:
            # what DatabaseRecords did before rows were batched: one commit per row
            for event in log_events(file.job_id, file.media_file_id)[:-1]:
                with db.session() as session:
                    add_event(session, event)
            records.finalize(file, FileOutcome(file.media_file_id, MediaFileStatus.COMPLETED))

        measure(
            "processing_log rows of one file, one commit per row (before)", save_log_row_by_row,
            lambda f: _copy_floor(
                bare_connection, f, [], [], log_events(f.job_id, f.media_file_id)
            ),
            f"{len(log_events(uuid.uuid4(), uuid.uuid4()))} rows",
        )  # fmt: skip
        measure(
            "processing_log rows of one file, one commit per step (now)", save_log,
            lambda f: _copy_floor(
                bare_connection, f, [], [], log_events(f.job_id, f.media_file_id)
            ),
            f"{len(log_events(uuid.uuid4(), uuid.uuid4()))} rows",
        )  # fmt: skip
        bare_connection.close()
        db.dispose()

    print(f"{args.hours:g} h of media; server: {label}; median of {args.runs} runs\n")
    print("| write | size | mediaflow ms | COPY floor ms | ratio | statements | commits |")
    print("|---|---|---|---|---|---|---|")
    for name, ours_s, bare_s, counter, size in rows:
        print(
            f"| {name} | {size} | {ours_s * 1000:.1f} | {bare_s * 1000:.1f} | "
            f"{ours_s / bare_s:.2f}x | {counter.statements} | {counter.commits} |"
        )


if __name__ == "__main__":
    main()
