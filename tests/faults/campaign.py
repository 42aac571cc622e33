"""The fault campaign's moving parts, shared by the short tests and the long bench runs.

Workers are real ``mediaflow worker`` processes; the database is a private cluster
(``tests.faults.cluster``) so that it can be killed; the invariants are read from the
database afterwards: every file ended completed or failed, once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from mediaflow.config import Settings
from mediaflow.pipeline.ingest import ingest
from mediaflow.runtime import Runtime
from mediaflow.services.jobs import queue_job
from tests import media_factory as mf
from tests.workers import stop_workers

REPO = Path(__file__).resolve().parents[2]
HEARTBEAT_S = "0.5"
STALLED_S = "10"  # generous: a loaded machine delays heartbeats
HANDED_BACK = "goes back to the queue"


def libpq(url: str) -> str:
    """A SQLAlchemy URL as libpq wants it."""
    return url.replace("postgresql+psycopg://", "postgresql://")


def _env(url: str | None, data_dir: Path, **extra: str) -> dict[str, str]:
    """This environment without MEDIAFLOW_*, plus the campaign's settings.

    ``url`` None: the embedded database under ``data_dir``.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAFLOW_")}
    if url is not None:
        env["MEDIAFLOW_DATABASE_URL"] = url
    env.update(
        MEDIAFLOW_DATA_DIR=str(data_dir),
        MEDIAFLOW_WORKER_HEARTBEAT_S=HEARTBEAT_S,
        MEDIAFLOW_STALLED_AFTER_S=STALLED_S,
        PYTHONPATH=f"{REPO / 'src'}{os.pathsep}{REPO}",
        **extra,
    )
    return env


def _mediaflow(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "mediaflow", *args],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def start_worker(
    url: str, data_dir: Path, log: Path, concurrency: int = 1
) -> subprocess.Popen[bytes]:
    """A ``mediaflow worker`` process writing its output to ``log``."""
    return _mediaflow(["worker", "--concurrency", str(concurrency)], _env(url, data_dir), log)


def start_serve(
    url: str | None, data_dir: Path, port: int, log: Path, *args: str, **settings: str
) -> subprocess.Popen[bytes]:
    """A ``mediaflow serve`` process on ``port`` (``url`` None: the embedded database)."""
    return _mediaflow(["serve", "--port", str(port), *args], _env(url, data_dir, **settings), log)


def queue_images(url: str, data_dir: Path, folder: Path, count: int) -> uuid.UUID:
    """A job of ``count`` small images (cheap provider), queued for the workers."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        mf.make_text_image(folder / f"page_{i:04d}.png", f"PAGE {i}")
    runtime = Runtime(Settings(database_url=url, data_dir=data_dir))  # type: ignore[arg-type]
    try:
        result = ingest(
            runtime, [folder], name="faults", providers=["image_features"], options=None
        )
        queue_job(runtime, result.job_id)
        return result.job_id
    finally:
        runtime.close()


def _query(url: str, sql: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(libpq(url), connect_timeout=5) as connection:
        return connection.execute(sql, params).fetchall()  # type: ignore[arg-type]


def finished(url: str, job_id: uuid.UUID) -> int:
    """Files of the job in a final state (0 while the database is away)."""
    try:
        rows = _query(
            url,
            "SELECT count(*) FROM media_file WHERE job_id = %s "
            "AND status IN ('completed', 'failed', 'skipped', 'cancelled')",
            job_id,
        )
    except psycopg.Error:
        return 0
    return int(rows[0][0])  # type: ignore[call-overload]


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``condition`` until true; return the seconds it took. No speed assumed: a
    generous ``timeout`` only stops a test that hangs."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.25)
    return time.monotonic() - start


@dataclass
class Outcome:
    """What the database and the workers' logs say after a run."""

    files: int
    by_status: dict[str, int]
    duplicate_active: int
    handed_back: int
    runs_per_file: dict[str, int] = field(default_factory=dict)

    @property
    def lost(self) -> int:
        """Files not in a final state."""
        done = sum(self.by_status.get(s, 0) for s in ("completed", "failed", "skipped"))
        return self.files - done


