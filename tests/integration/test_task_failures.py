"""A task that raises ends its file as failed with the reason, on its last attempt."""

from __future__ import annotations

import uuid
from pathlib import Path

import sqlalchemy as sa
from procrastinate.testing import InMemoryConnector

from mediaflow.db.enums import JobStatus, MediaFileStatus
from mediaflow.db.models import AnalysisJob, MediaFile
from mediaflow.pipeline.ingest import ingest
from mediaflow.pipeline.worker import process_file, run_worker
from mediaflow.queue import TaskQueue
from mediaflow.runtime import Runtime
from tests import aio
from tests import media_factory as mf


def _one_file(
    runtime: Runtime, tmp_path: Path, options: dict[str, object] | None = None
) -> uuid.UUID:
    image = mf.make_text_image(tmp_path / "page.png", "PAGE")
    result = ingest(runtime, [image], name="t", providers=["image_features"], options=None)
    if options is not None:  # what an older server, or a hand edit, may have stored
        with runtime.db.session() as session:
            session.execute(
                sa.update(AnalysisJob)
                .where(AnalysisJob.id == result.job_id)
                .values(options=options)
            )
    with runtime.db.session() as session:
        return session.scalars(
            sa.select(MediaFile.id).where(MediaFile.job_id == result.job_id)
        ).one()


def _run_task(runtime: Runtime, file_id: uuid.UUID, attempts: int, processor) -> InMemoryConnector:  # type: ignore[no-untyped-def]
    connector = InMemoryConnector()
    TaskQueue(runtime.db, connector=connector).defer_files([file_id])
    for job in connector.jobs.values():
        job["attempts"] = attempts
    aio.run(
        run_worker(
            runtime, 1, wait=False, install_signal_handlers=False,
            connector=connector, processor=processor,
        )
    )  # fmt: skip
    return connector


def _file(runtime: Runtime, file_id: uuid.UUID) -> tuple[MediaFileStatus, str | None, JobStatus]:
    with runtime.db.session() as session:
        row = session.execute(
            sa.select(MediaFile.status, MediaFile.error, AnalysisJob.status)
            .join(AnalysisJob, AnalysisJob.id == MediaFile.job_id)
            .where(MediaFile.id == file_id)
        ).one()
    return row[0], row[1], row[2]


def _boom(runtime: Runtime, file_id: uuid.UUID, providers: list[str] | None) -> str:
    raise RuntimeError("boom")


def test_the_last_attempt_fails_the_file_with_the_reason(runtime: Runtime, tmp_path: Path) -> None:
    file_id = _one_file(runtime, tmp_path)
    connector = _run_task(runtime, file_id, attempts=3, processor=_boom)
    status, error, job_status = _file(runtime, file_id)
    assert status is MediaFileStatus.FAILED
    assert error == "processing failed: RuntimeError: boom"
    assert job_status is JobStatus.FAILED
    assert [job["status"] for job in connector.jobs.values()] == ["succeeded"]


def test_an_earlier_attempt_is_retried_and_the_file_waits(runtime: Runtime, tmp_path: Path) -> None:
    file_id = _one_file(runtime, tmp_path)
    connector = _run_task(runtime, file_id, attempts=0, processor=_boom)
    assert _file(runtime, file_id)[0] is MediaFileStatus.PENDING
    assert [job["status"] for job in connector.jobs.values()] == ["todo"]  # retried later


def test_stored_unknown_providers_end_the_file_failed(runtime: Runtime, tmp_path: Path) -> None:
    file_id = _one_file(runtime, tmp_path, options={"providers": ["nosuch"]})
    _run_task(runtime, file_id, attempts=3, processor=process_file)
    status, error, job_status = _file(runtime, file_id)
    assert status is MediaFileStatus.FAILED
    assert error is not None and "nosuch" in error
    assert job_status is JobStatus.FAILED


def test_a_database_outage_reruns_the_file_without_failing_it(
    runtime: Runtime, tmp_path: Path
) -> None:
    from mediaflow.errors import DatabaseUnavailable

    file_id = _one_file(runtime, tmp_path)
    calls: list[int] = []

    def flaky(runtime: Runtime, media_file_id: uuid.UUID, providers: list[str] | None) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise DatabaseUnavailable("cannot reach the database: server closed the connection")
        return process_file(runtime, media_file_id, providers)

    _run_task(runtime, file_id, attempts=3, processor=flaky)  # even on the last attempt
    assert len(calls) == 2
    status, error, job_status = _file(runtime, file_id)
    assert (status, error, job_status) == (MediaFileStatus.COMPLETED, None, JobStatus.COMPLETED)
