"""The queue worker: takes ``process_file`` tasks and runs them on its runtime.

One task per media file. Any number of ``mediaflow worker`` processes, on any number
of machines pointing at the same database (and the same store: a shared data
directory, or ``MEDIAFLOW_STORAGE_URL=s3://…``), take
tasks from the ``media`` queue. A worker that dies mid-file stops sending heartbeats;
the other workers hand its tasks back to the queue after ``stalled_after_s``, and the
re-run supersedes whatever the dead worker had written.

Each worker builds its own procrastinate ``App`` (one per runtime) with the task
registered on it; the task finds its runtime in procrastinate's job context
(``additional_context``), never in a global.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import procrastinate
import sqlalchemy as sa

from mediaflow.db.enums import MediaFileStatus
from mediaflow.db.models import AnalysisJob, MediaFile
from mediaflow.db.pools import async_pool_factory
from mediaflow.errors import IntegrityError, NotFound
from mediaflow.pipeline.chunked import CHUNK_TASK, process_chunk, split_file
from mediaflow.pipeline.fleet import Drain, hold_presence
from mediaflow.pipeline.liveness import LivenessApp, hand_back_silent
from mediaflow.pipeline.runner import finish_job
from mediaflow.pipeline.stages import Pipeline
from mediaflow.pipeline.task_guard import guarded
from mediaflow.queue import ALL_QUEUES, MEDIA_QUEUE, PROCESS_FILE_TASK
from mediaflow.runtime import Runtime

__all__ = ["FileProcessor", "build_worker_app", "process_file", "run_worker"]

logger = logging.getLogger(__name__)

# What the task body does with a file: (runtime, file id, providers) -> final status.
FileProcessor = Callable[[Runtime, uuid.UUID, list[str] | None], str]
_RUNTIME = "runtime"
_MAX_ATTEMPTS = 3
_PROCESSOR = "processor"


def process_file(runtime: Runtime, media_file_id: uuid.UUID, providers: list[str] | None) -> str:
    """Run every stage on one media file, then finish its job if it was the last one.

    ``providers`` (a reanalysis) overrides the providers the job was created with. A
    file cancelled after its task was queued is left as it is.
    """
    with runtime.db.session() as session:
        row = session.execute(
            sa.select(
                MediaFile.job_id, MediaFile.status, AnalysisJob.options, MediaFile.storage_key
            )
            .join(AnalysisJob, AnalysisJob.id == MediaFile.job_id)
            .where(MediaFile.id == media_file_id)
        ).first()
        if row is None:
            raise NotFound(f"media file {media_file_id} does not exist")
        job_id, status, options, key = row
    if status is MediaFileStatus.CANCELLED:
        return status.value
    split = split_file(runtime, media_file_id, providers)  # a long file: chunk tasks instead
    if split is not None:
        return split
    selection = runtime.providers.select(
        providers or options.get("providers"), check_available=False
    )
    if key is not None:
        # fetch a remote original before the file is claimed: an unreachable store is
        # the task's failure (procrastinate retries it), never the file's
        # a missing or damaged original fails the file, below, with its reason
        with contextlib.suppress(NotFound, IntegrityError):
            runtime.store.local_path(key)
    try:
        outcome = Pipeline.of(runtime).process_file(media_file_id, selection)
    finally:
        if key is not None:
            runtime.store.release(key)
    finish_job(runtime.db, job_id)
    return outcome.status.value


def _process_file_task(
    context: procrastinate.JobContext, media_file_id: str, providers: list[str] | None = None
) -> str:
    runtime: Runtime = context.additional_context[_RUNTIME]
    processor: FileProcessor = context.additional_context[_PROCESSOR]
    file_id = uuid.UUID(media_file_id)
    # attempts counts the retries before this run; procrastinate retries no more once it
    # reaches max_attempts, so that run is the last: it fails the file, with a reason
    last_attempt = context.job.attempts >= _MAX_ATTEMPTS
    return guarded(
        lambda: processor(runtime, file_id, providers), runtime, file_id, last_attempt=last_attempt
    )


def _process_chunk_task(
    context: procrastinate.JobContext,
    media_file_id: str,
    *,
    run: str,
    chunk: dict[str, Any],
    chunks: int,
    providers: list[str] | None = None,
) -> str:
    runtime: Runtime = context.additional_context[_RUNTIME]
    return process_chunk(
        runtime,
        uuid.UUID(media_file_id),
        run=run,
        chunk_data=chunk,
        chunks=chunks,
        providers=providers,
    )


def build_worker_app(
    connector: procrastinate.BaseConnector, *, heartbeat_conninfo: str | None = None
) -> LivenessApp:
    """A procrastinate App with mediaflow's tasks registered on it (one App per worker).

    ``heartbeat_conninfo``: the workers beat on a connection of their own there, so
    that heartbeats resume as soon as the database is back (see ``liveness``).
    """
    app = LivenessApp(connector=connector, heartbeat_conninfo=heartbeat_conninfo)
    app.task(
        name=PROCESS_FILE_TASK,
        queue=MEDIA_QUEUE,
        pass_context=True,
        # a crash of our own code (not a bad file: that fails the file, not the task)
        retry=procrastinate.RetryStrategy(max_attempts=_MAX_ATTEMPTS, wait=2, exponential_wait=2),
    )(_process_file_task)
    app.task(
        name=CHUNK_TASK,
        queue=MEDIA_QUEUE,
        pass_context=True,
        retry=procrastinate.RetryStrategy(max_attempts=_MAX_ATTEMPTS, wait=2, exponential_wait=2),
    )(_process_chunk_task)
    return app


async def _hand_back_stalled(app: procrastinate.App, every_s: float, stalled_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        try:
            for queue in ALL_QUEUES:
                await hand_back_silent(app, queue, stalled_s)
        except Exception:  # keep sweeping: a transient DB error must not stop the worker
            logger.exception("could not hand back stalled tasks")


async def _unload_idle_models(runtime: Runtime, idle_s: float) -> None:
    # a worker that sat idle gives its models' memory back; the next file reloads them
    while True:
        await asyncio.sleep(max(1.0, idle_s / 4))
        for name in runtime.providers.unload_idle(idle_s):
            logger.info("unloaded the idle model of %s", name)


async def run_worker(
    runtime: Runtime,
    concurrency: int,
    *,
    wait: bool = True,
    install_signal_handlers: bool = True,
    connector: procrastinate.BaseConnector | None = None,
    processor: FileProcessor = process_file,
    queues: Sequence[str] = ALL_QUEUES,
    drain_timeout_s: float | None = None,
) -> None:
    """Run one worker's loop (``mediaflow worker``, or inside ``mediaflow serve``).

    ``wait=False`` returns once the queue is empty. ``connector`` and ``processor``
    let tests run the loop on procrastinate's in-memory queue. With
    ``install_signal_handlers`` SIGTERM drains the worker (``fleet.Drain``:
    ``drain_timeout_s`` then hands the running files back). A worker on a real
    database shows itself in ``GET /workers`` (``fleet.hold_presence``).
    """
    settings = runtime.settings
    app = build_worker_app(
        connector
        # autocommit, no liveness query per statement: see mediaflow.db.pools
        or procrastinate.PsycopgConnector(
            conninfo=runtime.db.libpq_url(), pool_factory=async_pool_factory()
        ),
        heartbeat_conninfo=None if connector else runtime.db.libpq_url(),
    )
    context: dict[str, Any] = {_RUNTIME: runtime, _PROCESSOR: processor}
    async with app.open_async():
        # a ResilientWorker (pipeline.liveness): its heartbeat outlives database outages
        worker = app._worker(
            queues=list(queues),
            concurrency=concurrency,
            wait=wait,
            update_heartbeat_interval=settings.worker_heartbeat_s,
            stalled_worker_timeout=settings.stalled_after_s,
            install_signal_handlers=False,
            additional_context=context,
        )
        helpers = [
            asyncio.create_task(
                _hand_back_stalled(app, settings.worker_heartbeat_s, settings.stalled_after_s)
            )
        ]
        if settings.model_idle_unload_s > 0:
            helpers.append(
                asyncio.create_task(_unload_idle_models(runtime, settings.model_idle_unload_s))
            )
        if connector is None:
            helpers.append(asyncio.create_task(hold_presence(runtime, worker, queues, concurrency)))
        drain = Drain(app, worker, drain_timeout_s) if install_signal_handlers else None
        if drain is not None:
            drain.install()
        try:
            await worker.run()  # type: ignore[no-untyped-call]
        finally:
            if drain is not None:
                drain.uninstall()
            for helper in helpers:
                helper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await helper
