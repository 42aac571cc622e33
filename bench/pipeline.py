"""Side-by-side speed measurements of mediaflow against the libraries it wraps.

Run from the repository root::

    .venv/bin/python bench/pipeline.py            # full run
    .venv/bin/python bench/pipeline.py --quick    # fewer files and tasks
    .venv/bin/python bench/pipeline.py --only transcription --runs 5

Every figure is measured in the same process, on the same machine, on the same
inputs: speed targets live here, never in the tests. Three measures:

1. transcription: ~30 s of espeak-ng speech, faster-whisper called directly (the
   provider's model and settings) vs ``ingest(providers=["faster_whisper"])`` + ``run_job``;
2. ingest + probe: mediaflow's ``ingest`` of a folder of small generated files and a
   ``probe`` of each stored object vs a bare PyAV loop (open, streams, duration);
3. queue: empty tasks deferred and run by a worker (concurrency 4): bare procrastinate
   Apps vs mediaflow's own path (``runtime.queue.defer_files``, then
   ``mediaflow.pipeline.worker.run_worker`` with a no-op file processor).

Each measure runs once to warm up, then ``--runs`` times; the median is reported.
A scratch database is created on the server (``--database-url``, else the service on
127.0.0.1:5432, else an embedded PostgreSQL in a temp folder), migrated to head, and
dropped at the end (``bench/support.py``, on the test suite's own helpers).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import uuid
import wave
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # for bench/support.py and tests/media_factory.py

from bench.support import bench_database, bench_runtime, succeeded_then_clear  # noqa: E402

from mediaflow.runtime import Runtime  # noqa: E402

QUEUE_NAME = "mfbench"

# ~80 words: about 30 s at espeak-ng's 150 words per minute.
SPEECH_TEXT = (
    "Media flow is a self hosted system for the analysis of video, audio and images. "
    "People drop in their files and it extracts the technical metadata, transcribes "
    "the speech, and runs visual and audio analysis through pluggable providers. "
    "Everything is stored in a database, where it can be searched, reviewed and "
    "exported. The quick brown fox jumps over the lazy dog, and the five boxing "
    "wizards jump quickly while the rain in Spain stays mainly in the plain."
)


@dataclass(frozen=True)
class Row:
    """One line of the result table: a measure, its two sides and what they mean."""

    measure: str
    baseline: str
    mediaflow: str
    ratio: str
    note: str = ""


@dataclass(frozen=True)
class Context:
    """What every measure needs: a runtime on the scratch database, a work folder, the options."""

    runtime: Runtime
    work: Path
    runs: int
    quick: bool

    def with_store(self, folder: Path) -> Runtime:
        """This runtime's settings, database and providers, keeping originals in ``folder``."""
        from mediaflow.storage import ContentStore

        rt = self.runtime
        return Runtime(rt.settings, db=rt.db, store=ContentStore(folder), providers=rt.providers)


# ----------------------------------------------------------------------------- helpers


def paired_medians(
    baseline: Callable[[], object], mediaflow: Callable[[], object], runs: int
) -> tuple[float, float]:
    """Median wall times of two calls, each warmed up once, then timed alternately.

    Alternating the runs spreads any change in the machine's load (other processes,
    CPU frequency) over both sides instead of biasing whichever ran second.
    """
    baseline()
    mediaflow()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for call, bucket in ((baseline, times[0]), (mediaflow, times[1])):
            started = time.perf_counter()
            call()
            bucket.append(time.perf_counter() - started)
    return statistics.median(times[0]), statistics.median(times[1])


def ratio(mediaflow: float, baseline: float) -> str:
    """mediaflow's cost over the baseline's, as ``1.23x`` (higher: mediaflow is slower)."""
    return f"{mediaflow / baseline:.2f}x" if baseline > 0 else "n/a"


