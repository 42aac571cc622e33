"""A worker among many: it says who it is (presence) and leaves cleanly (drain).

**Presence.** procrastinate keeps one row per worker (``procrastinate_workers``: id
and last heartbeat) and, per running task, the worker's id. What it lacks is where
the worker runs. Each worker process therefore holds one small extra connection
whose ``application_name`` names it: ``mediaflow-worker <id> <pid> <concurrency>
<queues> <host>``. ``pg_stat_activity`` shows it to any database user, it vanishes
the moment the process dies (the connection closes), and no table or migration is
needed. ``GET /workers`` joins the three.

**Drain.** On the first SIGTERM (or SIGINT) the worker takes no new task and finishes
the ones it runs. With a drain timeout, the tasks still running when it expires are
handed back to the queue (another worker takes them at once; the re-run supersedes
what this one wrote) and the process ends with exit code 75. A second signal hands
back at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import signal
import socket
from collections.abc import Sequence
from typing import Any

import procrastinate
import psycopg
from procrastinate.worker import Worker

from mediaflow.runtime import Runtime

__all__ = ["APPLICATION_PREFIX", "Drain", "hold_presence", "presence_name"]

logger = logging.getLogger(__name__)

APPLICATION_PREFIX = "mediaflow-worker"
# PostgreSQL keeps NAMEDATALEN - 1 bytes of application_name
_MAX_NAME = 63
HANDED_BACK_EXIT = 75  # EX_TEMPFAIL: the work was not lost, it was handed back


def presence_name(worker_id: int, pid: int, concurrency: int, queues: Sequence[str]) -> str:
    """The ``application_name`` of a worker's presence connection (cut to 63 bytes)."""
    host = socket.gethostname()
    name = f"{APPLICATION_PREFIX} {worker_id} {pid} {concurrency} {','.join(queues)} {host}"
    return name.encode()[:_MAX_NAME].decode(errors="ignore")


async def hold_presence(
    runtime: Runtime, worker: Worker, queues: Sequence[str], concurrency: int
) -> None:
    """Hold the presence connection while the worker runs (reconnecting when it drops)."""
    while True:
        worker_id = worker.worker_id
        if worker_id is None:  # not registered yet (or re-registering)
            await asyncio.sleep(0.2)
            continue
        name = presence_name(worker_id, os.getpid(), concurrency, queues)
        try:
            async with await psycopg.AsyncConnection.connect(
                runtime.db.libpq_url(), application_name=name, autocommit=True
            ) as connection:
                while worker.worker_id == worker_id:
                    await connection.execute("SELECT 1")  # notices a dead server
                    await asyncio.sleep(runtime.settings.worker_heartbeat_s)
        except psycopg.Error as exc:
            # the database restarted: the heartbeat has its own retries, presence too
            logger.warning("worker presence lost (%s); reconnecting", exc)
            await asyncio.sleep(runtime.settings.worker_heartbeat_s)


class Drain:
    """SIGTERM/SIGINT handling of a standalone worker: finish, or hand back after a timeout."""

    def __init__(self, app: procrastinate.App, worker: Worker, timeout_s: float | None) -> None:
        self.app = app
        self.worker = worker
        self.timeout_s = timeout_s
        self.draining = False
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def install(self) -> None:
        """Handle SIGTERM and SIGINT on the running loop."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)

    def uninstall(self) -> None:
        """Give the signals back (and forget a pending hand-back)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        if self._timer is not None:
            self._timer.cancel()

    def _on_signal(self, sig: int) -> None:
        loop = asyncio.get_running_loop()
        if self.draining:  # a second signal: do not wait any longer
            logger.warning("second %s: handing back now", signal.Signals(sig).name)
            self._spawn()
            return
        self.draining = True
        logger.warning(
            "%s: draining (no new files; the running ones finish%s)",
            signal.Signals(sig).name,
            "" if self.timeout_s is None else f", or go back to the queue in {self.timeout_s:g}s",
        )
        self.worker.stop()  # type: ignore[no-untyped-call]
        if self.timeout_s is not None:
            self._timer = loop.call_later(self.timeout_s, self._spawn)

    def _spawn(self) -> None:
        task = asyncio.get_running_loop().create_task(self.hand_back_and_exit())
        self._tasks.add(task)  # a reference, so the task is not collected mid-way

    async def hand_back(self) -> int:
        """Put this worker's running tasks back in the queue; return how many."""
        worker_id = self.worker.worker_id
        if worker_id is None:
            return 0
        now = dt.datetime.now(dt.UTC)
        count = 0
        jobs: Any = await self.app.job_manager.list_jobs_async(worker_id=worker_id, status="doing")
        for job in jobs:
            with contextlib.suppress(Exception):  # finished meanwhile: nothing to hand back
                await self.app.job_manager.retry_job_by_id_async(job.id, retry_at=now)
                count += 1
        return count

    async def hand_back_and_exit(self) -> None:
        """Hand the running tasks back, then end the process (their threads with it)."""
        try:
            count = await self.hand_back()
            logger.warning("handed %d running file(s) back to the queue", count)
        finally:
            # the running files' threads cannot be stopped from outside: the process ends
            os._exit(HANDED_BACK_EXIT)
