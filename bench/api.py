"""REST API throughput and latency, next to the same reads done directly with psycopg.

Run from the repository root::

    .venv/bin/python bench/api.py                    # 10 s per measure, 16 clients
    .venv/bin/python bench/api.py --seconds 5 --concurrency 8 --transcripts 2000

What it does, in one run on one machine:

1. a scratch database at head (``bench/support.py``, as for bench/pipeline.py:
   ``--database-url``, else the service on 127.0.0.1:5432, else an embedded
   PostgreSQL), filled with the bundled samples processed by the real pipeline plus
   ``--transcripts`` generated transcripts (random sentences from a fixed vocabulary)
   so that search has work to do;
2. a real ``mediaflow serve`` (uvicorn, one process, no in-process worker) on a
   loopback port;
3. for ``GET /jobs/{id}`` and ``GET /search?q=...``: ``--concurrency`` asyncio clients
   (httpx, keep-alive) send requests back to back for ``--seconds``; then the same
   number of psycopg async connections run the SQL that answers the same question
   (the job row and its files with their latest stage, from which the counts come; the
   search module's own transcript query) for the same time.

The table gives requests/s, p50 and p95 latency for both, and the ratios (API cost
over the bare queries: HTTP, JSON, validation, the session per request). The load
generator runs in the same machine and competes for the same cores: compare ratios,
not absolute numbers, between machines.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.support import bench_database, bench_runtime, live_server  # noqa: E402

SAMPLES = [ROOT / "samples" / n for n in ("speech_video.mp4", "text_image.png", "speech.mp3")]
VOCABULARY = [
    "media",
    "analysis",
    "speech",
    "video",
    "audio",
    "image",
    "frame",
    "scene",
    "face",
    "text",
    "search",
    "result",
    "provider",
    "worker",
    "queue",
    "database",
    "index",
    "transcript",
    "archive",
    "interview",
    "camera",
    "light",
    "studio",
    "river",
    "mountain",
    "city",
    "market",
    "evening",
    "morning",
    "weather",
    "report",
    "music",
    "voice",
]

# The reads behind GET /jobs/{id}: the job, its counts by status, its files with the
# stage of their newest processing_log row.
JOB_SQL = (
    "SELECT id, name, status, options, error, created_at, started_at, finished_at "
    "FROM analysis_job WHERE id = %(id)s",
    "SELECT f.id, f.original_name, f.status, f.media_type, f.file_type, f.size_bytes, "
    "f.duration_s, f.error, l.stage FROM media_file f LEFT JOIN LATERAL ("
    " SELECT stage FROM processing_log p WHERE p.media_file_id = f.id"
    " ORDER BY p.id DESC LIMIT 1) l ON true WHERE f.job_id = %(id)s ORDER BY f.created_at",
)


@dataclass
class Measure:
    """Latencies (seconds) of the requests completed in ``elapsed`` seconds."""

    latencies: list[float]
    elapsed: float
    errors: int

    @property
    def rate(self) -> float:
        """Completed requests per second."""
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        """The p-th percentile latency in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


async def _load(call: Callable[[], Awaitable[bool]], clients: int, seconds: float) -> Measure:
    """``clients`` loops calling ``call`` back to back until ``seconds`` have passed."""
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def loop() -> None:
        nonlocal errors
        while time.perf_counter() < stop:
            started = time.perf_counter()
            ok = await call()
            if ok:
                latencies.append(time.perf_counter() - started)
            else:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(clients)))
    return Measure(latencies, time.perf_counter() - started, errors)


async def measure_http(base_url: str, path: str, clients: int, seconds: float) -> Measure:
    """GET ``path`` from the server with ``clients`` keep-alive connections."""
    import httpx

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        await client.get(path)  # warm-up: first-request imports, plans, pool

        async def call() -> bool:
            response = await client.get(path)
            await response.aread()
            return response.status_code == 200

        return await _load(call, clients, seconds)


async def measure_sql(
    libpq: str, statements: list[tuple[str, dict[str, object]]], clients: int, seconds: float
) -> Measure:
    """Run ``statements`` (fetching every row) on ``clients`` psycopg async connections."""
    import psycopg

    connections = [await psycopg.AsyncConnection.connect(libpq) for _ in range(clients)]
    free: asyncio.Queue[psycopg.AsyncConnection[tuple[object, ...]]] = asyncio.Queue()
    for connection in connections:
        await connection.set_autocommit(True)
        free.put_nowait(connection)

    async def call() -> bool:
        connection = await free.get()
        try:
            for sql, params in statements:
                cursor = await connection.execute(sql, params)  # type: ignore[arg-type]
                await cursor.fetchall()
            return True
        finally:
            free.put_nowait(connection)

    try:
        await call()  # warm-up
        return await _load(call, clients, seconds)
    finally:
        for connection in connections:
            await connection.close()