def version(distribution: str) -> str:
    """The installed version of ``distribution``, or ``-``."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def wav_seconds(path: Path) -> float:
    """Duration of a PCM WAV file."""
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


# ----------------------------------------------------------------------------- transcription


def make_speech(work: Path) -> tuple[Path, float]:
    """~30 s of espeak-ng speech as a 16 kHz mono WAV (mediaflow's extract_audio)."""
    from mediaflow.media.audio import extract_audio
    from tests.media_factory import speak_wav

    raw = speak_wav(SPEECH_TEXT, work / "speech_22k.wav")
    wav = extract_audio(raw, work / "speech_16k.wav")
    assert wav is not None, "espeak-ng wrote no audio"
    return wav, wav_seconds(wav)


def bench_transcription(ctx: Context) -> list[Row]:
    """faster-whisper directly vs ingest + run_job with the faster_whisper provider."""
    from faster_whisper import WhisperModel

    from mediaflow.pipeline.ingest import ingest
    from mediaflow.pipeline.runner import run_job
    from mediaflow.providers.transcription.faster_whisper import (
        DEFAULT_MODEL_NAME,
        model_path_for,
    )

    folder = ctx.work / "transcription"
    folder.mkdir()
    wav, seconds = make_speech(folder)
    runtime = ctx.with_store(ctx.work / "store-transcription")
    provider: Any = runtime.providers.transcriber("faster_whisper")
    threads: int = provider.cpu_threads
    beam_size: int = provider.beam_size
    # the very model the provider loads (the whisper_model setting, else bundled tiny.en)
    model_path: Path = provider.model_path
    bundled = model_path_for(runtime.settings.model_copy(update={"whisper_model": None}))
    model_name = DEFAULT_MODEL_NAME if model_path == bundled else model_path.name

    model = WhisperModel(
        str(model_path),
        device="cpu",
        compute_type="int8",
        cpu_threads=threads,
        local_files_only=True,
    )
    words: list[int] = []

    def direct() -> None:
        segments, _ = model.transcribe(
            str(wav),
            beam_size=beam_size,
            vad_filter=True,
            condition_on_previous_text=False,
            word_timestamps=True,
        )
        words.append(sum(len(s.words or []) for s in segments))

    statuses: list[str] = []

    def through_mediaflow() -> None:
        result = ingest(
            runtime, [wav], name="bench transcription", providers=["faster_whisper"], options=None
        )
        outcome = run_job(runtime, result.job_id)
        statuses.append(f"{outcome.status.value}/{outcome.files[0].transcriptions}")

    direct_s, mediaflow_s = paired_medians(direct, through_mediaflow, ctx.runs)
    if any(s != "completed/1" for s in statuses):
        raise RuntimeError(f"mediaflow transcription did not complete: {statuses}")
    return [
        Row(
            f"transcription, {seconds:.1f} s speech (s)",
            f"{direct_s:.2f}",
            f"{mediaflow_s:.2f}",
            ratio(mediaflow_s, direct_s),
            f"{model_name} int8, beam {beam_size}, {threads} threads, {words[-1]} words",
        ),
        Row(
            "transcription real-time factor",
            f"{direct_s / seconds:.3f}",
            f"{mediaflow_s / seconds:.3f}",
            ratio(mediaflow_s, direct_s),
            "processing time / audio time",
        ),
    ]


# ----------------------------------------------------------------------------- ingest + probe


def _tone_wav(path: Path, frequency: float, seconds: float = 0.5, rate: int = 16_000) -> None:
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.3 * 32767 * np.sin(2 * np.pi * frequency * t)).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())


def make_small_files(folder: Path, count: int) -> list[Path]:
    """``count`` distinct small media files: half short H.264 MP4s, half WAV tones."""
    from tests.media_factory import Shot, make_video

    folder.mkdir(parents=True)
    paths = []
    for i in range(count):
        if i % 2 == 0:
            path = folder / f"clip_{i:03d}.mp4"
            make_video(path, [Shot(0.4, text=str(i))], fps=10, size=(160, 96))
        else:
            path = folder / f"tone_{i:03d}.wav"
            _tone_wav(path, 200.0 + 10.0 * i)
        paths.append(path)
    return paths


def bench_ingest(ctx: Context) -> list[Row]:
    """mediaflow ingest (store + rows) + probe of each stored file vs a bare PyAV loop."""
    import av

    from mediaflow.db.models import MediaFile
    from mediaflow.media.probe import probe
    from mediaflow.pipeline.ingest import ingest

    count = 20 if ctx.quick else 50
    folder = ctx.work / "small"
    paths = make_small_files(folder, count)

    def bare_pyav() -> None:
        for path in paths:
            with av.open(str(path)) as container:
                _ = [(s.type, s.codec_context.name) for s in container.streams]
                _ = container.duration

    stores: list[int] = []
    ingest_times: list[float] = []
    probe_times: list[float] = []

    def through_mediaflow() -> None:
        stores.append(len(stores))
        started = time.perf_counter()
        # A fresh store each run, so that every run writes every file (no deduplication).
        runtime = ctx.with_store(ctx.work / f"store-ingest-{len(stores)}")
        result = ingest(runtime, [folder], name="bench ingest", providers=[], options=None)
        if len(result.media_file_ids) != count:
            raise RuntimeError(f"ingested {len(result.media_file_ids)} of {count} files")
        with runtime.db.session() as session:
            keys = [session.get_one(MediaFile, i).storage_key for i in result.media_file_ids]
        ingested = time.perf_counter()
        for key in keys:
            assert key is not None, "ingest stored every file"
            probe(runtime.store.local_path(key))
        ingest_times.append(ingested - started)
        probe_times.append(time.perf_counter() - ingested)

    baseline_s, mediaflow_s = paired_medians(bare_pyav, through_mediaflow, ctx.runs)
    return [
        Row(
            f"ingest + probe, {count} small files (files/s)",
            f"{count / baseline_s:.0f}",
            f"{count / mediaflow_s:.0f}",
            ratio(mediaflow_s, baseline_s),
            "baseline: av.open + streams + duration only",
        ),
        Row(
            "  of which ingest: store + rows (files/s)",
            "-",
            f"{count / statistics.median(ingest_times[1:]):.0f}",
            "-",
            "sha256 + fsync per file, one transaction for the job",
        ),
        Row(
            "  of which probe (files/s)",
            f"{count / baseline_s:.0f}",
            f"{count / statistics.median(probe_times[1:]):.0f}",
            ratio(statistics.median(probe_times[1:]), baseline_s),
            "probe runs detect() first: it decodes to prove the file is readable",
        ),
    ]


