"""A whole job: every pending file through the stages in this process, then its status.

``settle`` decides a job's final status from its files' statuses (pure, so it is
tested without a database); ``finish_job`` applies it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

import sqlalchemy as sa

from mediaflow.db.enums import JobStatus, MediaFileStatus, ProcessingStage
from mediaflow.db.models import AnalysisJob, MediaFile
from mediaflow.db.session import Database
from mediaflow.errors import NotFound
from mediaflow.pipeline.records import FileOutcome
from mediaflow.pipeline.stages import Pipeline
from mediaflow.runtime import Runtime

__all__ = ["JobOutcome", "JobSettlement", "files_finished", "finish_job", "run_job", "settle"]

ProgressCallback = Callable[[uuid.UUID, str, ProcessingStage], None]

UNFINISHED = frozenset({MediaFileStatus.PENDING, MediaFileStatus.PROCESSING})


@dataclass
class JobOutcome:
    """The result of running one job."""

    job_id: uuid.UUID
    status: JobStatus
    files: list[FileOutcome]

    @property
    def failed(self) -> int:
        """How many files failed."""
        return sum(1 for f in self.files if f.status is MediaFileStatus.FAILED)


@dataclass(frozen=True)
class JobSettlement:
    """What a job becomes once its files are counted."""

    finished: bool  # False: files are still pending or processing; nothing changes
    status: JobStatus
    error: str | None = None


def settle(counts: Mapping[MediaFileStatus, int], current: JobStatus) -> JobSettlement:
    """The job's status from its files: completed unless nothing succeeded.

    A cancelled job stays cancelled when the file that was running at the time ends.
    """
    if any(counts.get(status, 0) for status in UNFINISHED):
        return JobSettlement(finished=False, status=current)
    completed = counts.get(MediaFileStatus.COMPLETED, 0)
    failed = counts.get(MediaFileStatus.FAILED, 0)
    if current is JobStatus.CANCELLED:
        return JobSettlement(finished=True, status=current)
    if completed:
        return JobSettlement(finished=True, status=JobStatus.COMPLETED)
    error = f"all {failed} file(s) failed" if failed else None
    return JobSettlement(finished=True, status=JobStatus.FAILED, error=error)


def finish_job(db: Database, job_id: uuid.UUID) -> JobStatus:
    """Set the job's final status from its files once none is left to process."""
    with db.session() as session:
        job = session.get(AnalysisJob, job_id, with_for_update=True)
        if job is None:
            raise NotFound(f"job {job_id} does not exist")
        counts: dict[MediaFileStatus, int] = dict(
            session.execute(
                sa.select(MediaFile.status, sa.func.count())
                .where(MediaFile.job_id == job_id)
                .group_by(MediaFile.status)
            ).all()
        )
        settlement = settle(counts, job.status)
        if not settlement.finished:
            return job.status
        job.status = settlement.status
        job.finished_at = datetime.now(UTC)
        job.job_metadata = {
            **job.job_metadata,
            "files": sum(counts.values()),
            "completed": counts.get(MediaFileStatus.COMPLETED, 0),
            "failed": counts.get(MediaFileStatus.FAILED, 0),
        }
        if settlement.error is not None:
            job.error = settlement.error
        return job.status


def files_finished(db: Database, job_id: uuid.UUID) -> int:
    """How many files of the job are done (completed, failed, skipped or cancelled)."""
    with db.session() as session:
        count = session.execute(
            sa.select(sa.func.count()).where(
                MediaFile.job_id == job_id, MediaFile.status.not_in(UNFINISHED)
            )
        ).scalar_one()
    return int(count)


def run_job(
    runtime: Runtime, job_id: uuid.UUID, *, on_progress: ProgressCallback | None = None
) -> JobOutcome:
    """Process every pending file of ``job_id`` in this process and finish the job."""
    with runtime.db.session() as session:
        job = session.get(AnalysisJob, job_id)
        if job is None:
            raise NotFound(f"job {job_id} does not exist")
        selection = runtime.providers.select(job.options.get("providers"), check_available=False)
        files = session.execute(
            sa.select(MediaFile.id, MediaFile.original_name)
            .where(MediaFile.job_id == job_id, MediaFile.status == MediaFileStatus.PENDING)
            .order_by(MediaFile.created_at, MediaFile.original_name)
        ).all()
        job.status = JobStatus.RUNNING
        job.started_at = job.started_at or datetime.now(UTC)
    pipeline = Pipeline.of(runtime)
    outcomes = []
    for media_file_id, name in files:
        on_stage = partial(on_progress, media_file_id, name) if on_progress else None
        outcomes.append(pipeline.process_file(media_file_id, selection, on_stage=on_stage))
    status = finish_job(runtime.db, job_id)
    return JobOutcome(job_id=job_id, status=status, files=outcomes)
