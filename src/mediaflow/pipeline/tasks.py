"""The task queue: procrastinate on the same PostgreSQL (schema from revision 000000000003).

One task per media file. Any number of ``mediaflow worker`` processes, on any number
of machines pointing at the same database (and sharing the data directory), take
tasks from the ``media`` queue. A worker that dies mid-file stops sending heartbeats;
the other workers hand its tasks back to the queue after ``stalled_after_s``, and the
re-run supersedes whatever the dead worker had written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence
from functools import lru_cache

import procrastinate
import procrastinate.tasks
import sqlalchemy as sa

from mediaflow.config import get_settings
from mediaflow.db.enums import JobStatus, MediaFileStatus
from mediaflow.db.models import AnalysisJob, MediaFile
from mediaflow.db.session import database_url, libpq_url, session_scope
from mediaflow.errors import NotFound
from mediaflow.pipeline.runner import finish_job, select_providers
from mediaflow.pipeline.stages import process_media_file
from mediaflow.storage import default_store

QUEUE = "media"
TASK_NAME = "mediaflow.process_file"
logger = logging.getLogger(__name__)

tasks = procrastinate.Blueprint()


@tasks.task(
    name=TASK_NAME,
    queue=QUEUE,
    # a crash of our own code (not a bad file: that fails the file, not the task)
    retry=procrastinate.RetryStrategy(max_attempts=3, wait=2, exponential_wait=2),
)
def process_file(media_file_id: str, providers: list[str] | None = None) -> str:
    """Run every stage on one media file, then finish its job if it was the last one.

    ``providers`` (a reanalysis) overrides the providers the job was created with. A
    file cancelled after its task was queued is left as it is.
    """
    file_id = uuid.UUID(media_file_id)
    with session_scope() as session:
        row = session.execute(
            sa.select(MediaFile.job_id, MediaFile.status, AnalysisJob.options)
            .join(AnalysisJob, AnalysisJob.id == MediaFile.job_id)
            .where(MediaFile.id == file_id)
        ).first()
        if row is None:
            raise NotFound(f"media file {file_id} does not exist")
        job_id, status, options = row
    if status is MediaFileStatus.CANCELLED:
        return status.value
    selection = select_providers(providers or options.get("providers"), check_available=False)
    outcome = process_media_file(
        file_id,
        store=default_store(get_settings()),
        transcription_providers=selection.transcription,
        analysis_providers=selection.analysis,
    )
    finish_job(job_id)
    return outcome.status.value


@lru_cache(maxsize=4)
def _app_for(url: str) -> procrastinate.App:
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=libpq_url(url)),
    )
    app.add_tasks_from(tasks, namespace="")
    return app


def get_app(url: str | None = None) -> procrastinate.App:
    """The procrastinate App bound to mediaflow's database."""
    return _app_for(url or database_url())


def _own_app(url: str | None) -> procrastinate.App:
    """The App with a connector of its own, opened and closed by one caller.

    A connector is either async (a worker's pool) or sync, never both: once a worker
    in this process (``mediaflow serve``) opened the shared App for async use, a sync
    open of the same App fails. And request threads opening and closing one sync
    connector at once would close it under each other. So each user gets its own.
    """
    url = url or database_url()
    return get_app(url).with_connector(procrastinate.PsycopgConnector(conninfo=libpq_url(url)))


def active_workers(url: str | None = None) -> int:
    """How many workers sent a heartbeat recently (0: process in this process)."""
    stalled = get_settings().stalled_after_s
    with session_scope(url) as session:
        count = session.execute(
            sa.text(
                "SELECT count(*) FROM procrastinate_workers "
                "WHERE last_heartbeat > now() - make_interval(secs => :secs)"
            ),
            {"secs": stalled},
        ).scalar_one()
    return int(count)


def enqueue_files(
    media_file_ids: Sequence[uuid.UUID],
    *,
    providers: Sequence[str] | None = None,
    url: str | None = None,
) -> int:
    """Defer one task per media file (``providers``: override the job's); return how many."""
    app = _own_app(url)
    with app.open():
        for media_file_id in media_file_ids:
            # the task object's own App is the shared one: defer through this App's manager.
            # One queued task per file at a time: a second enqueue of the same file waits.
            procrastinate.tasks.configure_task(
                name=TASK_NAME,
                job_manager=app.job_manager,
                queue=QUEUE,
                queueing_lock=f"file:{media_file_id}",
            ).defer(
                media_file_id=str(media_file_id),
                providers=list(providers) if providers else None,
            )
    return len(media_file_ids)


def enqueue_job(job_id: uuid.UUID, url: str | None = None) -> int:
    """Defer one task per pending file of ``job_id``; return how many."""
    with session_scope(url) as session:
        ids = session.scalars(
            sa.select(MediaFile.id).where(
                MediaFile.job_id == job_id, MediaFile.status == MediaFileStatus.PENDING
            )
        ).all()
        session.execute(
            sa.update(AnalysisJob)
            .where(AnalysisJob.id == job_id)
            .values(status=JobStatus.QUEUED, finished_at=None)
        )
    return enqueue_files(ids, url=url)


def cancel_queued(media_file_ids: Sequence[uuid.UUID], url: str | None = None) -> int:
    """Cancel the queued (not yet started) tasks of these files; return how many."""
    app = _own_app(url)
    cancelled = 0
    with app.open():
        for media_file_id in media_file_ids:
            for job in app.job_manager.list_jobs(
                queue=QUEUE, status="todo", queueing_lock=f"file:{media_file_id}"
            ):
                if job.id is not None:
                    cancelled += bool(app.job_manager.cancel_job_by_id(job.id))
    return cancelled


async def _hand_back_stalled(app: procrastinate.App, every_s: float, stalled_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        try:
            for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_s):
                logger.warning("task %s of a silent worker goes back to the queue", job.id)
                await app.job_manager.retry_job(job)
        except Exception:  # keep sweeping: a transient DB error must not stop the worker
            logger.exception("could not hand back stalled tasks")


async def run_worker(concurrency: int, url: str | None = None, *, wait: bool = True) -> None:
    """Run one worker process's loop (``mediaflow worker``)."""
    settings = get_settings()
    app = _own_app(url)
    async with app.open_async():
        sweeper = asyncio.create_task(
            _hand_back_stalled(app, settings.worker_heartbeat_s, settings.stalled_after_s)
        )
        try:
            await app.run_worker_async(
                queues=[QUEUE],
                concurrency=concurrency,
                wait=wait,
                update_heartbeat_interval=settings.worker_heartbeat_s,
                stalled_worker_timeout=settings.stalled_after_s,
                install_signal_handlers=True,
            )
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