# ----------------------------------------------------------------------------- queue


@dataclass(frozen=True)
class QueueSide:
    """One side of the queue measure: how tasks are deferred, and how a worker runs them."""

    queue: str
    # Defers that many no-op tasks, one by one, on an App that is already open.
    defer: Callable[[int], None]
    # Works the queue off until it is empty, opening its App itself (as a worker would).
    work_off: Callable[[], Awaitable[None]]
    close: Callable[[], None]


def _queue_run(side: QueueSide, runtime: Runtime, count: int) -> tuple[float, float]:
    """Defer ``count`` runs of the side's no-op task and work them off; (defer s, worker s)."""
    started = time.perf_counter()
    side.defer(count)
    deferred = time.perf_counter() - started
    started = time.perf_counter()
    asyncio.run(side.work_off())
    worked = time.perf_counter() - started
    done = succeeded_then_clear(runtime, side.queue)
    if done != count:
        raise RuntimeError(f"worker finished {done} of {count} tasks")
    return deferred, worked


def _direct_side(ctx: Context) -> QueueSide:
    """procrastinate alone, the way mediaflow uses it: a synchronous App defers (``defer``),
    the same App on an async connector works the queue off (``run_worker_async``)."""
    from procrastinate import App, PsycopgConnector, SyncPsycopgConnector

    libpq = ctx.runtime.db.libpq_url()
    app = App(connector=SyncPsycopgConnector(conninfo=libpq))

    @app.task(name="mfbench.noop", queue=QUEUE_NAME)
    async def noop(n: int) -> None:
        """Do nothing: the queue's own overhead is what is measured."""

    app.open()

    def defer(count: int) -> None:
        for i in range(count):
            noop.defer(n=i)

    async def work_off() -> None:
        worker_app = app.with_connector(PsycopgConnector(conninfo=libpq))
        async with worker_app.open_async():
            await worker_app.run_worker_async(
                queues=[QUEUE_NAME], concurrency=4, wait=False, install_signal_handlers=False
            )

    return QueueSide(QUEUE_NAME, defer, work_off, app.close)


def _noop_processor(runtime: Runtime, media_file_id: uuid.UUID, providers: list[str] | None) -> str:
    """Do nothing with the file: the queue's own overhead is what is measured."""
    return "completed"


def _mediaflow_side(ctx: Context) -> QueueSide:
    """mediaflow's own path: ``runtime.queue.defer_files`` and ``worker.run_worker``.

    The worker is mediaflow's (its App with the ``process_file`` task, heartbeats, the
    stalled-task sweeper, its worker options) with a no-op file processor in place of
    the pipeline, so the tasks need no media_file rows. The ids deferred are random;
    the scratch database holds nothing else, so no real media task is on that queue.
    """
    from mediaflow.pipeline.worker import run_worker
    from mediaflow.queue import MEDIA_QUEUE

    runtime = ctx.runtime

    def defer(count: int) -> None:
        runtime.queue.defer_files([uuid.uuid4() for _ in range(count)])

    async def work_off() -> None:
        await run_worker(
            runtime, 4, wait=False, install_signal_handlers=False, processor=_noop_processor
        )

    return QueueSide(MEDIA_QUEUE, defer, work_off, runtime.queue.close)


