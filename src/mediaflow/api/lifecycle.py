"""The in-process worker's life inside ``mediaflow serve``: start, and a bounded stop.

uvicorn owns SIGTERM/SIGINT: it stops accepting connections, then runs the lifespan's
shutdown, which lands here. In-flight files get ``serve_stop_timeout_s`` to finish;
whatever still runs after that is abandoned. Its tasks stay ``doing`` under a worker
whose heartbeat has stopped, so the stall sweep (``pipeline.liveness``) of any worker,
or of the next ``serve``, hands them back to the queue: no file is lost, none runs
twice at once. ``abandoned`` tells the edge to exit without waiting for the threads
still running those files.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from mediaflow.pipeline.worker import run_worker
from mediaflow.runtime import Runtime

__all__ = ["InProcessWorker", "release_embedded", "watch_embedded"]

logger = logging.getLogger("mediaflow.api")


@dataclass
class InProcessWorker:
    """One queue worker running in the server's event loop."""

    runtime: Runtime
    concurrency: int
    abandoned: bool = False
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    def start(self) -> None:
        """Start the worker loop (signals stay uvicorn's)."""
        self._task = asyncio.create_task(
            run_worker(self.runtime, self.concurrency, install_signal_handlers=False)
        )

    async def stop(self) -> None:
        """Ask the worker to stop; give in-flight files a bounded time to finish."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()  # procrastinate: stop fetching, wait for running files
        timeout = self.runtime.settings.serve_stop_timeout_s
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            self.abandoned = True
            logger.warning(
                "files still running after %.0fs: left for the queue to hand out again",
                timeout,
            )
            return
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def watch_embedded(runtime: Runtime, every_s: float = 5.0) -> None:
    """Start the embedded PostgreSQL again whenever it died under a running server."""
    from mediaflow.db.embedded import ensure_running

    pgdata = runtime.settings.pgdata_dir
    while True:
        await asyncio.sleep(every_s)
        try:
            if await asyncio.to_thread(ensure_running, pgdata):
                logger.warning("the embedded PostgreSQL had stopped; started it again")
        except Exception:  # keep watching: the next round may succeed
            logger.exception("could not start the embedded PostgreSQL again")


def release_embedded(runtime: Runtime) -> None:
    """Let go of this process's handle on the embedded PostgreSQL (it stops if last).

    uvicorn ends a SIGTERM'd server by raising the signal again with its default
    action: the process dies without running ``atexit``, so pgserver's own release
    never ran and the server outlived ``serve`` with a dead holder in its list.
    """
    if runtime.settings.uses_embedded_database:
        from mediaflow.db.embedded import stop_embedded

        stop_embedded(runtime.settings.pgdata_dir)
