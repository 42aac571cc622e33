"""How long the upgrade from revision 1 to head blocks writers on a populated database.

Run from the repository root::

    .venv/bin/python bench/migration_lock.py                     # 1,000,000 analysis_result rows
    .venv/bin/python bench/migration_lock.py --rows 200000 --rate 100

What it does, in one run on one machine:

1. a scratch database at revision 000000000001 (``tests.pg.scratch_database`` on
   ``--database-url``, else the service on 127.0.0.1:5432), filled in SQL with
   ``INSERT ... SELECT generate_series``: one job, ``rows / 100`` media files, ``rows``
   analysis_result rows (100 per file, distinct types, a small JSONB document each)
   and one transcription per file; then ``VACUUM ANALYZE``;
2. a steady writer (its own thread and autocommit psycopg connection) issues
   statements at ``--rate`` per second on a fixed schedule: insert an analysis_result,
   update an active one through its unique index, update a media_file, update the job,
   insert a transcription — the statements the pipeline makes. Each statement's
   latency (start to end) and its lag behind the schedule are recorded;
3. a baseline window of ``--baseline`` seconds with no migration, then the upgrade
   to head, one revision at a time (each its own ``mediaflow.db.migrate.upgrade``, so
   a stall is attributed to the revision running when it happened), then a short
   cool-down.

Reported per window (baseline, each revision, whole upgrade): statements, p50 / max
latency, and *waited*: the sum over statements of their latency above the baseline
p99 (time a writer spent blocked beyond its normal service time). The goal of issue
14 is writers blocked < 1 s in total for the whole upgrade.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from mediaflow.db import migrate  # noqa: E402
from tests.pg import SERVICE_URL, scratch_database  # noqa: E402

FILES_PER_ROW = 100  # analysis_result rows per media file

FILL_SQL = [
    "INSERT INTO analysis_job (id, name, status) "
    "VALUES ('00000000-0000-0000-0000-000000000001', 'bench', 'running')",
    # media files: deterministic ids so that the writer can address them
    "INSERT INTO media_file (id, job_id, original_name, status, sha256) "
    "SELECT ('00000000-0000-0000-0001-' || lpad(to_hex(f), 12, '0'))::uuid, "
    "'00000000-0000-0000-0000-000000000001', 'file_' || f || '.mp4', 'completed', "
    "md5(f::text) || md5((f + 1)::text) "
    "FROM generate_series(0, %(files)s - 1) AS f",
    "INSERT INTO analysis_result (job_id, media_file_id, provider, analysis_type, model, "
    "result, confidence, latency_ms) "
    "SELECT '00000000-0000-0000-0000-000000000001', "
    "('00000000-0000-0000-0001-' || lpad(to_hex(i / 100), 12, '0'))::uuid, "
    "(ARRAY['rapidocr','opencv_haar','opennsfw','scenedetect','image_features']"
    "::analysis_provider[])[1 + i %% 5], "
    "'type_' || (i %% 100), 'bench-model', "
    "jsonb_build_object('labels', jsonb_build_array('label_' || (i %% 97), "
    "'label_' || (i %% 31)), 'score', (i %% 1000) / 1000.0, 'frame', i %% 500), "
    "(i %% 100) / 100.0, i %% 300 "
    "FROM generate_series(0, %(rows)s - 1) AS i",
    "INSERT INTO transcription (job_id, media_file_id, provider, model, language, text, "
    "segments) "
    "SELECT '00000000-0000-0000-0000-000000000001', "
    "('00000000-0000-0000-0001-' || lpad(to_hex(f), 12, '0'))::uuid, 'faster_whisper', "
    "'tiny.en', 'en', 'words of file ' || f, "
    "jsonb_build_array(jsonb_build_object('start', 0, 'end', 1, 'text', 'words ' || f)) "
    "FROM generate_series(0, %(files)s - 1) AS f",
]


def _file_id(f: int) -> str:
    return f"00000000-0000-0000-0001-{f:012x}"


@dataclass
class Sample:
    """One writer statement: when it was due, when it started and ended (monotonic)."""

    kind: str
    due: float
    start: float
    end: float

    @property
    def latency(self) -> float:
        return self.end - self.start

    @property
    def lag(self) -> float:
        return self.end - self.due


@dataclass
class Writer:
    """A steady writer: one statement every 1/rate seconds on a fixed schedule."""

    dsn: str
    rate: float
    files: int
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        """Issue statements until ``stop`` is set; never skips a due statement."""
        statements = [
            (
                "insert result",
                "INSERT INTO analysis_result (job_id, media_file_id, provider, analysis_type, "
                "result, is_active) VALUES ('00000000-0000-0000-0000-000000000001', %s, "
                "'audio_features', 'bench_' || %s::text, '{\"x\": 1}', false)",
            ),
            (
                "update result",
                "UPDATE analysis_result SET confidence = random() WHERE media_file_id = %s "
                "AND provider = 'rapidocr' AND analysis_type = 'type_0' AND is_active "
                "AND %s::text IS NOT NULL",
            ),
            (
                "update file",
                "UPDATE media_file SET updated_at = now() WHERE id = %s AND %s::text IS NOT NULL",
            ),
            (
                "update job",
                "UPDATE analysis_job SET updated_at = now() "
                "WHERE id = '00000000-0000-0000-0000-000000000001' AND %s::text IS NOT NULL "
                "AND %s::text IS NOT NULL",
            ),
            (
                "insert transcript",
                "INSERT INTO transcription (job_id, media_file_id, provider, text, is_active) "
                "VALUES ('00000000-0000-0000-0000-000000000001', %s, 'openai', %s, false)",
            ),
        ]
        interval = 1.0 / self.rate
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            due = time.monotonic()
            n = 0
            while not self.stop.is_set():
                now = time.monotonic()
                if now < due:
                    time.sleep(due - now)
                kind, sql = statements[n % len(statements)]
                f = n * 7919 % self.files
                start = time.monotonic()
                try:
                    connection.execute(sql, (_file_id(f), str(n)))
                except psycopg.Error as exc:  # recorded, the writer goes on
                    self.errors.append(f"{kind}: {exc}".splitlines()[0])
                self.samples.append(Sample(kind, due, start, time.monotonic()))
                n += 1
                due += interval


def _fill(dsn: str, rows: int) -> float:
    files = max(1, rows // FILES_PER_ROW)
    started = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as connection:
        for sql in FILL_SQL:
            connection.execute(sql, {"rows": rows, "files": files})  # type: ignore[arg-type]
        connection.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def _window(samples: list[Sample], start: float, end: float) -> list[Sample]:
    # every statement that overlaps the window, including one blocked across all of it
    return [s for s in samples if s.start < end and s.end >= start]


def _row(name: str, seconds: float, window: list[Sample], threshold: float) -> str:
    if not window:
        return f"| {name} | {seconds:.1f} | 0 | - | - | - | - |"
    latencies = [s.latency for s in window]
    waited = sum(max(0.0, lat - threshold) for lat in latencies)
    return (
        f"| {name} | {seconds:.1f} | {len(window)} | {statistics.median(latencies) * 1000:.1f} | "
        f"{max(latencies) * 1000:.0f} | {max(s.lag for s in window) * 1000:.0f} | "
        f"{waited * 1000:.0f} |"
    )


def _plain_revision_2(url: str) -> None:
    """Revision 2 as a naive migration would run it: plain index builds, one transaction."""
    sql = migrate.upgrade_sql(*migrate.revisions_in_order()[:2])
    statements = [
        line for line in sql.split(";\n")
        if line.strip() and line.strip() not in ("BEGIN", "COMMIT")
        and not line.strip().startswith("SET lock_timeout")
    ]  # fmt: skip
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as connection:  # one transaction, committed at the end
        for statement in statements:
            connection.execute(statement.replace(" CONCURRENTLY", ""))  # type: ignore[arg-type]


@dataclass
class Run:
    """One measured run: the writer's samples and the named time windows."""

    samples: list[Sample]
    windows: list[tuple[str, float, float]]
    errors: list[str]
    fill_s: float
    size: str
    version: str

    @property
    def threshold(self) -> float:
        """The baseline window's p99 latency: above it, a statement waited."""
        baseline = sorted(s.latency for s in _window(self.samples, *self.windows[0][1:]))
        return baseline[int(len(baseline) * 0.99)] if baseline else 0.0