def bench_queue(ctx: Context) -> list[Row]:
    """Empty tasks: procrastinate directly, and through mediaflow's queue and worker."""
    import logging

    import sqlalchemy as sa

    logging.getLogger("procrastinate").setLevel(logging.ERROR)
    count = 100 if ctx.quick else 500
    with ctx.runtime.db.session() as session:
        present = session.execute(sa.text("SELECT to_regclass('procrastinate_jobs')")).scalar()
    if present is None:
        from procrastinate import App, SyncPsycopgConnector

        sync_app = App(connector=SyncPsycopgConnector(conninfo=ctx.runtime.db.libpq_url()))
        with sync_app.open():
            sync_app.schema_manager.apply_schema()
        schema = "schema applied by procrastinate"
    else:
        schema = "schema from mediaflow's migrations"

    sides = [_direct_side(ctx), _mediaflow_side(ctx)]
    note = f"{count} tasks, concurrency 4, {schema}; mediaflow: runtime.queue.defer_files"
    try:
        for side in sides:  # warm-up (opens each side's defer pool)
            _queue_run(side, ctx.runtime, max(10, count // 10))
        defers: list[list[float]] = [[] for _ in sides]
        works: list[list[float]] = [[] for _ in sides]
        for _ in range(ctx.runs):  # alternating, like paired_medians
            for i, side in enumerate(sides):
                d, w = _queue_run(side, ctx.runtime, count)
                defers[i].append(d)
                works[i].append(w)
    finally:
        for side in sides:
            side.close()
    direct_defer, direct_work = statistics.median(defers[0]), statistics.median(works[0])
    mediaflow_defer, mediaflow_work = statistics.median(defers[1]), statistics.median(works[1])

    def rate(value: float) -> str:
        return f"{count / value:.0f}"

    return [
        Row(
            "queue: defer (jobs/s)",
            rate(direct_defer),
            rate(mediaflow_defer),
            ratio(mediaflow_defer, direct_defer),
            note,
        ),
        Row(
            "queue: worker runs empty tasks (jobs/s)",
            rate(direct_work),
            rate(mediaflow_work),
            ratio(mediaflow_work, direct_work),
            "until the queue is empty; direct: run_worker_async(wait=False), "
            "mediaflow: worker.run_worker(runtime, 4, wait=False), no-op processor",
        ),
    ]


# ----------------------------------------------------------------------------- output


def machine_facts(database: str) -> list[tuple[str, str]]:
    """What the numbers depend on: CPUs, Python, library versions, the database."""
    facts = [
        ("cpus", str(os.cpu_count())),
        ("platform", platform.platform()),
        ("python", platform.python_version()),
        ("database", database),
    ]
    for dist in (
        "mediaflow",
        "faster-whisper",
        "ctranslate2",
        "av",
        "procrastinate",
        "psycopg",
        "SQLAlchemy",
    ):
        facts.append((dist, version(dist)))
    return facts


def print_report(rows: list[Row], facts: list[tuple[str, str]], runs: int) -> None:
    """The table (Rich) and the machine facts."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=160)
    table = Table(title=f"mediaflow vs direct (median of {runs} runs after 1 warm-up)")
    for column in ("measure", "direct/baseline", "mediaflow", "ratio", "note"):
        table.add_column(column, justify="left" if column in {"measure", "note"} else "right")
    for row in rows:
        table.add_row(row.measure, row.baseline, row.mediaflow, row.ratio, row.note)
    console.print(table)
    console.print("ratio = mediaflow time / direct time (1.00x: no overhead; higher: slower)")
    for key, value in facts:
        console.print(f"  {key:<15} {value}")


# ----------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="server URL (default: 127.0.0.1:5432 or embedded)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per measure (median)")
    parser.add_argument("--quick", action="store_true", help="fewer files and tasks")
    parser.add_argument("--only", choices=["transcription", "ingest", "queue"], action="append")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the chosen measures on a scratch database and print the table."""
    args = parse_args(argv)
    only = set(args.only or ["transcription", "ingest", "queue"])
    work = Path(tempfile.mkdtemp(prefix="mfbench-"))
    work.chmod(0o755)  # an embedded server runs as its own system user
    benches: list[tuple[str, Callable[[Context], list[Row]]]] = [
        ("transcription", bench_transcription),
        ("ingest", bench_ingest),
        ("queue", bench_queue),
    ]
    rows: list[Row] = []
    try:
        # Nothing mediaflow writes (data dir, embedded server) escapes the temp folder.
        with (
            bench_database(args.database_url, work) as (url, database),
            bench_runtime(url, work / "data") as runtime,
        ):
            ctx = Context(runtime=runtime, work=work, runs=args.runs, quick=args.quick)
            for name, bench in benches:
                if name in only:
                    print(f"measuring {name} ...", file=sys.stderr, flush=True)
                    rows.extend(bench(ctx))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_report(rows, machine_facts(database), args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
