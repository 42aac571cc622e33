"""The hot read of the API, ``GET /jobs/{id}``, as one SQL statement and JSON bytes.

A client polling a job asks this many times a second. ``services.jobs.get_job``
answers it with four ORM queries in a thread and a pydantic object graph; here the
same answer (the same ``JobDetail`` JSON, field for field) comes from one statement
on an async autocommit connection (``db.pools.ReadPool``), turned into JSON by
orjson straight from the rows. ``tests/unit/test_job_reads.py`` holds the two
answers equal on jobs in every state.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from mediaflow.db.pools import ReadPool
from mediaflow.errors import NotFound
from mediaflow.services.jobs import _DONE_LOG, _FILE_DONE, PIPELINE_STAGES
from mediaflow.services.schemas import JobCounts, JobDetail

__all__ = ["JOB_DETAIL_SQL", "detail_from_rows", "job_detail_json"]


def _quoted(values: Any) -> str:
    # enum values are fixed identifiers of this code, never input: inlined, the
    # statement is the same text each time (one prepared plan per connection)
    return ", ".join(f"'{v.value}'" for v in values)


# The job row repeated on each of its files (one row with NULL file columns when it
# has none; its options as text, parsed once rather than once per file), each file's
# newest log stage, and how many pipeline stages it finished in its current run: the
# three reads of ``services.jobs._detail`` in one statement.
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
)
SELECT j.id, j.name, j.status::text, j.options::text, j.error,
       j.created_at, j.started_at, j.finished_at,
       f.id, f.original_name, f.status::text, f.media_type::text, f.file_type::text,
       f.size_bytes, f.duration_s, f.error, latest.stage::text, finished.n
FROM analysis_job j
LEFT JOIN media_file f ON f.job_id = j.id
LEFT JOIN latest ON latest.media_file_id = f.id
LEFT JOIN finished ON finished.media_file_id = f.id
WHERE j.id = %(id)s
ORDER BY f.created_at, f.original_name, f.id
"""

_DONE = frozenset(s.value for s in _FILE_DONE)
_STAGES = len(PIPELINE_STAGES)
_COUNTED = tuple(JobCounts.model_fields)


def detail_from_rows(rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    """The ``JobDetail`` of ``JOB_DETAIL_SQL``'s rows, as plain JSON-ready values."""
    first = rows[0]
    counts = dict.fromkeys(_COUNTED, 0)
    files = []
    for row in rows:
        if row[8] is None:  # the job has no files
            continue
        status = row[10]
        done = status in _DONE
        progress = 1.0 if done else min(1.0, (row[17] or 0) / _STAGES)
        counts[status] += 1
        counts["total"] += 1
        files.append(
            {
                "id": row[8],
                "original_name": row[9],
                "status": status,
                "media_type": row[11],
                "file_type": row[12],
                "size_bytes": row[13],
                "duration_s": row[14],
                "error": row[15],
                "stage": row[16],
                "progress": round(progress, 4),
            }
        )
    return {
        "id": first[0],
        "name": first[1],
        "status": first[2],
        "options": orjson.loads(first[3]),
        "error": first[4],
        "created_at": first[5],
        "started_at": first[6],
        "finished_at": first[7],
        "counts": counts,
        "files": files,
    }


def _dumps(detail: dict[str, Any]) -> bytes:
    try:
        # UTC as "Z", like pydantic: the same text the JobDetail model gives
        return orjson.dumps(detail, option=orjson.OPT_UTC_Z)
    except orjson.JSONEncodeError:  # e.g. an integer past 64 bits in the job's options
        return JobDetail.model_validate(detail).model_dump_json().encode()


async def job_detail_json(reads: ReadPool, job_id: uuid.UUID) -> bytes:
    """``GET /jobs/{id}``'s body: the job, its counts and files; ``NotFound`` when none."""
    async with reads.connection() as conn:
        cursor = await conn.execute(JOB_DETAIL_SQL, {"id": job_id}, prepare=True)
        rows = await cursor.fetchall()
    if not rows:
        raise NotFound(f"job {job_id} does not exist")
    return _dumps(detail_from_rows(rows))
