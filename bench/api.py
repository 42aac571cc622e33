"""``GET /jobs/{id}`` through the REST API vs the same SQL, with a load generator on loopback.

Run from the repository root::

    .venv/bin/python bench/api.py                          # 10 s per measure, 16 clients
    .venv/bin/python bench/api.py --seconds 5 --http-workers 1,2 --files 20

What it does, in one run on one machine:

1. a scratch database at head (``bench/support.py``: ``--database-url``, else the
   service on 127.0.0.1:5432, else an embedded PostgreSQL) holding one job of
   ``--files`` files in every state, each with the processing_log rows a run leaves;
2. for each ``--http-workers`` value, a real ``mediaflow serve --workers 0
   --http-workers N`` on a loopback port, loaded for ``--seconds`` by
   ``--concurrency`` keep-alive connections asking ``GET /jobs/{id}``;
3. the very statement that answers that request (``services.job_reads.JOB_DETAIL_SQL``)
   run on ``--concurrency`` connections for the same time.

The load generators are C programs when the machine has them: ``wrk`` for HTTP and
``pgbench`` (prepared statements) for SQL; else Python ones (httpx, psycopg), which
cost far more CPU per request. Each generator's CPU time over the measure's wall
time says how many of the machine's cores it used: on a small machine it competes
with the server, so compare ratios, not absolute numbers, between machines.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.support import bench_database, live_server  # noqa: E402


@dataclass
class Measure:
    """Requests completed, their mean latency, and what the generator cost."""

    rate: float  # requests (or statements) per second
    mean_ms: float  # mean latency
    generator: str
    generator_cpu_s: float
    elapsed: float
    errors: int = 0

    @property
    def cores(self) -> float:
        """How many cores the load generator kept busy on average."""
        return self.generator_cpu_s / self.elapsed if self.elapsed else 0.0


def tree_cpu(root: int) -> float:
    """CPU seconds used so far by process ``root`` and its descendants (Linux /proc)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        # utime, stime, and cutime, cstime: children already reaped (the backends of
        # connections closed meanwhile) count in their parent
        times[pid] = sum(int(f) for f in fields[11:15]) / tick
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    return sum(times.get(pid, 0.0) for pid in tree)


def postmaster_pid(libpq: str) -> int:
    """The PostgreSQL server's main process (the parent of a backend) on this machine."""
    import psycopg

    with psycopg.connect(libpq) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
    return int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])


