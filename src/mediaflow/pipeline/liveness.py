"""Worker liveness that survives a database outage: heartbeats that resume, fair sweeps.

procrastinate's own heartbeat is a side task that dies on its first database error,
so after a PostgreSQL restart a worker kept running files with its heartbeat frozen
at the moment of the kill; the other workers then took it for dead and ran its files
again. Three changes, all here:

- ``ResilientWorker`` keeps beating through errors (retrying every second until the
  database answers again) and, when its row was pruned meanwhile, registers again
  under the same id and takes its running tasks back.
- A worker is silent only when it sent no heartbeat for ``stalled_s`` *while the
  database was up*: the clock starts at ``greatest(last_heartbeat,
  pg_postmaster_start_time())``, so a restart gives every worker a full
  ``stalled_s`` to come back before anyone touches its tasks. The start-up prune
  and the stalled-task sweep both use that rule.
- ``LivenessApp`` is a procrastinate ``App`` whose workers and job manager do the two
  things above.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import procrastinate
import procrastinate.exceptions
import psycopg
from procrastinate import manager
from procrastinate import worker as procrastinate_worker

__all__ = ["LivenessApp", "ResilientWorker", "hand_back_silent", "silent_job_ids"]

logger = logging.getLogger(__name__)

# a worker's clock starts again when the database does (pg_postmaster_start_time)
_SILENT_WORKERS = """
    SELECT id FROM procrastinate_workers
     WHERE greatest(last_heartbeat, pg_postmaster_start_time())
           < now() - make_interval(secs => %(stalled_s)s)
"""
_PRUNE_SILENT = f"""
    DELETE FROM procrastinate_workers WHERE id IN ({_SILENT_WORKERS})
    RETURNING id AS worker_id
"""
# running tasks of silent workers, and orphans (worker row gone) that started
# before the silence window while the database was up
_SILENT_JOBS = f"""
    SELECT job.id
      FROM procrastinate_jobs job
     WHERE job.status = 'doing'
       AND job.queue_name = %(queue)s
       AND (job.worker_id IN ({_SILENT_WORKERS})
            OR (job.worker_id IS NULL
                AND greatest(
                      (SELECT max(event.at) FROM procrastinate_events event
                        WHERE event.job_id = job.id AND event.type = 'started'),
                      pg_postmaster_start_time())
                    < now() - make_interval(secs => %(stalled_s)s)))
"""
_BEAT = """
    UPDATE procrastinate_workers SET last_heartbeat = now() WHERE id = %(worker_id)s
    RETURNING id
"""
_REGISTER_AGAIN = """
    INSERT INTO procrastinate_workers (id, last_heartbeat)
    OVERRIDING SYSTEM VALUE VALUES (%(worker_id)s, now())
    ON CONFLICT (id) DO UPDATE SET last_heartbeat = now()
"""
_TAKE_BACK = """
    UPDATE procrastinate_jobs SET worker_id = %(worker_id)s
     WHERE id = ANY(%(job_ids)s) AND status = 'doing' AND worker_id IS NULL
