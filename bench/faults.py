"""The fault campaign, long versions: worker kills, PostgreSQL restarts, damaged files.

    python bench/faults.py kills    --files 200 --workers 3 --kills 100
    python bench/faults.py restarts --files 200 --workers 2 --restarts 10 --outage 15
    python bench/faults.py restarts --embedded --files 200 --workers 2 --restarts 10
    python bench/faults.py badfiles --files 1000

Each prints a table of the invariants (every file final exactly once, no duplicate
active results, no lost file) and the times. ``kills`` and ``badfiles`` use the
PostgreSQL service on 127.0.0.1:5432 (a scratch database); ``restarts`` starts a
private cluster (``tests/faults/cluster.py``) since it kills the postmaster, or, with
``--embedded``, runs ``mediaflow serve`` on the embedded database and kills its
postmaster: serve itself must start it again (no person, no outside restart).
Numbers: docs/RELIABILITY.md. The short versions run in the test suite
(tests/faults/).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.conftest import make_runtime  # noqa: E402
from tests.faults import campaign as fc  # noqa: E402
from tests.faults.cluster import private_cluster  # noqa: E402
from tests.pg import SERVICE_URL, head_database  # noqa: E402


def _row(name: str, value: object) -> None:
    print(f"| {name:<38} | {value!s:>14} |")


def _header(title: str) -> None:
    print(f"\n{title}\n| {'measure':<38} | {'value':>14} |\n|{'-' * 40}|{'-' * 16}:|")


def _invariants(out: fc.Outcome) -> None:
    """The rows every database campaign reports: final, lost, duplicated, handed back."""
    _row("files completed", out.by_status.get("completed", 0))
    _row("files failed", out.by_status.get("failed", 0))
    _row("files lost (not final)", out.lost)
    _row("duplicate active results", out.duplicate_active)
    _row("tasks handed back by the stall sweep", out.handed_back)


def kills(args: argparse.Namespace, work: Path) -> None:
    """kill -9 random workers at random moments over one job."""
    data_dir = work / "data"
    data_dir.mkdir()
    with head_database(SERVICE_URL) as url:
        result = fc.run_worker_kills(
            url,
            data_dir,
            work / "run",
            files=args.files,
            workers=args.workers,
            kills=args.kills,
            max_gap_s=args.max_gap,
        )
    out = result.outcome
    _header(f"worker kills: {args.files} files, {args.workers} workers, {result.kills} kills")
    _invariants(out)
    _row("files started more than once", sum(1 for n in out.runs_per_file.values() if n > 1))
    _row("total time (s)", f"{result.seconds:.1f}")
    _row("last kill -> every file final (s)", f"{result.recover_s:.1f}")


def restarts(args: argparse.Namespace, work: Path) -> None:
    """kill -9 the postmaster mid-run and start it again, ``--restarts`` times."""
    with private_cluster() as cluster, head_database(cluster.server_url) as url:
        data_dir = work / "data"
        data_dir.mkdir()
        logs = [work / f"worker{i}.log" for i in range(args.workers)]
        procs = [fc.start_worker(url, data_dir, log) for log in logs]
        started = time.monotonic()
        beat_again: list[float] = []
        try:
            fc.wait_for(lambda: len(fc.heartbeat_ages(url)) == args.workers, 300, "workers")
            job_id = fc.queue_images(url, data_dir, work / "in", args.files)
            done = 0
            while done < args.restarts and fc.finished(url, job_id) < args.files:
                time.sleep(1.0)
                cluster.kill()
                time.sleep(args.outage)
                cluster.start()
                back = time.monotonic()
                fc.wait_for(
                    lambda back=back: (
                        len(fc.heartbeat_ages(url)) == args.workers
                        and all(age < time.monotonic() - back for age in fc.heartbeat_ages(url))
                    ),
                    300,
                    "heartbeats",
                )
                beat_again.append(time.monotonic() - back)
                done += 1
            fc.wait_for(lambda: fc.finished(url, job_id) == args.files, 3600, "every file")
            seconds = time.monotonic() - started
        finally:
            fc.stop_workers(procs)
        out = fc.outcome(url, job_id, logs)
    _header(
        f"PostgreSQL restarts: {args.files} files, {args.workers} workers, {done} restarts "
        f"of {args.outage:g} s"
    )
    _invariants(out)
    _row("workers alive at the end", sum(1 for p in procs if p.returncode in (0, -15)))
    _row("restart -> all heartbeats (max s)", f"{max(beat_again, default=0):.1f}")
    _row("total time (s)", f"{seconds:.1f}")


def _postmaster_pid(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _answers(url: str) -> bool:
    try:
        fc._query(url, "SELECT 1")
    except Exception:
        return False
    return True


def embedded_restarts(args: argparse.Namespace, work: Path) -> None:
    """kill -9 the embedded postmaster under ``mediaflow serve``; serve starts it again."""
    import httpx

    from mediaflow.db.embedded import embedded_url, stop_embedded
    from tests.api.server import free_port

    data_dir = work / "data"
    data_dir.mkdir()
    pgdata = data_dir / "pgdata"
    env = fc._env(None, data_dir)
    subprocess.run(
        [sys.executable, "-m", "mediaflow", "db", "upgrade"], cwd=fc.REPO, env=env, check=True
    )
    port = free_port()
    log = work / "serve.log"
    server = fc.start_serve(None, data_dir, port, log, "--workers", str(args.workers))
    started = time.monotonic()
    back_s: list[float] = []
    beat_s: list[float] = []
    url = ""
    try:

        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).is_success
            except httpx.HTTPError:
                return False

        fc.wait_for(healthy, 300, "serve")
        url = embedded_url(pgdata)  # this process holds a handle too; it never restarts it
        fc.wait_for(lambda: len(fc.heartbeat_ages(url)) >= 1, 300, "serve's worker")
        job_id = fc.queue_images(url, data_dir, work / "in", args.files)
        done = 0
        while done < args.restarts and fc.finished(url, job_id) < args.files:
            time.sleep(1.0)
            victim = _postmaster_pid(pgdata)
            if victim is None:
                continue
            os.kill(victim, signal.SIGKILL)
            killed = time.monotonic()
            fc.wait_for(
                lambda victim=victim: (
                    _postmaster_pid(pgdata) not in (None, victim) and _answers(url)
                ),
                300,
                "serve to start the database again",
            )
            back_s.append(time.monotonic() - killed)
            fc.wait_for(
                lambda killed=killed: all(
                    age < time.monotonic() - killed for age in fc.heartbeat_ages(url)
                ),
                300,
                "a heartbeat after the restart",
            )
            beat_s.append(time.monotonic() - killed)
            done += 1
        fc.wait_for(lambda: fc.finished(url, job_id) == args.files, 3600, "every file")
        seconds = time.monotonic() - started
        out = fc.outcome(url, job_id, [log])
        alive = server.poll() is None
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(120)
        except subprocess.TimeoutExpired:
            server.kill()
        if url:
            stop_embedded(pgdata)
    _header(
        f"embedded PostgreSQL killed under serve: {args.files} files, {args.workers} "
        f"files at once, {done} kills"
    )
    _invariants(out)
    _row("serve alive at the end", alive)
    _row("kill -> serve restarted it (max s)", f"{max(back_s, default=0):.1f}")
    _row("kill -> heartbeat again (max s)", f"{max(beat_s, default=0):.1f}")
    _row("total time (s)", f"{seconds:.1f}")


def badfiles(args: argparse.Namespace, work: Path) -> None:
    """``--files`` damaged files in one job, analyzed in this process."""
    data_dir = work / "data"
    data_dir.mkdir()
    with head_database(SERVICE_URL) as url, make_runtime(url, data_dir) as runtime:
        result = fc.run_bad_files(runtime, work / "bad", args.files)
    _header(f"damaged files: {result.files} in one job")
    _row("completed (damage the decoders survive)", result.completed)
    _row("failed, each with its reason", result.failed)
    _row("failed without a reason", result.failed_without_reason)
    _row("left unfinished", result.unfinished)
    _row("job status", result.job_status)
    _row("peak RSS of the process (MB)", f"{result.peak_rss_mb:.0f}")
    _row("time (s)", f"{result.seconds:.1f}")
    for reason, count in sorted(result.reasons.items(), key=lambda kv: -kv[1]):
        _row(f"  {reason[:36]}", count)


def main() -> None:
    """Parse the command line and run one campaign."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="campaign", required=True)
    k = sub.add_parser("kills")
    k.add_argument("--files", type=int, default=200)
    k.add_argument("--workers", type=int, default=3)
    k.add_argument("--kills", type=int, default=100)
    k.add_argument("--max-gap", type=float, default=2.0, help="most seconds between kills")
    r = sub.add_parser("restarts")
    r.add_argument("--files", type=int, default=200)
    r.add_argument("--workers", type=int, default=2)
    r.add_argument("--restarts", type=int, default=10)
    r.add_argument("--outage", type=float, default=15.0)
    r.add_argument(
        "--embedded",
        action="store_true",
        help="kill the embedded server under mediaflow serve (which restarts it itself)",
    )
    b = sub.add_parser("badfiles")
    b.add_argument("--files", type=int, default=1000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mediaflow-faults-"))
    work.chmod(0o755)
    try:
        if args.campaign == "restarts" and args.embedded:
            embedded_restarts(args, work)
        else:
            {"kills": kills, "restarts": restarts, "badfiles": badfiles}[args.campaign](args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
