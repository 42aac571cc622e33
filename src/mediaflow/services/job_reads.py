"""The hot read of the API, ``GET /jobs/{id}``, as one SQL statement and JSON bytes.

A client polling a job asks this many times a second. ``services.jobs.get_job``
answers it with four ORM queries in a thread and a pydantic object graph; here the
same answer (the same ``JobDetail`` JSON document) comes from one statement on an
async autocommit connection (``db.pools.ReadPool``) that has PostgreSQL build the
document itself, so Python only passes its text on. ``tests/unit/test_job_reads.py``
holds the two answers equal on jobs in every state.
"""

from __future__ import annotations

import uuid
from typing import Any

from mediaflow.db.pools import ReadPool
from mediaflow.errors import NotFound
from mediaflow.services.jobs import _DONE_LOG, _FILE_DONE, PIPELINE_STAGES
from mediaflow.services.schemas import JobCounts

__all__ = ["JOB_DETAIL_SQL", "job_detail_json"]


def _quoted(values: Any) -> str:
    # enum values are fixed identifiers of this code, never input: inlined, the
    # statement is the same text each time (one prepared plan per connection)
    return ", ".join(f"'{v.value}'" for v in values)


def _timestamp(column: str) -> str:
    # ISO 8601 in UTC the way pydantic writes it: "Z", six fraction digits or none
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (
        f"CASE WHEN {column} IS NULL THEN NULL "
        f"WHEN mod(extract(microseconds FROM {column})::bigint, 1000000) = 0 "
        f"""THEN to_char({utc}, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') """
        f"""ELSE to_char({utc}, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') END"""
    )


_COUNTS = ", ".join(
    f"'{name}', count(*)" + ("" if name == "total" else f" FILTER (WHERE status = '{name}')")
    for name in JobCounts.model_fields
)

# The whole JobDetail document, built by PostgreSQL: the job, its counts, its files
# in the order services.jobs lists them, each with its newest log stage and how many
# pipeline stages it finished in its current run (the three reads of
# ``services.jobs._detail`` in one statement).
JOB_DETAIL_SQL = f"""
WITH latest AS (
    SELECT DISTINCT ON (media_file_id) media_file_id, stage
    FROM processing_log WHERE job_id = %(id)s
    ORDER BY media_file_id, id DESC
), finished AS (
    SELECT p.media_file_id, count(DISTINCT p.stage) AS n
    FROM processing_log p JOIN media_file m ON m.id = p.media_file_id
    WHERE p.job_id = %(id)s
      AND p.stage IN ({_quoted(PIPELINE_STAGES)})
      AND p.status IN ({_quoted(_DONE_LOG)})
      AND (m.started_at IS NULL OR p.created_at >= m.started_at)
    GROUP BY p.media_file_id
), files AS (
    SELECT f.id, f.original_name, f.status::text AS status, f.media_type, f.file_type,
           f.size_bytes, f.duration_s, f.error, latest.stage, f.created_at,
           CASE WHEN f.status IN ({_quoted(_FILE_DONE)}) THEN 1.0::float8
                -- as Python does it: the float quotient, rounded to 4 places
                ELSE round(least(1.0, coalesce(finished.n, 0)::float8
                                      / {len(PIPELINE_STAGES)})::numeric, 4)::float8
           END AS progress
    FROM media_file f
    LEFT JOIN latest ON latest.media_file_id = f.id
    LEFT JOIN finished ON finished.media_file_id = f.id
    WHERE f.job_id = %(id)s
)
SELECT json_build_object(
    'id', j.id, 'name', j.name, 'status', j.status, 'options', j.options, 'error', j.error,
    'created_at', {_timestamp("j.created_at")},
    'started_at', {_timestamp("j.started_at")},
    'finished_at', {_timestamp("j.finished_at")},
    'counts', (SELECT json_build_object({_COUNTS}) FROM files),
    'files', coalesce((
        SELECT json_agg(json_build_object(
            'id', id, 'original_name', original_name, 'status', status,
            'media_type', media_type, 'file_type', file_type, 'size_bytes', size_bytes,
            'duration_s', duration_s, 'error', error, 'stage', stage, 'progress', progress
        ) ORDER BY created_at, original_name, id) FROM files), '[]'::json)
)::text
FROM analysis_job j WHERE j.id = %(id)s
"""


async def job_detail_json(reads: ReadPool, job_id: uuid.UUID) -> bytes:
    """``GET /jobs/{id}``'s body: the job, its counts and files; ``NotFound`` when none."""
    async with reads.connection() as conn:
        cursor = await conn.execute(JOB_DETAIL_SQL, {"id": job_id}, prepare=True)
        row = await cursor.fetchone()
    if row is None:
        raise NotFound(f"job {job_id} does not exist")
    return str(row[0]).encode()
