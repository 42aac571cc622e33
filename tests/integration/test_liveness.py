"""Worker liveness on real PostgreSQL: a pruned worker comes back with its tasks, and a
restart of the database gives every worker a full silence window."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import procrastinate

from mediaflow.pipeline.liveness import LivenessApp, ResilientWorker, silent_job_ids
from mediaflow.queue import MEDIA_QUEUE
from mediaflow.runtime import Runtime
from tests import aio
from tests.migration.helpers import query, run_sql


def test_a_pruned_worker_registers_again_and_takes_its_task_back(
    head_db: str, runtime: Runtime
) -> None:
    file_id = uuid.uuid4()
    runtime.queue.defer_files([file_id])
    (job_id,) = query(head_db, "SELECT id FROM procrastinate_jobs")[0]
    conninfo = runtime.db.libpq_url()

    async def scenario() -> None:
        app = LivenessApp(
            connector=procrastinate.PsycopgConnector(conninfo=conninfo),
            heartbeat_conninfo=conninfo,
        )
        async with app.open_async():
            worker_id = await app.job_manager.register_worker()
            # the worker runs the task; then, while it could not beat, another worker
            # pruned it: the task's worker_id became NULL
            run_sql(
                head_db,
                [
                    f"UPDATE procrastinate_jobs SET status = 'doing', worker_id = {worker_id}",
                    f"DELETE FROM procrastinate_workers WHERE id = {worker_id}",
                ],
            )
            assert query(head_db, "SELECT worker_id FROM procrastinate_jobs") == [(None,)]
            worker = app._worker(queues=[MEDIA_QUEUE])
            assert isinstance(worker, ResilientWorker)
            worker.worker_id = worker_id
            worker._running_jobs = {  # type: ignore[assignment]
                "task": SimpleNamespace(job=SimpleNamespace(id=job_id))
            }
            await worker._beat()
            await worker._drop_connection()
            assert query(head_db, "SELECT id FROM procrastinate_workers") == [(worker_id,)]
            assert query(head_db, "SELECT worker_id FROM procrastinate_jobs") == [(worker_id,)]
            # its heartbeat is fresh: nobody hands its task out
            assert await silent_job_ids(app, MEDIA_QUEUE, 5) == []

    aio.run(scenario())


def test_silence_counts_from_the_database_start(head_db: str, runtime: Runtime) -> None:
    runtime.queue.defer_files([uuid.uuid4()])
    conninfo = runtime.db.libpq_url()
    uptime = float(
        query(head_db, "SELECT extract(epoch FROM now() - pg_postmaster_start_time())")[0][0]
    )

    async def scenario() -> tuple[list[int], list[int]]:
        app = LivenessApp(connector=procrastinate.PsycopgConnector(conninfo=conninfo))
        async with app.open_async():
            worker_id = await app.job_manager.register_worker()
            # the last heartbeat came before the server (re)started: an outage
            run_sql(
                head_db,
                [
                    f"UPDATE procrastinate_jobs SET status = 'doing', worker_id = {worker_id}",
                    "UPDATE procrastinate_workers SET last_heartbeat = "
                    "pg_postmaster_start_time() - interval '2 hours'",
                ],
            )
            # a window the server has been up for longer than: silent, handed out
            silent = await silent_job_ids(app, MEDIA_QUEUE, 0.001)
            # a window longer than the server has been up: the heartbeat is older than
            # the window, but the clock starts at the restart, so the task is kept
            kept = await silent_job_ids(app, MEDIA_QUEUE, uptime + 600)
            return silent, kept

    silent, kept = aio.run(scenario())
    assert len(silent) == 1 and kept == []
