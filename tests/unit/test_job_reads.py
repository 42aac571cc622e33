"""``GET /jobs/{id}``'s single-statement read answers exactly what ``jobs.get_job`` answers.

Jobs in every state are written as rows (no media needed): no files; files pending,
processing part-way, done, failed, retried (log rows of an earlier run that must not
count); a JSON options object with nesting and unicode. Each side's JSON text is
compared with the ``JobDetail`` model's: the same fields, in the same order, with the
same values (times in UTC with "Z", as pydantic writes them).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from mediaflow.db.pools import ReadPool
from mediaflow.errors import DatabaseUnavailable, NotFound
from mediaflow.runtime import Runtime
from mediaflow.services.job_reads import job_detail_json
from mediaflow.services.jobs import get_job
from tests import aio


def _fast(runtime: Runtime, job_id: uuid.UUID) -> bytes:
    async def read() -> bytes:
        reads = ReadPool(runtime.db.libpq_url())
        try:
            return await job_detail_json(reads, job_id)
        finally:
            await reads.close()

    return aio.run(read())


def _insert(runtime: Runtime, sql: str, **params: Any) -> Any:
    with runtime.db.session() as session:
        return session.execute(sa.text(sql), params).scalar()


def _job(runtime: Runtime, options: str = "{}", status: str = "running") -> uuid.UUID:
    return _insert(
        runtime,
        "INSERT INTO analysis_job (name, status, options, started_at) "
        "VALUES ('job ✓', :s, CAST(:o AS jsonb), now() - interval '1 hour') RETURNING id",
        s=status,
        o=options,
    )


def _file(runtime: Runtime, job_id: uuid.UUID, name: str, status: str, **extra: Any) -> uuid.UUID:
    return _insert(
        runtime,
        "INSERT INTO media_file (job_id, original_name, status, media_type, file_type, "
        "size_bytes, duration_s, error, started_at, created_at) VALUES (:j, :n, :s, "
        ":mt, :ft, :size, :dur, :err, now() - make_interval(mins => :started_ago), "
        "COALESCE(CAST(:created_at AS timestamptz), now() - make_interval(secs => :created_ago))) "
        "RETURNING id",
        j=job_id,
        n=name,
        s=status,
        mt=extra.get("media_type"),
        ft=extra.get("file_type"),
        size=extra.get("size"),
        dur=extra.get("duration"),
        err=extra.get("error"),
        started_ago=extra.get("started_ago", 30),
        created_ago=extra.get("created_ago", 0),
        created_at=extra.get("created_at"),
    )


def _log(
    runtime: Runtime, job_id: uuid.UUID, file_id: uuid.UUID, stage: str, status: str, *, ago: int
) -> None:
    _insert(
        runtime,
        "INSERT INTO processing_log (job_id, media_file_id, stage, status, created_at) "
        "VALUES (:j, :f, :st, :ss, now() - make_interval(mins => :ago)) RETURNING id",
        j=job_id,
        f=file_id,
        st=stage,
        ss=status,
        ago=ago,
    )


def _same(runtime: Runtime, job_id: uuid.UUID) -> dict[str, Any]:
    fast = _fast(runtime, job_id)
    model = get_job(runtime, job_id).model_dump_json().encode()
    # the same document: every field, "Z" times, numbers (PostgreSQL writes 1.0 as 1)
    assert json.loads(fast) == json.loads(model)
    assert list(json.loads(fast)) == list(json.loads(model))  # fields in the same order
    return json.loads(fast)  # type: ignore[no-any-return]


def test_a_job_without_files(runtime: Runtime) -> None:
    job_id = _job(runtime, options='{"lang": "fr", "deep": {"list": [1, 2.5, null, "é"]}}')
    # a whole second has no fraction, any other time six digits
    _insert(
        runtime,
        "UPDATE analysis_job SET started_at = '2024-01-01T00:00:00Z', "
        "finished_at = '2024-01-01T00:00:01.4Z' WHERE id = :j RETURNING id",
        j=job_id,
    )
    body = _same(runtime, job_id)
    assert (body["started_at"], body["finished_at"]) == (
        "2024-01-01T00:00:00Z",
        "2024-01-01T00:00:01.400000Z",
    )
    assert body["files"] == [] and body["counts"]["total"] == 0


def test_files_in_every_state(runtime: Runtime) -> None:
    job_id = _job(runtime)
    _file(runtime, job_id, "a.png", "pending", created_ago=50)
    busy = _file(
        runtime, job_id, "b.mp4", "processing", media_type="video", file_type="mp4",
        size=123_456_789_012, duration=0.1 + 0.2, created_ago=40,
    )  # fmt: skip
    for stage in ("validation", "metadata", "audio_extraction"):
        _log(runtime, job_id, busy, stage, "completed", ago=10)
    _log(runtime, job_id, busy, "transcription", "started", ago=5)
    done = _file(runtime, job_id, "c.wav", "completed", media_type="audio", created_ago=30)
    _log(runtime, job_id, done, "finalize", "completed", ago=1)
    failed = _file(runtime, job_id, "d.jpg", "failed", error="bad bytes", created_ago=20)
    _log(runtime, job_id, failed, "validation", "failed", ago=2)
    # a retried file: the rows of its first run (before started_at) do not count
    retried = _file(runtime, job_id, "e.mp3", "processing", started_ago=5, created_ago=10)
    for stage in ("validation", "metadata", "audio_extraction", "transcription"):
        _log(runtime, job_id, retried, stage, "completed", ago=20)
    _log(runtime, job_id, retried, "validation", "completed", ago=1)
    # two files created at the same moment are ordered by name, then id
    for name in ("g.png", "f.png"):
        _file(runtime, job_id, name, "skipped", created_at="2020-01-01T00:00:00.5Z")

    body = _same(runtime, job_id)
    assert [f["original_name"] for f in body["files"]] == [
        "f.png", "g.png", "a.png", "b.mp4", "c.wav", "d.jpg", "e.mp3",
    ]  # fmt: skip
    progress = {f["original_name"]: (f["stage"], f["progress"]) for f in body["files"]}
    assert progress["b.mp4"] == ("transcription", round(3 / 8, 4))
    assert progress["e.mp3"] == ("validation", round(1 / 8, 4))
    assert body["counts"] == {
        "total": 7, "pending": 1, "processing": 2, "completed": 1,
        "failed": 1, "skipped": 2, "cancelled": 0,
    }  # fmt: skip


def test_an_unknown_job_is_not_found(runtime: Runtime) -> None:
    missing = uuid.uuid4()
    with pytest.raises(NotFound, match=f"job {missing} does not exist"):
        _fast(runtime, missing)


def test_an_unreachable_database_is_a_clear_error() -> None:
    async def read() -> bytes:
        reads = ReadPool("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1")
        try:
            return await job_detail_json(reads, uuid.uuid4())
        finally:
            await reads.close()

    with pytest.raises(DatabaseUnavailable, match="cannot reach"):
        aio.run(read())