@contextmanager
def _child_cpu() -> Iterator[list[float]]:
    """CPU seconds (user + system) of child processes that ended inside the block."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    spent: list[float] = []
    yield spent
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    spent.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)


def _duration_ms(text: str) -> float:
    value = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if value is None:
        return float("nan")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[value.group(2)]
    return float(value.group(1)) * scale


def http_wrk(url: str, clients: int, seconds: float) -> Measure:
    """``wrk`` on ``url``: ``clients`` connections on two threads."""
    threads = str(min(2, clients))
    with _child_cpu() as cpu:
        started = time.perf_counter()
        out = subprocess.run(
            ["wrk", "-t", threads, "-c", str(clients), "-d", f"{seconds:g}s", url],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        elapsed = time.perf_counter() - started
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    latency = re.search(r"Latency\s+(\S+)", out)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return Measure(
        rate,
        _duration_ms(latency.group(1)) if latency else float("nan"),
        "wrk",
        cpu[0],
        elapsed,
        int(errors.group(1)) if errors else 0,
    )


def sql_pgbench(
    libpq: str, sql: str, params: dict[str, str], clients: int, seconds: float
) -> Measure:
    """``pgbench -M prepared`` running ``sql`` (psycopg ``%(name)s`` placeholders)."""
    # pgbench reads ':name' as a variable even inside a literal: spell the time
    # formats' colons as chr(58) (constant-folded when planned: the same statement)
    sql = sql.replace("HH24:MI:SS", "HH24' || chr(58) || 'MI' || chr(58) || 'SS")
    script = re.sub(r"%\((\w+)\)s", r":\1", sql).strip().rstrip(";") + ";\n"
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as handle:
        handle.write(script)
    defines = [arg for name, value in params.items() for arg in ("-D", f"{name}={value}")]
    try:
        with _child_cpu() as cpu:
            started = time.perf_counter()
            out = subprocess.run(
                ["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", str(min(2, clients)),
                 "-T", str(max(1, round(seconds))), *defines, "-f", handle.name, libpq],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            elapsed = time.perf_counter() - started
    finally:
        os.unlink(handle.name)
    rate = float(re.search(r"tps = ([\d.]+)", out).group(1))  # type: ignore[union-attr]
    latency = re.search(r"latency average = ([\d.]+) ms", out)
    failed = re.search(r"number of failed transactions: (\d+)", out)
    return Measure(
        rate,
        float(latency.group(1)) if latency else float("nan"),
        "pgbench",
        cpu[0],
        elapsed,
        int(failed.group(1)) if failed else 0,
    )


async def _load(call: Callable[[], Awaitable[bool]], clients: int, seconds: float) -> Measure:
    """``clients`` loops calling ``call`` back to back until ``seconds`` have passed."""
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def loop() -> None:
        nonlocal errors
        while time.perf_counter() < stop:
            started = time.perf_counter()
            if await call():
                latencies.append(time.perf_counter() - started)
            else:
                errors += 1

    cpu = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    mean = sum(latencies) / len(latencies) * 1000 if latencies else float("nan")
    return Measure(len(latencies) / elapsed, mean, "", time.process_time() - cpu, elapsed, errors)


async def http_python(url: str, clients: int, seconds: float) -> Measure:
    """GET ``url`` with ``clients`` keep-alive httpx connections (no wrk here)."""
    import httpx

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        await client.get(url)

        async def call() -> bool:
            response = await client.get(url)
            await response.aread()
            return response.status_code == 200

        measure = await _load(call, clients, seconds)
    measure.generator = "httpx (Python)"
    return measure


async def sql_python(
    libpq: str, sql: str, params: dict[str, str], clients: int, seconds: float
) -> Measure:
    """``sql`` on ``clients`` psycopg async connections (no pgbench here)."""
    import psycopg

    connections = [
        await psycopg.AsyncConnection.connect(libpq, autocommit=True) for _ in range(clients)
    ]
    free: asyncio.Queue[psycopg.AsyncConnection[tuple[object, ...]]] = asyncio.Queue()
    for connection in connections:
        free.put_nowait(connection)

    async def call() -> bool:
        connection = await free.get()
        try:
            cursor = await connection.execute(sql, params, prepare=True)  # type: ignore[arg-type]
            await cursor.fetchall()
            return True
        finally:
            free.put_nowait(connection)

    try:
        await call()
        measure = await _load(call, clients, seconds)
    finally:
        for connection in connections:
            await connection.close()
    measure.generator = "psycopg (Python)"
    return measure


def fill(url: str, files: int) -> str:
    """One job of ``files`` files in every state with their log rows; its id."""
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    stages = [
        "validation", "metadata", "audio_extraction", "frame_extraction",
        "transcription", "analysis", "indexing", "finalize",
    ]  # fmt: skip
    statuses = ["completed", "completed", "processing", "pending", "failed"]
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            job_id = conn.execute(
                sa.text(
                    "INSERT INTO analysis_job (name, status, options, started_at) VALUES "
                    "('bench job', 'running', '{\"note\": \"bench\"}', now()) RETURNING id"
                )
            ).scalar_one()
            for i in range(files):
                status = statuses[i % len(statuses)]
                file_id = conn.execute(
                    sa.text(
                        "INSERT INTO media_file (job_id, original_name, status, media_type, "
                        "file_type, size_bytes, duration_s, started_at) VALUES (:j, :n, :s, "
                        "'video', 'mp4', 1234567, 61.5, now() - interval '1 minute') RETURNING id"
                    ),
                    {"j": job_id, "n": f"clip_{i:03d}.mp4", "s": status},
                ).scalar_one()
                done = {"completed": 8, "failed": 1, "processing": 4, "pending": 0}[status]
                for stage in stages[:done]:
                    for log_status in ("started", "completed"):
                        conn.execute(
                            sa.text(
                                "INSERT INTO processing_log (job_id, media_file_id, stage, status)"
                                " VALUES (:j, :f, :st, :ss)"
                            ),
                            {"j": job_id, "f": file_id, "st": stage, "ss": log_status},
                        )
            conn.execute(sa.text("ANALYZE"))
    finally:
        engine.dispose()
    return str(job_id)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="server URL (default: 127.0.0.1:5432 or embedded)")
    parser.add_argument("--seconds", type=float, default=10.0, help="load time per measure")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent connections")
    parser.add_argument("--files", type=int, default=10, help="files of the job read")
    parser.add_argument(
        "--http-workers", default="1,2", help="HTTP process counts to measure (comma separated)"
    )
    parser.add_argument(
        "--embedded", action="store_true", help="an embedded PostgreSQL even if the service answers"
    )
    parser.add_argument(
        "--python-generators", action="store_true", help="httpx and psycopg even with wrk/pgbench"
    )
    args = parser.parse_args(argv)

    from mediaflow.db.session import libpq_url
    from mediaflow.services.job_reads import JOB_DETAIL_SQL

    use_wrk = shutil.which("wrk") is not None and not args.python_generators
    use_pgbench = shutil.which("pgbench") is not None and not args.python_generators
    rows: list[tuple[str, Measure]] = []
    api_cpu: list[float] = []  # CPU ms of the server's processes per request
    db_cpu: list[float] = []  # CPU ms of PostgreSQL's processes per request / statement
    with tempfile.TemporaryDirectory(prefix="mfbench-api-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # an embedded server runs as its own system user
        with bench_database(args.database_url, work, embedded=args.embedded) as (url, server):
            job_id = fill(url, args.files)
            libpq = libpq_url(url)
            postmaster = postmaster_pid(libpq)
            params = {"id": job_id}
            for count in [int(n) for n in args.http_workers.split(",")]:
                with live_server(
                    database_url=url,
                    data_dir=work,
                    args=("--workers", "0", "--http-workers", str(count)),
                ) as api:
                    target = f"{api.base_url}/jobs/{job_id}"
                    asyncio.run(http_python(target, 2, 0.5))  # warm-up: every process, plans
                    print(f"loading the API ({count} HTTP processes) ...", file=sys.stderr)
                    server_cpu, pg_cpu = tree_cpu(api.process.pid), tree_cpu(postmaster)
                    http = (
                        http_wrk(target, args.concurrency, args.seconds)
                        if use_wrk
                        else asyncio.run(http_python(target, args.concurrency, args.seconds))
                    )
                    server_cpu = tree_cpu(api.process.pid) - server_cpu
                    pg_cpu = tree_cpu(postmaster) - pg_cpu
                requests = http.rate * http.elapsed
                api_cpu.append(server_cpu / requests * 1000 if requests else float("nan"))
                db_cpu.append(pg_cpu / requests * 1000 if requests else float("nan"))
                rows.append((f"API, {count} HTTP process{'es' if count > 1 else ''}", http))
            print("loading the SQL ...", file=sys.stderr)
            pg_cpu = tree_cpu(postmaster)
            sql = (
                sql_pgbench(libpq, JOB_DETAIL_SQL, params, args.concurrency, args.seconds)
                if use_pgbench
                else asyncio.run(
                    sql_python(libpq, JOB_DETAIL_SQL, params, args.concurrency, args.seconds)
                )
            )
            pg_cpu = tree_cpu(postmaster) - pg_cpu
            statements = sql.rate * sql.elapsed
            db_cpu.append(pg_cpu / statements * 1000 if statements else float("nan"))
            rows.append(("the same SQL", sql))

    cpus = os.cpu_count() or 1
    print(
        f"\nbench/api.py: GET /jobs/{{id}} of a job with {args.files} files; "
        f"{args.concurrency} connections, {args.seconds:g} s per measure; {server}; "
        f"{cpus} CPUs, load average {os.getloadavg()[0]:.1f} at the end"
    )
    header = (
        f"{'side':<24} {'req/s':>8} {'mean ms':>8} {'SQL/API':>8} {'generator':<10} "
        f"{'gen. cores':>10} {'of machine':>10} {'API CPU':>8} {'PG CPU':>7} {'CPU/req':>8}"
    )
    print(header)
    print("-" * len(header))
    sql_cost = db_cpu[-1] + sql.generator_cpu_s / (sql.rate * sql.elapsed) * 1000
    for i, (label, m) in enumerate(rows):
        ratio = sql.rate / m.rate if m.rate else float("nan")
        own = api_cpu[i] if i < len(api_cpu) else 0.0
        cost = (own + db_cpu[i]) / sql_cost if i < len(api_cpu) else 1.0
        print(
            f"{label:<24} {m.rate:>8.0f} {m.mean_ms:>8.2f} {ratio:>7.2f}x {m.generator:<10} "
            f"{m.cores:>10.2f} {m.cores / cpus:>9.0%} {own:>8.3f} {db_cpu[i]:>7.3f} {cost:>7.2f}x"
        )
        if m.errors:
            print(f"  errors: {m.errors}")
    print(
        "\nSQL/API: the bare statement's rate over the API's (1.00x: no API cost); gen. cores: "
        "the load generator's CPU time / wall time;\nAPI CPU, PG CPU: CPU ms per request of "
        "the server's uvicorn processes and of PostgreSQL's processes (all of them: on a shared "
        "service other clients count too);\nCPU/req: (API + PG CPU) per request over "
        "(PG + generator CPU) per bare statement: the rate ratio of a saturated machine"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
