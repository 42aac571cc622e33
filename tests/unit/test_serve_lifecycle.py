"""``serve``'s in-process worker stops in a bounded time, whatever its files are doing."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mediaflow.api.lifecycle import InProcessWorker
from mediaflow.config import Settings
from mediaflow.runtime import Runtime
from tests import aio

NO_DATABASE = "postgresql://nobody@127.0.0.1:1/none"  # never reached


def _worker(tmp_path: Path, stop_after_s: float) -> InProcessWorker:
    settings = Settings(
        database_url=NO_DATABASE, data_dir=tmp_path, serve_stop_timeout_s=stop_after_s
    )  # type: ignore[call-arg]
    return InProcessWorker(Runtime(settings), concurrency=1)


def test_a_file_that_does_not_finish_is_abandoned(tmp_path: Path) -> None:
    async def scenario() -> tuple[bool, bool]:
        release = asyncio.Event()

        async def stubborn() -> None:  # a worker waiting on a file that takes forever
            while not release.is_set():
                try:
                    await release.wait()
                except asyncio.CancelledError:
                    continue  # procrastinate too keeps waiting for its running files

        worker = _worker(tmp_path, stop_after_s=0.2)
        task = asyncio.create_task(stubborn())
        worker._task = task
        await asyncio.sleep(0)
        await worker.stop()  # returns although the file never finishes
        still_running = not task.done()
        release.set()
        await task
        return worker.abandoned, still_running

    abandoned, still_running = aio.run(scenario())
    assert abandoned and still_running


def test_a_worker_that_stops_in_time_is_not_abandoned(tmp_path: Path) -> None:
    async def scenario() -> bool:
        async def polite() -> None:
            await asyncio.Event().wait()  # cancelled: ends at once

        worker = _worker(tmp_path, stop_after_s=600)
        worker._task = asyncio.create_task(polite())
        await asyncio.sleep(0)
        await worker.stop()
        return worker.abandoned

    assert aio.run(scenario()) is False
