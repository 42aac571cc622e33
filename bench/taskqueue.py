"""Empty tasks through mediaflow's queue and worker vs procrastinate alone, per server.

Run from the repository root::

    .venv/bin/python bench/taskqueue.py                     # 1000 tasks, service and embedded
    .venv/bin/python bench/taskqueue.py --tasks 300 --runs 3 --servers embedded

For each server (the PostgreSQL service on 127.0.0.1:5432 when it answers, and an
embedded PostgreSQL in a temp folder; ``--database-url`` adds any other), on one
scratch database at head, these sides each defer ``--tasks`` no-op tasks and then
work the queue off with a worker of concurrency 4 (``wait=False``: it stops when the
queue is empty), alternating run by run so that the machine's load is shared:

- ``procrastinate``: procrastinate alone as its docs show it: an ``App`` on a
  ``SyncPsycopgConnector``, ``task.defer(...)`` one task at a time, then the same
  App on a ``PsycopgConnector`` runs ``run_worker_async`` with an ``async`` no-op task;
- ``procrastinate batch``: the same, deferring with ``task.batch_defer(...)``;
- ``procrastinate, sync task``: the same with a plain (synchronous) no-op function,
  which procrastinate runs in a thread, as it runs mediaflow's task;
- ``mediaflow``: ``runtime.queue.defer_files`` (batched, one queueing lock per file)
  and ``mediaflow.pipeline.worker.run_worker`` (its App, heartbeats, stalled-task
  sweeper, the synchronous ``process_file`` task run in a thread) with a no-op file
  processor;
- ``mediaflow, procrastinate pools``: the same, on procrastinate's default pools
  (a liveness query on every checkout, each statement in BEGIN/COMMIT), to show what
  mediaflow's own pools (``mediaflow.db.pools``) save.

Rates are tasks per second; ``vs procrastinate`` is a side's rate over
procrastinate alone's in the same run (1.00x: as fast; above 1: faster).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.support import bench_database, bench_runtime, succeeded_then_clear  # noqa: E402

from mediaflow.runtime import Runtime  # noqa: E402

DIRECT_QUEUE = "mfbench"


@dataclass(frozen=True)
class Side:
    """How one side defers ``n`` tasks, and works its queue off."""

    name: str
    queue: str
    defer: Callable[[int], None]
    work_off: Callable[[], Awaitable[None]]
    close: Callable[[], None]


@dataclass
class Times:
    """Seconds per run of one side: deferring, working off, this process's CPU working off."""

    defer: list[float]
    work: list[float]
    cpu: list[float]

    def cpu_us(self, tasks: int) -> float:
        """Median CPU microseconds of this process per task run (worker side)."""
        return statistics.median(self.cpu) / tasks * 1e6

    def rates(self, tasks: int) -> tuple[float, float, float]:
        """Median tasks/s: defer, worker, both (defer then work off)."""
        d, w = statistics.median(self.defer), statistics.median(self.work)
        both = statistics.median(a + b for a, b in zip(self.defer, self.work, strict=True))
        return tasks / d, tasks / w, tasks / both


def _procrastinate_side(libpq: str, *, batch: bool = False, sync: bool = False) -> Side:
    from procrastinate import App, PsycopgConnector, SyncPsycopgConnector

    queue = f"{DIRECT_QUEUE}{'b' if batch else ''}{'s' if sync else ''}"
    app = App(connector=SyncPsycopgConnector(conninfo=libpq))

    async def noop_async(n: int) -> None:
        """Do nothing: the queue's own cost is what is measured."""

    def noop_sync(n: int) -> None:
        """Do nothing, in a thread (procrastinate runs a plain function in one)."""

    noop = app.task(name=f"{queue}.noop", queue=queue)(noop_sync if sync else noop_async)

    app.open()

    def defer(count: int) -> None:
        if batch:
            noop.batch_defer(*({"n": i} for i in range(count)))
        else:
            for i in range(count):
                noop.defer(n=i)

    async def work_off() -> None:
        worker_app = app.with_connector(PsycopgConnector(conninfo=libpq))
        async with worker_app.open_async():
            await worker_app.run_worker_async(
                queues=[queue], concurrency=4, wait=False, install_signal_handlers=False
            )

    name = "procrastinate" + (" batch" if batch else "") + (", sync task" if sync else "")
    return Side(name, queue, defer, work_off, app.close)


def _noop_processor(runtime: Runtime, media_file_id: uuid.UUID, providers: list[str] | None) -> str:
    """Do nothing with the file: the queue's own cost is what is measured."""
    return "completed"


def _mediaflow_side(runtime: Runtime, *, procrastinate_pools: bool) -> Side:
    from procrastinate import PsycopgConnector, SyncPsycopgConnector

    from mediaflow.pipeline.worker import run_worker
    from mediaflow.queue import MEDIA_QUEUE, TaskQueue

    libpq = runtime.db.libpq_url()
    queue = (
        TaskQueue(runtime.db, connector=SyncPsycopgConnector(conninfo=libpq, max_size=4))
        if procrastinate_pools
        else runtime.queue
    )

    def defer(count: int) -> None:
        queue.defer_files([uuid.uuid4() for _ in range(count)])

    async def work_off() -> None:
        await run_worker(
            runtime,
            4,
            wait=False,
            install_signal_handlers=False,
            processor=_noop_processor,
            connector=PsycopgConnector(conninfo=libpq) if procrastinate_pools else None,
        )

    name = "mediaflow, procrastinate pools" if procrastinate_pools else "mediaflow"
    return Side(name, MEDIA_QUEUE, defer, work_off, queue.close)