def fill(url: str, data_dir: Path, transcripts: int) -> str:
    """Process the samples through the pipeline; add generated transcripts. Return a job id."""
    import sqlalchemy as sa

    from mediaflow.pipeline.ingest import ingest
    from mediaflow.pipeline.runner import run_job

    words = "ARRAY[" + ",".join(f"'{w}'" for w in VOCABULARY) + "]"
    sentence = (
        f"(SELECT string_agg(({words})[1 + floor(random() * {len(VOCABULARY)})::int], ' ') "
        "FROM generate_series(1, 12 + g % 20))"
    )
    with bench_runtime(url, data_dir) as runtime:  # closed before the server starts
        job = ingest(runtime, SAMPLES, name="bench samples", providers=None, options=None)
        run_job(runtime, job.job_id)
        with runtime.db.session() as session:
            session.execute(
                sa.text(
                    "WITH j AS (INSERT INTO analysis_job (name, status) VALUES "
                    "('bench transcripts', 'completed') RETURNING id), "
                    "f AS (INSERT INTO media_file (job_id, original_name, status) "
                    "SELECT j.id, 'generated-' || g || '.wav', 'completed' "
                    "FROM j, generate_series(1, :n) g RETURNING id, job_id) "
                    "INSERT INTO transcription (job_id, media_file_id, provider, text, segments) "
                    f"SELECT f.job_id, f.id, 'faster_whisper', t.text, jsonb_build_array("
                    "jsonb_build_object('start', 0, 'end', 5, 'text', t.text)) "
                    f"FROM (SELECT id, job_id, row_number() OVER () AS g FROM f) f "
                    f"CROSS JOIN LATERAL (SELECT {sentence} AS text) t"
                ),
                {"n": transcripts},
            )
            session.execute(sa.text("ANALYZE"))
    return str(job.job_id)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="server URL (default: 127.0.0.1:5432 or embedded)")
    parser.add_argument("--seconds", type=float, default=10.0, help="load time per measure")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent clients")
    parser.add_argument("--transcripts", type=int, default=5000, help="generated transcripts")
    parser.add_argument("--query", default="interview camera", help="the search text")
    args = parser.parse_args(argv)

    import sqlalchemy as sa
    from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect

    from mediaflow.db.session import libpq_url
    from mediaflow.services.search import DEFAULT_THRESHOLD, transcript_query

    with tempfile.TemporaryDirectory(prefix="mfbench-api-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # an embedded server runs as its own system user
        with bench_database(args.database_url, work) as (url, server):
            print(f"filling {server} ...", flush=True)
            job_id = fill(url, work, args.transcripts)
            built = transcript_query(args.query)
            assert built is not None
            search_sql, search_params = built
            # the threshold is not a parameter of the query: search sets it per transaction
            threshold_value = search_params.pop("threshold", DEFAULT_THRESHOLD)
            libpq = libpq_url(url)
            # the search module's own SQL, compiled to psycopg's paramstyle
            compiled = (
                sa.text(search_sql)
                .bindparams(**search_params)
                .compile(dialect=psycopg_dialect.dialect())
            )
            threshold = (
                "SELECT set_config('pg_trgm.word_similarity_threshold', %(t)s, false)",
                {"t": str(threshold_value)},
            )
            search_statements = [threshold, (compiled.string, dict(compiled.params))]
            rows: list[tuple[str, Measure, Measure]] = []
            with live_server(
                database_url=url, data_dir=work, args=("--workers", "0")
            ) as server_proc:
                base = server_proc.base_url
                for label, path, statements in (
                    ("GET /jobs/{id}", f"/jobs/{job_id}", [(s, {"id": job_id}) for s in JOB_SQL]),
                    (
                        "GET /search?q=",
                        f"/search?q={args.query.replace(' ', '+')}",
                        search_statements,
                    ),
                ):
                    http = asyncio.run(measure_http(base, path, args.concurrency, args.seconds))
                    sql = asyncio.run(
                        measure_sql(libpq, statements, args.concurrency, args.seconds)
                    )
                    rows.append((label, http, sql))

    print()
    print(
        f"bench/api.py: {args.concurrency} clients, {args.seconds:g} s per measure, "
        f"{args.transcripts} generated transcripts, {server}"
    )
    header = (
        f"{'endpoint':<16} {'API req/s':>10} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'SQL q/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'req/s ratio':>12} {'p95 ratio':>10}"
    )
    print(header)
    print("-" * len(header))
    for label, http, sql in rows:
        print(
            f"{label:<16} {http.rate:>10.0f} {http.percentile(50):>8.1f} "
            f"{http.percentile(95):>8.1f} {sql.rate:>9.0f} {sql.percentile(50):>8.1f} "
            f"{sql.percentile(95):>8.1f} {sql.rate / http.rate if http.rate else 0:>11.1f}x "
            f"{http.percentile(95) / sql.percentile(95):>9.1f}x"
        )
        if http.errors or sql.errors:
            print(f"  errors: API {http.errors}, SQL {sql.errors}")
    print("\nreq/s ratio: bare SQL rate / API rate; p95 ratio: API p95 / SQL p95")
    return 0


if __name__ == "__main__":
    sys.exit(main())