"""
_RETRY_WAIT_S = 1.0
_GIVE_UP_WHEN_STOPPING_S = 30.0


def _speaks_sql(connector: Any) -> bool:
    # procrastinate's in-memory connector (unit tests) only knows its own queries
    return isinstance(
        connector, procrastinate.PsycopgConnector | procrastinate.SyncPsycopgConnector
    )


async def silent_job_ids(app: procrastinate.App, queue: str, stalled_s: float) -> list[int]:
    """Ids of the running tasks on ``queue`` whose worker has been silent ``stalled_s``."""
    if not _speaks_sql(app.connector):
        jobs = await app.job_manager.get_stalled_jobs(
            queue=queue, seconds_since_heartbeat=stalled_s
        )
        return [job.id for job in jobs if job.id is not None]
    rows = await app.connector.execute_query_all_async(
        _SILENT_JOBS,
        queue=queue,
        stalled_s=stalled_s,
    )
    return [int(row["id"]) for row in rows]


async def hand_back_silent(app: procrastinate.App, queue: str, stalled_s: float) -> list[int]:
    """Put the tasks of silent workers back in the queue; return their ids."""
    job_ids = await silent_job_ids(app, queue, stalled_s)
    for job_id in job_ids:
        logger.warning("task %s of a silent worker goes back to the queue", job_id)
        await app.job_manager.retry_job_by_id_async(job_id, retry_at=_now())
    return job_ids


def _now() -> Any:
    from procrastinate import utils

    return utils.utcnow()


class _LivenessJobManager(manager.JobManager):
    async def prune_stalled_workers(self, seconds_since_heartbeat: float) -> list[int]:
        """Delete workers silent that long while the database was up (not just restarted)."""
        if not _speaks_sql(self.connector):
            return await super().prune_stalled_workers(seconds_since_heartbeat)
        rows = await self.connector.execute_query_all_async(
            _PRUNE_SILENT,
            stalled_s=seconds_since_heartbeat,
        )
        return [int(row["worker_id"]) for row in rows]


class ResilientWorker(procrastinate_worker.Worker):
    """A procrastinate worker whose heartbeat outlives database errors.

    It beats on a connection of its own: after an outage the shared pool may wait
    out a long reconnection backoff, and a heartbeat must not wait with it.
    """

    heartbeat_conninfo: str | None = None
    _beat_connection: psycopg.AsyncConnection[Any] | None = None

    async def _update_heartbeat(self) -> None:
        delay = self.update_heartbeat_interval
        try:
            while True:
                await asyncio.sleep(delay)
                try:
                    await self._beat()
                except Exception as exc:  # the database is away: keep trying, never give up
                    logger.warning("heartbeat not written (%s); trying again", exc)
                    await self._drop_connection()
                    delay = min(_RETRY_WAIT_S, self.update_heartbeat_interval)
                else:
                    delay = self.update_heartbeat_interval
        finally:
            await self._drop_connection()

    async def _fetch_and_process_jobs(self) -> None:
        # procrastinate's fetch loop ends the worker on the first database error;
        # an outage must only pause it
        while True:
            try:
                await super()._fetch_and_process_jobs()  # type: ignore[no-untyped-call]
                return
            except procrastinate.exceptions.ConnectorException as exc:
                if self._stop_event.is_set():
                    raise
                logger.warning("cannot fetch tasks (%s); trying again", exc.__cause__ or exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop_event.wait(), _RETRY_WAIT_S)
                if self._stop_event.is_set():
                    return

    async def _persist_job_status(self, *args: Any, **kwargs: Any) -> None:
        # a task's outcome written during an outage would be lost and the task left
        # "doing" under a live worker forever: write it once the database is back
        stopping_since: float | None = None
        while True:
            try:
                await super()._persist_job_status(*args, **kwargs)
                return
            except procrastinate.exceptions.ConnectorException as exc:
                loop_time = asyncio.get_running_loop().time()
                if self._stop_event.is_set():
                    stopping_since = stopping_since or loop_time
                    if loop_time - stopping_since > _GIVE_UP_WHEN_STOPPING_S:
                        raise  # after we exit, the sweep hands the task to another worker
                logger.warning("task outcome not written (%s); trying again", exc.__cause__)
                await asyncio.sleep(_RETRY_WAIT_S)

    async def _drop_connection(self) -> None:
        connection, self._beat_connection = self._beat_connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()

    async def _run(self, query: str, **params: Any) -> list[Any]:
        if self.heartbeat_conninfo is None:
            rows = await self.app.connector.execute_query_all_async(query, **params)
            return list(rows)
        if self._beat_connection is None:
            self._beat_connection = await psycopg.AsyncConnection.connect(
                self.heartbeat_conninfo, autocommit=True, connect_timeout=5
            )
        cursor = await self._beat_connection.execute(query, params)
        return await cursor.fetchall() if cursor.description else []

    async def _beat(self) -> None:
        worker_id = self.worker_id
        if worker_id is None:
            return
        if self.heartbeat_conninfo is None and not _speaks_sql(self.app.connector):
            await self.app.job_manager.update_heartbeat(worker_id)
            return
        if await self._run(_BEAT, worker_id=worker_id):
            return
        # pruned while we could not beat: come back under the same id, and take back
        # our running tasks (their worker_id was set NULL) before a sweep hands them out
        logger.warning("worker %s was pruned while silent; registering again", worker_id)
        await self._run(_REGISTER_AGAIN, worker_id=worker_id)
        job_ids = [
            context.job.id for context in self._running_jobs.values() if context.job is not None
        ]
        if job_ids:
            await self._run(_TAKE_BACK, worker_id=worker_id, job_ids=job_ids)


class LivenessApp(procrastinate.App):
    """A procrastinate ``App`` whose workers beat through outages and prune fairly."""

    def __init__(
        self,
        *,
        connector: procrastinate.BaseConnector,
        heartbeat_conninfo: str | None = None,
        **kwargs: Any,
    ) -> None:
        """``heartbeat_conninfo``: where workers beat on their own connection (libpq URL)."""
        super().__init__(connector=connector, **kwargs)
        self.job_manager = _LivenessJobManager(connector=self.connector)
        self.heartbeat_conninfo = heartbeat_conninfo

    def _worker(self, **kwargs: Any) -> procrastinate_worker.Worker:
        final_kwargs = {**self.worker_defaults, **kwargs}
        worker = ResilientWorker(app=self, **final_kwargs)
        worker.heartbeat_conninfo = self.heartbeat_conninfo
        return worker