def _succeeded_then_clear(runtime: Runtime, queue: str) -> int:
    import sqlalchemy as sa

    done = succeeded_then_clear(runtime, queue)
    # and the workers this run registered: the next side starts without them
    with runtime.db.session() as session:
        session.execute(sa.text("DELETE FROM procrastinate_workers"))
    return done


def _run(side: Side, runtime: Runtime, tasks: int) -> tuple[float, float, float]:
    started = time.perf_counter()
    side.defer(tasks)
    deferred = time.perf_counter() - started
    started, cpu = time.perf_counter(), time.process_time()
    asyncio.run(side.work_off())
    worked, cpu = time.perf_counter() - started, time.process_time() - cpu
    done = _succeeded_then_clear(runtime, side.queue)
    if done != tasks:
        raise RuntimeError(f"{side.name}: the worker finished {done} of {tasks} tasks")
    return deferred, worked, cpu


def measure(runtime: Runtime, tasks: int, runs: int) -> dict[str, Times]:
    """Every side on this runtime's database, alternating; seconds per run."""
    libpq = runtime.db.libpq_url()
    sides = [
        _procrastinate_side(libpq),
        _procrastinate_side(libpq, batch=True),
        _procrastinate_side(libpq, sync=True),
        _mediaflow_side(runtime, procrastinate_pools=False),
        _mediaflow_side(runtime, procrastinate_pools=True),
    ]
    times = {side.name: Times([], [], []) for side in sides}
    try:
        for side in sides:  # warm-up: pools open, plans cached
            _run(side, runtime, max(10, tasks // 10))
        for _ in range(runs):
            for side in sides:
                d, w, c = _run(side, runtime, tasks)
                times[side.name].defer.append(d)
                times[side.name].work.append(w)
                times[side.name].cpu.append(c)
    finally:
        for side in sides:
            side.close()
    return times


@contextmanager
def _servers(choice: list[str], url: str | None, work: Path) -> Iterator[list[tuple[str, str]]]:
    """(database url, label) of a scratch database on each chosen server."""
    from tests.pg import service_reachable

    with ExitStack() as stack:
        found = []
        if url:
            found.append(stack.enter_context(bench_database(url, work / "given")))
        if "service" in choice and service_reachable():
            found.append(stack.enter_context(bench_database(None, work / "service")))
        if "embedded" in choice:
            folder = work / "embedded"
            folder.mkdir()
            folder.chmod(0o755)  # the embedded server runs as its own system user
            found.append(stack.enter_context(bench_database(None, folder, embedded=True)))
        yield found


def main(argv: list[str] | None = None) -> int:
    """Measure on each server and print one table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000, help="tasks per run")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per side (median)")
    parser.add_argument(
        "--servers", default="service,embedded", help="service and/or embedded (comma separated)"
    )
    parser.add_argument("--database-url", help="also bench on this server")
    args = parser.parse_args(argv)
    logging.getLogger("procrastinate").setLevel(logging.ERROR)

    results: list[tuple[str, dict[str, Times]]] = []
    with tempfile.TemporaryDirectory(prefix="mfbench-queue-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)
        with _servers(args.servers.split(","), args.database_url, work) as servers:
            for url, label in servers:
                print(f"measuring on {label} ...", file=sys.stderr, flush=True)
                with bench_runtime(url, work / f"data-{len(results)}") as runtime:
                    results.append((label, measure(runtime, args.tasks, args.runs)))

    print(
        f"\nbench/taskqueue.py: {args.tasks} empty tasks per run, worker concurrency 4, "
        f"median of {args.runs} runs after a warm-up; {os.cpu_count()} CPUs"
    )
    header = (
        f"{'side':<32} {'defer/s':>9} {'worker/s':>9} {'both/s':>8} "
        f"{'defer vs':>9} {'worker vs':>10} {'both vs':>8} {'CPU us/task':>12}"
    )
    for label, times in results:
        print(f"\n{label}")
        print(header)
        print("-" * len(header))
        base = times["procrastinate"].rates(args.tasks)
        for name, side in times.items():
            rates = side.rates(args.tasks)
            ratios = " ".join(
                f"{r / b:>{w - 1}.2f}x" for r, b, w in zip(rates, base, (9, 10, 8), strict=True)
            )
            print(
                f"{name:<32} {rates[0]:>9.0f} {rates[1]:>9.0f} {rates[2]:>8.0f} {ratios} "
                f"{side.cpu_us(args.tasks):>12.0f}"
            )
    print(
        "\nrates: tasks/s; 'both': defer then work off; 'vs': that rate over procrastinate "
        "alone's (one-by-one defer, async no-op task) on the same server in the same run;\n"
        "CPU us/task: this process's CPU time while the worker ran, per task (load-independent)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
