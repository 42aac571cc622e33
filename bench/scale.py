"""Scale-out numbers: the local store beside S3, per-kind file rates, worker connections.

Everything is measured side by side in one run, on the same inputs:

- store: originals written into the local content store and uploaded to S3
  (moto's S3 server in its own process on loopback: the protocol's cost and a slow
  Python server's, not a network's) in MiB/s;
- fetch: a worker getting a local file to decode (the local store: the object
  itself; S3: a download into the cache, hashed on the way) in MiB/s;
- per media kind: seconds per file through the whole pipeline (one worker,
  concurrency 1) with originals local and on S3, and so files/hour per worker;
- connections: PostgreSQL connections one ``mediaflow worker`` process holds, idle,
  at concurrency 1 and 4 (pg_stat_activity of the scratch database).

    .venv/bin/python bench/scale.py            # ~2 minutes on 2 CPUs
    .venv/bin/python bench/scale.py --quick    # smaller files, one run
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.support import ROOT, bench_database, bench_runtime

from mediaflow.pipeline.ingest import ingest
from mediaflow.pipeline.runner import run_job
from mediaflow.runtime import Runtime
from mediaflow.storage import ContentStore, ObjectStore
from mediaflow.storage.cache import ObjectCache
from mediaflow.storage.s3 import S3Options, S3Store
from tests import media_factory as mf
from tests.fakes.s3_server import S3Server, aws_env
from tests.migration.helpers import query

MiB = 1024 * 1024


def _median(call: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _files(folder: Path, count: int, size: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"f{i}.bin"
        path.write_bytes(os.urandom(size))
        paths.append(path)
    return paths


def _new_s3(endpoint_bucket: Callable[[], str], cache: Path) -> S3Store:
    return S3Store(endpoint_bucket(), "bench", ObjectCache(cache, 64 * 1024 * MiB), S3Options())


def _rates(
    make: Callable[[int], ObjectStore], paths: list[Path], work: Path, runs: int
) -> tuple[float, float]:
    """Median seconds to store every path into a fresh store, and to fetch them cold."""
    made: list[ObjectStore] = []

    def store_all() -> None:
        store = make(len(made))  # a fresh store each run: nothing deduplicated
        made.append(store)
        for path in paths:
            store.store(path)

    store_s = _median(store_all, runs)
    last = made[-1]
    keys = list(last.iter_keys())

    def fetch_all() -> None:
        if isinstance(last, S3Store):  # a cold cache each run
            last.cache = ObjectCache(work / f"cold{time.monotonic_ns()}", 64 * 1024 * MiB)
        for key in keys:
            last.local_path(key)

    return store_s, _median(fetch_all, runs)


def storage_rows(work: Path, new_bucket: Callable[[], str], quick: bool, runs: int) -> list[str]:
    """Store and fetch MiB/s, local and S3 side by side."""
    count, size = (3, 8 * MiB) if quick else (4, 32 * MiB)
    paths = _files(work / "src", count, size)
    rows = []
    stores: dict[str, Callable[[int], ObjectStore]] = {
        "local": lambda n: ContentStore(work / f"local{n}"),
        "s3": lambda n: _new_s3(new_bucket, work / f"cache{n}"),
    }
    rates = {name: _rates(make, paths, work, runs) for name, make in stores.items()}
    total_mib = count * size / MiB
    rates = {name: (total_mib / a, total_mib / b) for name, (a, b) in rates.items()}
    local, s3 = rates["local"][0], rates["s3"][0]
    rows.append(f"| store (upload) | {local:.0f} MiB/s | {s3:.0f} MiB/s | {local / s3:.2f}x |")
    # a local store hands out the object itself: no copy to compare with
    rows.append(f"| fetch to decode (cold cache) | in place | {rates['s3'][1]:.0f} MiB/s | - |")
    rows.append(f"<!-- {count} files of {size // MiB} MiB, median of {runs} -->")
    return rows


def _media(work: Path, quick: bool) -> dict[str, tuple[list[Path], list[str] | None]]:
    folder = work / "media"
    folder.mkdir(parents=True)
    n = 2 if quick else 3
    images = [mf.make_text_image(folder / f"page{i}.png", f"PAGE {i} SCALE") for i in range(n)]
    audio = [mf.make_speech_audio(folder / f"speech{i}.mp3") for i in range(n)]
    video = [mf.make_video_with_text_and_speech(folder / f"video{i}.mp4").path for i in range(1)]
    return {
        "image (rapidocr)": (images, ["rapidocr"]),
        "speech audio (faster_whisper)": (audio, ["faster_whisper"]),
        "video, all default providers": (video, None),
    }


def pipeline_rows(runtime: Runtime, s3_runtime: Runtime, work: Path, quick: bool) -> list[str]:
    """Seconds per file, local and S3 originals, and files/hour per worker."""
    rows = []
    for kind, (paths, providers) in _media(work, quick).items():
        per_file = {}
        for label, rt in (("local", runtime), ("s3", s3_runtime)):
            # warm-up: models loaded once per worker, as in a running worker
            warm = ingest(rt, paths[:1], name="warm", providers=providers, options=None)
            run_job(rt, warm.job_id)
            job = ingest(rt, paths, name=kind, providers=providers, options=None)
            start = time.perf_counter()
            run_job(rt, job.job_id)
            per_file[label] = (time.perf_counter() - start) / len(paths)
        local, s3 = per_file["local"], per_file["s3"]
        rows.append(
            f"| {kind} | {local:.2f} s | {s3:.2f} s | {3600 / local:.0f} | {3600 / s3:.0f} "
            f"| {s3 / local:.2f}x |"
        )
    return rows


def connection_rows(url: str, data_dir: Path) -> list[str]:
    """PostgreSQL connections of one idle ``mediaflow worker`` at concurrency 1 and 4."""
    database = url.rsplit("/", 1)[1]
    data_dir.mkdir(parents=True, exist_ok=True)  # a configured data dir must exist
    rows = []
    for concurrency in (1, 4):
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAFLOW_")}
        env.update(
            MEDIAFLOW_DATABASE_URL=url, MEDIAFLOW_DATA_DIR=str(data_dir),
            PYTHONPATH=f"{ROOT / 'src'}:{ROOT}",
        )  # fmt: skip
        proc = subprocess.Popen(
            [sys.executable, "-m", "mediaflow", "worker", "-c", str(concurrency)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            count = 0
            while time.monotonic() < deadline:
                time.sleep(1)
                (present,) = query(
                    url,
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = :d "
                    "AND application_name LIKE 'mediaflow-worker %'",
                    d=database,
                )
                if present[0]:
                    time.sleep(2)  # settled: pool, listener, presence
                    count = query(
                        url,
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = :d "
                        "AND pid <> pg_backend_pid()",
                        d=database,
                    )[0][0]
                    break
        finally:
            proc.terminate()
            proc.wait(60)
        rows.append(f"| connections of one idle worker, concurrency {concurrency} | {count} |")
    return rows


def pipeline_table(url: str, work: Path, bucket: str, quick: bool) -> None:
    """Print the per-kind table: the same files through a local and an S3 runtime."""
    s3_store = _new_s3(lambda: bucket, work / "data-s3" / "cache")
    with (
        bench_runtime(url, work / "data") as runtime,
        bench_runtime(url, work / "data-s3", store=s3_store, providers=runtime.providers) as s3rt,
    ):
        print()
        print(
            "| media kind | s/file local | s/file S3 | files/h/worker local "
            "| files/h/worker S3 | S3 / local |"
        )
        print("| --- | --- | --- | --- | --- | --- |")
        for row in pipeline_rows(runtime, s3rt, work / "pipeline", quick):
            print(row, flush=True)


@contextlib.contextmanager
def moto_process() -> Iterator[S3Server]:
    """moto's S3 server in its own process (in this one it would share our GIL)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-c", "from moto.server import main; main()",
         "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    server = S3Server(f"http://127.0.0.1:{port}", "127.0.0.1", port)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    """Run every measure and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--only", action="append", choices=["storage", "pipeline", "connections"], default=None
    )
    args = parser.parse_args()
    runs = args.runs or (1 if args.quick else 3)
    with tempfile.TemporaryDirectory(prefix="mediaflow-bench-scale-") as tmp, moto_process() as s3:
        work = Path(tmp)
        work.chmod(0o755)
        os.environ.update(aws_env(s3.endpoint))
        only = set(args.only or ["storage", "pipeline", "connections"])
        if "storage" in only:
            print("| measure | local store | S3 (moto, loopback) | local / S3 |")
            print("| --- | --- | --- | --- |")
            for row in storage_rows(work / "storage", s3.new_bucket, args.quick, runs):
                print(row, flush=True)
        with bench_database(args.database_url, work) as (url, label):
            if "pipeline" in only:
                pipeline_table(url, work, s3.new_bucket(), args.quick)
            if "connections" in only:
                print()
                print("| database | connections |")
                print("| --- | --- |")
                for row in connection_rows(url, work / "data-worker"):
                    print(row, flush=True)
        print()
        print(
            f"CPUs {os.cpu_count()}, Python {platform.python_version()}, database: {label}; "
            f"runs {runs}{' (quick)' if args.quick else ''}"
        )


if __name__ == "__main__":
    main()
