"""The task queue as callers see it: defer a file, cancel queued files, count live workers.

The queue is procrastinate on the same PostgreSQL (its schema is revision
000000000003). This module only *puts* tasks in and takes them out by name; the
worker that runs them lives in ``mediaflow.pipeline.worker``. Keeping the two
apart lets the runtime own a queue client without knowing the pipeline.

One ``TaskQueue`` per runtime: it owns one procrastinate ``App`` on a synchronous,
thread-safe connection pool (opened on first use), so the API's request threads,
the CLI and tests share it. procrastinate's own errors are translated here, once.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from typing import Any

import procrastinate
import procrastinate.exceptions
import psycopg_pool
import sqlalchemy as sa

from mediaflow.db.pools import sync_pool
from mediaflow.db.session import Database
from mediaflow.errors import DatabaseUnavailable, Refused

__all__ = ["ALL_QUEUES", "MEDIA_QUEUE", "PROCESS_FILE_TASK", "TaskQueue", "file_lock", "queue_for"]

MEDIA_QUEUE = "media"
# One queue per kind of media, so that machines can be given the work they suit
# (`mediaflow worker --queues video` on the big ones); files whose kind is not known
# before probing go to MEDIA_QUEUE. A worker takes from every queue unless told.
KIND_QUEUES = ("video", "audio", "image")
ALL_QUEUES = (MEDIA_QUEUE, *KIND_QUEUES)
PROCESS_FILE_TASK = "mediaflow.process_file"
# Tasks per INSERT when a job queues many files (one round trip each).
DEFER_BATCH = 1000


def queue_for(kind: str | None) -> str:
    """The queue of a file of media type ``kind`` (``video``, ``audio``, ``image``)."""
    return kind if kind in KIND_QUEUES else MEDIA_QUEUE


# a file's kind: its probed media type, else what ingest sniffed from its first bytes
_KINDS_SQL = sa.text(
    "SELECT f.id, COALESCE(f.media_type::text, ("
    "  SELECT l.details->>'kind' FROM processing_log l"
    "  WHERE l.media_file_id = f.id AND l.stage = 'ingest' ORDER BY l.id DESC LIMIT 1"
    ")) FROM media_file f WHERE f.id = ANY(:ids)"
)


def file_lock(media_file_id: uuid.UUID | str) -> str:
    """The queueing lock of one file: at most one queued task per file at a time."""
    return f"file:{media_file_id}"


class TaskQueue:
    """Defer and cancel ``process_file`` tasks on one database's queue."""

    def __init__(
        self, db: Database, *, connector: procrastinate.BaseConnector | None = None
    ) -> None:
        """``connector``: procrastinate's own (tests pass an ``InMemoryConnector``)."""
        self.db = db
        self._connector = connector
        self._app: procrastinate.App | None = None
        self._pool: psycopg_pool.ConnectionPool | None = None
        self._lock = threading.Lock()

    def _open_app(self) -> procrastinate.App:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    connector = self._connector or procrastinate.SyncPsycopgConnector()
                    app = procrastinate.App(connector=connector)
                    # our own pool (autocommit, no liveness query per defer):
                    # mediaflow.db.pools; procrastinate leaves a given pool open
                    pool = None if self._connector else sync_pool(self.db.libpq_url())
                    try:
                        if pool is not None:
                            pool.open(wait=True, timeout=10)
                        app.open(pool)
                    except (
                        procrastinate.exceptions.ConnectorException,
                        psycopg_pool.PoolTimeout,
                    ) as exc:
                        if pool is not None:
                            pool.close()
                        raise DatabaseUnavailable(
                            f"cannot reach the task queue at {self.db.describe()}: {exc}"
                        ) from exc
                    self._app, self._pool = app, pool
        return self._app

    def defer_files(
        self, media_file_ids: Sequence[uuid.UUID], *, providers: Sequence[str] | None = None
    ) -> int:
        """Queue one task per file (``providers``: override the job's); return how many.

        The tasks go in ``DEFER_BATCH`` at a time, one statement each. ``Refused`` when
        a file already waits in the queue (its queued task will run); every other file
        of the call is queued all the same.
        """
        app = self._open_app()
        arguments: dict[str, Any] = {"providers": list(providers) if providers else None}
        ids = list(media_file_ids)
        waiting: list[uuid.UUID] = []
        for queue, of_queue in self._by_queue(ids).items():
            for start in range(0, len(of_queue), DEFER_BATCH):
                batch = of_queue[start : start + DEFER_BATCH]
                try:
                    self._defer(app, queue, batch, arguments)
                except procrastinate.exceptions.AlreadyEnqueued:
                    # one statement: none of it went in; find the file(s) one by one
                    for media_file_id in batch:
                        try:
                            self._defer(app, queue, [media_file_id], arguments)
                        except procrastinate.exceptions.AlreadyEnqueued:
                            waiting.append(media_file_id)
        if waiting:
            named = ", ".join(map(str, waiting[:5])) + (" ..." if len(waiting) > 5 else "")
            raise Refused(
                f"media file {named} is already queued"
                if len(waiting) == 1
                else f"{len(waiting)} media files are already queued: {named}",
                hint="wait until it is finished",
            )
        return len(ids)

    def _by_queue(self, ids: Sequence[uuid.UUID]) -> dict[str, list[uuid.UUID]]:
        """``ids`` grouped by the queue of their kind, in their order."""
        kinds: dict[uuid.UUID, str | None] = {}
        if self._connector is None and ids:  # in-memory tests have no files to look up
            with self.db.session() as session:
                kinds = {row[0]: row[1] for row in session.execute(_KINDS_SQL, {"ids": ids})}
        grouped: dict[str, list[uuid.UUID]] = {}
        for media_file_id in ids:
            grouped.setdefault(queue_for(kinds.get(media_file_id)), []).append(media_file_id)
        return grouped

    @staticmethod
    def _defer(
        app: procrastinate.App,
        queue: str,
        media_file_ids: Sequence[uuid.UUID],
        arguments: dict[str, Any],
    ) -> None:
        # one task per file, each with its file's queueing lock: a per-task setting
        # of procrastinate, so the batch is built from Job rows, not from one Task
        jobs = [
            app.configure_task(
                name=PROCESS_FILE_TASK, queue=queue, queueing_lock=file_lock(media_file_id)
            ).make_new_job(media_file_id=str(media_file_id), **arguments)
            for media_file_id in media_file_ids
        ]
        app.job_manager.batch_defer_jobs(jobs)

    def defer_task(
        self,
        task: str,
        *,
        queue: str = MEDIA_QUEUE,
        queueing_lock: str | None = None,
        **arguments: Any,
    ) -> bool:
        """Queue one task by name on ``queue``; False when its lock is already queued.

        Used by the long-media chunks (``pipeline.chunked``): their tasks are
        registered on the worker's App, so only the name travels here.
        """
        app = self._open_app()
        try:
            app.configure_task(name=task, queue=queue, queueing_lock=queueing_lock).defer(
                **arguments
            )
        except procrastinate.exceptions.AlreadyEnqueued:
            return False
        return True

    def cancel_queued(self, media_file_ids: Sequence[uuid.UUID]) -> int:
        """Cancel the queued (not yet started) tasks of these files; return how many."""
        app = self._open_app()
        cancelled = 0
        for media_file_id in media_file_ids:
            # whichever queue of a kind it waits in: the lock names the file
            for job in app.job_manager.list_jobs(
                status="todo", queueing_lock=file_lock(media_file_id)
            ):
                if job.id is not None:
                    cancelled += bool(app.job_manager.cancel_job_by_id(job.id))
        return cancelled

    def active_workers(self, stalled_after_s: float) -> int:
        """How many workers sent a heartbeat in the last ``stalled_after_s`` seconds."""
        with self.db.session() as session:
            count = session.execute(
                sa.text(
                    "SELECT count(*) FROM procrastinate_workers "
                    "WHERE last_heartbeat > now() - make_interval(secs => :secs)"
                ),
                {"secs": stalled_after_s},
            ).scalar_one()
        return int(count)

    def close(self) -> None:
        """Close the connection pool (reopened by the next call)."""
        with self._lock:
            app, self._app = self._app, None
            pool, self._pool = self._pool, None
        if app is not None:
            app.close()
        if pool is not None:
            pool.close()