def _measure(
    server_url: str, rows: int, rate: float, baseline: float, steps: list[tuple[str, Any]]
) -> Run:
    """Fill a database at revision 1, start the writer, run ``steps`` one after another."""
    with scratch_database(server_url) as url:
        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        migrate.upgrade(migrate.revisions_in_order()[0], url)
        fill_s = _fill(dsn, rows)
        with psycopg.connect(dsn) as connection:
            version = connection.execute("SHOW server_version").fetchone()
            size = connection.execute(
                "SELECT pg_size_pretty(pg_total_relation_size('analysis_result'))"
            ).fetchone()
        writer = Writer(dsn, rate, max(1, rows // FILES_PER_ROW))
        thread = threading.Thread(target=writer.run, daemon=True)
        thread.start()
        t0 = time.monotonic()
        time.sleep(baseline)
        windows: list[tuple[str, float, float]] = [
            ("baseline (no migration)", t0, time.monotonic())
        ]
        for name, step in steps:
            started = time.monotonic()
            step(url)
            windows.append((name, started, time.monotonic()))
        time.sleep(2.0)  # the statements queued behind the last step finish
        writer.stop.set()
        thread.join()
    return Run(
        writer.samples, windows, writer.errors, fill_s, size[0] if size else "?",
        version[0].split()[0] if version else "?",
    )  # fmt: skip


def _total(run: Run, windows: list[tuple[str, float, float]]) -> tuple[float, float, float]:
    """Seconds, longest statement latency and total waited over ``windows`` together."""
    start, end = windows[0][1], windows[-1][2]
    inside = _window(run.samples, start, end)
    threshold = run.threshold
    return (
        end - start,
        max((s.latency for s in inside), default=0.0),
        sum(max(0.0, s.latency - threshold) for s in inside),
    )


def _print_run(title: str, run: Run) -> None:
    threshold = run.threshold
    print(f"\n### {title}\n")
    print(f"stall threshold (baseline p99 latency): {threshold * 1000:.1f} ms\n")
    print("| window | seconds | statements | p50 ms | max latency ms | max lag ms | waited ms |")
    print("|---|---|---|---|---|---|---|")
    for name, start, end in run.windows:
        print(_row(name, end - start, _window(run.samples, start, end), threshold))
    steps = run.windows[1:]
    whole = _window(run.samples, steps[0][1], steps[-1][2])
    print(_row("all of the above but baseline", steps[-1][2] - steps[0][1], whole, threshold))
    if run.errors:
        print(f"\nwriter errors: {len(run.errors)}; first: {run.errors[0]}")


def main() -> None:
    """Fill, start the writer, upgrade to head revision by revision, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="analysis_result rows")
    parser.add_argument("--rate", type=float, default=50.0, help="writer statements per second")
    parser.add_argument("--baseline", type=float, default=10.0, help="seconds without migration")
    parser.add_argument("--database-url", default=SERVICE_URL, help="server to create it on")
    parser.add_argument(
        "--no-plain", action="store_true",
        help="skip the comparison run (revision 2 as plain index builds in one transaction)",
    )  # fmt: skip
    args = parser.parse_args()

    revisions = migrate.revisions_in_order()
    steps = [
        (f"upgrade to {revision}", partial(migrate.upgrade, revision)) for revision in revisions[1:]
    ]
    run = _measure(args.database_url, args.rows, args.rate, args.baseline, steps)
    print(
        f"analysis_result rows: {args.rows:,} ({run.size}), filled in {run.fill_s:.1f} s; "
        f"writer {args.rate:g} statements/s; PostgreSQL {run.version}"
    )
    _print_run("mediaflow's migrations, revision 1 to head", run)
    seconds, longest, waited = _total(run, run.windows[1:])
    print(
        f"\nupgrade to head: {seconds:.1f} s; longest writer stall {longest * 1000:.0f} ms; "
        f"total waited {waited * 1000:.0f} ms (goal < 1000 ms)"
    )
    if args.no_plain:
        return
    plain = _measure(
        args.database_url, args.rows, args.rate, args.baseline,
        [("revision 2, plain CREATE INDEX, one transaction", _plain_revision_2)],
    )  # fmt: skip
    _print_run("for comparison: revision 2 without CONCURRENTLY", plain)
    _, p_longest, p_waited = _total(plain, plain.windows[1:])
    _, r2_longest, r2_waited = _total(run, run.windows[1:2])
    print(
        f"\nrevision 2: longest stall {r2_longest * 1000:.0f} ms concurrent vs "
        f"{p_longest * 1000:.0f} ms plain ({_ratio(p_longest, r2_longest)}); waited "
        f"{r2_waited * 1000:.0f} ms vs {p_waited * 1000:.0f} ms ({_ratio(p_waited, r2_waited)})"
    )


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.0f}x" if b > 0 else "-"


if __name__ == "__main__":
    main()