def outcome(url: str, job_id: uuid.UUID, logs: list[Path]) -> Outcome:
    """Count statuses, duplicate active results and hand-backs of one job."""
    by_status = {
        str(status): int(count)  # type: ignore[call-overload]
        for status, count in _query(
            url, "SELECT status, count(*) FROM media_file WHERE job_id = %s GROUP BY status", job_id
        )
    }
    duplicates = _query(
        url,
        "SELECT count(*) FROM (SELECT media_file_id, provider, analysis_type, count(*) "
        "FROM analysis_result WHERE job_id = %s AND is_active "
        "GROUP BY 1, 2, 3 HAVING count(*) > 1) d",
        job_id,
    )
    runs = _query(
        url,
        "SELECT media_file_id::text, count(*) FROM processing_log WHERE job_id = %s "
        "AND media_file_id IS NOT NULL AND stage = 'validation' AND status = 'started' "
        "GROUP BY 1",
        job_id,
    )
    handed_back = sum(
        log.read_text(errors="replace").count(HANDED_BACK) for log in logs if log.exists()
    )
    return Outcome(
        files=sum(by_status.values()),
        by_status=by_status,
        duplicate_active=int(duplicates[0][0]),  # type: ignore[call-overload]
        handed_back=handed_back,
        runs_per_file={str(k): int(v) for k, v in runs},  # type: ignore[call-overload]
    )


def heartbeat_ages(url: str) -> list[float]:
    """Seconds since each registered worker's last heartbeat."""
    rows = _query(
        url, "SELECT extract(epoch FROM now() - last_heartbeat) FROM procrastinate_workers"
    )
    return [float(age) for (age,) in rows]  # type: ignore[arg-type]


@dataclass
class BadFilesOutcome:
    """What a batch of damaged files came to."""

    files: int
    completed: int
    failed: int
    unfinished: int
    failed_without_reason: int
    job_status: str
    seconds: float
    peak_rss_mb: float
    reasons: dict[str, int]


def run_bad_files(runtime: Runtime, folder: Path, count: int) -> BadFilesOutcome:
    """Make ``count`` damaged files, analyze them as one job in this process, count."""
    import resource

    import sqlalchemy as sa

    from mediaflow.db.models import AnalysisJob, MediaFile
    from mediaflow.pipeline.runner import run_job
    from tests.faults.badfiles import make_bad_files

    files = make_bad_files(folder, count)
    result = ingest(
        runtime, files, name="bad files", providers=["image_features", "audio_features"],
        options=None,
    )  # fmt: skip
    started = time.monotonic()
    run_job(runtime, result.job_id)
    seconds = time.monotonic() - started
    with runtime.db.session() as session:
        rows = session.execute(
            sa.select(MediaFile.status, MediaFile.error).where(MediaFile.job_id == result.job_id)
        ).all()
        job_status = session.scalar(
            sa.select(AnalysisJob.status).where(AnalysisJob.id == result.job_id)
        )
    reasons: dict[str, int] = {}
    for _status, error in rows:
        if error:
            key = error.split(":")[0][:60]
            reasons[key] = reasons.get(key, 0) + 1
    return BadFilesOutcome(
        files=len(rows),
        completed=sum(1 for s, _ in rows if s.value == "completed"),
        failed=sum(1 for s, _ in rows if s.value == "failed"),
        unfinished=sum(1 for s, _ in rows if s.value in ("pending", "processing")),
        failed_without_reason=sum(1 for s, e in rows if s.value == "failed" and not e),
        job_status=str(job_status.value if job_status else None),
        seconds=seconds,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        reasons=reasons,
    )


@dataclass
class KillOutcome:
    """What a job came to while its workers were killed again and again."""

    outcome: Outcome
    kills: int
    seconds: float
    recover_s: float  # from the last kill until every file was final


def run_worker_kills(
    url: str,
    data_dir: Path,
    work: Path,
    *,
    files: int,
    workers: int,
    kills: int,
    seed: int = 5,
    max_gap_s: float = 2.0,
) -> KillOutcome:
    """kill -9 a random worker at random moments (a new one takes its place each time)."""
    import random

    rng = random.Random(seed)
    work.mkdir(parents=True, exist_ok=True)
    logs = [work / f"worker{i}.log" for i in range(workers)]
    procs = [start_worker(url, data_dir, log) for log in logs]
    started = time.monotonic()
    last_kill = started
    try:
        wait_for(lambda: len(heartbeat_ages(url)) >= workers, 300, "the workers")
        job_id = queue_images(url, data_dir, work / "in", files)
        done_kills = 0
        while done_kills < kills and finished(url, job_id) < files:
            time.sleep(rng.uniform(0.1, max_gap_s))  # a random moment, not a wait for speed
            victim = rng.randrange(workers)
            procs[victim].send_signal(signal.SIGKILL)
            procs[victim].wait()
            last_kill = time.monotonic()
            procs[victim] = start_worker(url, data_dir, logs[victim])
            done_kills += 1
        wait_for(lambda: finished(url, job_id) == files, 1800, "every file")
        end = time.monotonic()
    finally:
        stop_workers(procs)
    return KillOutcome(
        outcome=outcome(url, job_id, logs),
        kills=done_kills,
        seconds=end - started,
        recover_s=end - last_kill,
    )
