"""Which workers are alive, where they run, and what each is processing.

Read from three places, no table of our own: ``procrastinate_workers`` (id, last
heartbeat), the workers' presence connections in ``pg_stat_activity`` (host, pid,
queues, concurrency: see ``pipeline.fleet``) and the running tasks in
``procrastinate_jobs`` (which file each worker holds).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel, Field

from mediaflow.pipeline.fleet import APPLICATION_PREFIX
from mediaflow.runtime import Runtime

__all__ = ["CurrentFile", "WorkerOut", "list_workers"]


class CurrentFile(BaseModel):
    """A file a worker is processing now."""

    media_file_id: uuid.UUID
    job_id: uuid.UUID | None
    original_name: str | None
    started_at: datetime | None


class WorkerOut(BaseModel):
    """One registered worker and its health."""

    id: int
    host: str | None = Field(description="Host name (None: the worker's process is gone).")
    pid: int | None
    address: str | None = Field(description="The address the database sees it from.")
    queues: list[str]
    concurrency: int | None
    last_heartbeat: datetime
    heartbeat_age_s: float
    alive: bool = Field(description="A heartbeat within MEDIAFLOW_STALLED_AFTER_S.")
    current_files: list[CurrentFile]


_WORKERS = sa.text(
    """
    SELECT w.id, w.last_heartbeat,
           extract(epoch FROM now() - w.last_heartbeat) AS age_s,
           a.application_name, host(a.client_addr) AS address
      FROM procrastinate_workers w
      LEFT JOIN LATERAL (
            -- this database's: worker ids restart at 1 in every database of a server
            SELECT application_name, client_addr FROM pg_stat_activity
             WHERE datname = current_database()
               AND application_name LIKE :prefix || ' ' || w.id || ' %'
             ORDER BY backend_start DESC LIMIT 1
      ) a ON true
     ORDER BY w.id
    """
)
_RUNNING = sa.text(
    """
    SELECT j.worker_id, (j.args->>'media_file_id')::uuid AS media_file_id,
           mf.job_id, mf.original_name,
           (SELECT max(e.at) FROM procrastinate_events e
             WHERE e.job_id = j.id AND e.type = 'started') AS started_at
      FROM procrastinate_jobs j
      LEFT JOIN media_file mf ON mf.id = (j.args->>'media_file_id')::uuid
     WHERE j.status = 'doing' AND j.worker_id IS NOT NULL
       AND j.args ? 'media_file_id'
     ORDER BY started_at
    """
)


def _parse_presence(name: str | None) -> tuple[str | None, int | None, int | None, list[str]]:
    # "mediaflow-worker <id> <pid> <concurrency> <queues> <host>"
    if not name:
        return None, None, None, []
    parts = name.split(" ", 5)
    if len(parts) < 6:
        return None, None, None, []
    try:
        return parts[5], int(parts[2]), int(parts[3]), parts[4].split(",")
    except ValueError:
        return None, None, None, []


def list_workers(runtime: Runtime) -> list[WorkerOut]:
    """Every registered worker, alive or not yet pruned, with the files it is running."""
    stalled_after_s = runtime.settings.stalled_after_s
    with runtime.db.session() as session:
        workers = session.execute(_WORKERS, {"prefix": APPLICATION_PREFIX}).all()
        running = session.execute(_RUNNING).all()
    files: dict[int, list[CurrentFile]] = {}
    for row in running:
        files.setdefault(row.worker_id, []).append(
            CurrentFile(
                media_file_id=row.media_file_id, job_id=row.job_id,
                original_name=row.original_name, started_at=row.started_at,
            )
        )  # fmt: skip
    result = []
    for row in workers:
        host, pid, concurrency, queues = _parse_presence(row.application_name)
        age = float(row.age_s)
        result.append(
            WorkerOut(
                id=row.id, host=host, pid=pid, address=row.address, queues=queues,
                concurrency=concurrency, last_heartbeat=row.last_heartbeat,
                heartbeat_age_s=round(age, 3), alive=age <= stalled_after_s,
                current_files=files.get(row.id, []),
            )
        )  # fmt: skip
    return result
