"""Jobs as the API and the CLI see them: create, list, show, cancel, retry, read the log.

Every function opens its own short session (``session_scope``) and returns pydantic
models, so that the REST routes stay thin (their response models are these) and a
CLI can print the same JSON. Creating a job goes through ``ingest`` (bytes into the
content store, then the rows) and queues its files (``enqueue_job``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from mediaflow.db.enums import (
    FileType,
    JobStatus,
    MediaFileStatus,
    MediaType,
    ProcessingLogStatus,
    ProcessingStage,
)
from mediaflow.db.models import AnalysisJob, MediaFile, ProcessingLog
from mediaflow.db.session import session_scope
from mediaflow.errors import Forbidden, InvalidInput, NotFound, Refused
from mediaflow.ingest import collect_files, ingest
from mediaflow.pipeline.runner import select_providers
from mediaflow.pipeline.tasks import cancel_queued, enqueue_files, enqueue_job
from mediaflow.storage import ContentStore

__all__ = [
    "TERMINAL",
    "FileDetail",
    "JobCounts",
    "JobDetail",
    "JobPage",
    "JobSummary",
    "LogEntry",
    "LogPage",
    "cancel_job",
    "confine",
    "create_job",
    "expand",
    "get_job",
    "job_log",
    "list_jobs",
    "parse_options",
    "parse_providers",
    "retry_job",
]

TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})
# The stages a file goes through after ingest; progress is how many of them are done.
PIPELINE_STAGES = [s for s in ProcessingStage if s is not ProcessingStage.INGEST]
_DONE_LOG = (ProcessingLogStatus.COMPLETED, ProcessingLogStatus.SKIPPED, ProcessingLogStatus.FAILED)
_FILE_DONE = frozenset(
    {
        MediaFileStatus.COMPLETED,
        MediaFileStatus.FAILED,
        MediaFileStatus.SKIPPED,
        MediaFileStatus.CANCELLED,
    }
)


class JobCounts(BaseModel):
    """How many files of a job are in each status."""

    total: int = 0
    pending: int = 0
    processing: int = 0
    completed: int = 0
    failed: int = 0
    skipped: int = 0
    cancelled: int = 0


class JobSummary(BaseModel):
    """One job, as lists show it."""

    id: uuid.UUID
    name: str
    status: JobStatus
    options: dict[str, Any]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    counts: JobCounts


class FileDetail(BaseModel):
    """One file of a job and how far it got."""

    id: uuid.UUID
    original_name: str
    status: MediaFileStatus
    media_type: MediaType | None
    file_type: FileType | None
    size_bytes: int | None
    duration_s: float | None
    error: str | None
    stage: ProcessingStage | None = Field(description="The stage of its latest log row.")
    progress: float = Field(ge=0, le=1, description="Stages finished of validation..finalize.")


class JobDetail(JobSummary):
    """One job with its files."""

    files: list[FileDetail]


class JobPage(BaseModel):
    """A page of jobs, newest first."""

    items: list[JobSummary]
    total: int
    limit: int
    offset: int


class LogEntry(BaseModel):
    """One processing_log row."""

    id: int
    media_file_id: uuid.UUID | None
    stage: ProcessingStage
    status: ProcessingLogStatus
    attempt: int
    message: str | None
    details: dict[str, Any]
    duration_ms: int | None
    created_at: datetime


class LogPage(BaseModel):
    """Log rows oldest first; ``next_after``: pass it as ``after`` for the next page."""

    items: list[LogEntry]
    next_after: int | None


# -- input --------------------------------------------------------------------------


def parse_providers(values: Sequence[str] | None) -> list[str] | None:
    """Provider names from repeated and/or comma-separated values; None: the defaults.

    Raises ``InvalidInput`` naming an unknown provider.
    """
    names = [n.strip() for v in values or () for n in v.split(",") if n.strip()]
    if not names:
        return None
    select_providers(names)  # validates: unknown names are a 422 now, not a failed job later
    return list(dict.fromkeys(names))


def parse_options(text: str | None) -> dict[str, Any] | None:
    """Job options from a JSON object string (None or blank: none)."""
    if text is None or not text.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"options is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidInput("options must be a JSON object")
    return value


def confine(given: str, roots: Sequence[Path]) -> Path:
    """The real path of ``given`` when it lies inside one of ``roots``, else ``Forbidden``.

    Symlinks are followed before the check, so a link inside a root that points
    outside is refused like ``..`` or an absolute path elsewhere. A relative path is
    taken relative to the first root: the server's working directory means nothing
    to a client.
    """
    if not roots:
        raise Forbidden(
            "server-side paths are disabled", hint="set MEDIAFLOW_ALLOWED_ROOTS on the server"
        )
    if not given or "\x00" in given:
        raise InvalidInput("empty or invalid path")
    try:
        path = Path(given).expanduser()
        if not path.is_absolute():
            path = roots[0] / path
        real = path.resolve()
        inside = any(real.is_relative_to(root) for root in roots)
        exists = inside and real.exists()
    except (OSError, RuntimeError) as exc:  # too long, a symlink loop, an unknown ~user
        raise InvalidInput(f"path {given[:200]!r} cannot be used: {exc}") from None
    if not inside:
        raise Forbidden(f"path {given[:200]!r} is outside the allowed roots")
    if not exists:
        raise NotFound(f"no such file or folder: {given[:200]}")
    return real


# -- queries ------------------------------------------------------------------------


def _counts(session: Session, job_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, JobCounts]:
    counts = {job_id: JobCounts() for job_id in job_ids}
    if not job_ids:
        return counts
    rows = session.execute(
        sa.select(MediaFile.job_id, MediaFile.status, sa.func.count())
        .where(MediaFile.job_id.in_(job_ids))
        .group_by(MediaFile.job_id, MediaFile.status)
    ).all()
    for job_id, status, count in rows:
        setattr(counts[job_id], status.value, count)
        counts[job_id].total += count
    return counts


def _summary(job: AnalysisJob, counts: JobCounts) -> JobSummary:
    return JobSummary(
        id=job.id,
        name=job.name,
        status=job.status,
        options=job.options,
        error=job.error,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        counts=counts,
    )


def _files(session: Session, job_id: uuid.UUID) -> list[FileDetail]:
    files = session.scalars(
        sa.select(MediaFile)
        .where(MediaFile.job_id == job_id)
        .order_by(MediaFile.created_at, MediaFile.original_name, MediaFile.id)
    ).all()
    latest = dict(
        session.execute(
            sa.select(ProcessingLog.media_file_id, ProcessingLog.stage)
            .where(ProcessingLog.job_id == job_id)
            .ext(distinct_on(ProcessingLog.media_file_id))
            .order_by(ProcessingLog.media_file_id, ProcessingLog.id.desc())
        ).all()
    )
    finished: dict[uuid.UUID, int] = dict(
        session.execute(  # type: ignore[arg-type]
            sa.select(ProcessingLog.media_file_id, sa.func.count(sa.distinct(ProcessingLog.stage)))
            .where(
                ProcessingLog.job_id == job_id,
                ProcessingLog.stage.in_(PIPELINE_STAGES),
                ProcessingLog.status.in_(_DONE_LOG),
                # a retried file starts over: count only this run's rows
                sa.or_(
                    MediaFile.started_at.is_(None),
                    ProcessingLog.created_at >= MediaFile.started_at,
                ),
            )
            .join(MediaFile, MediaFile.id == ProcessingLog.media_file_id)
            .group_by(ProcessingLog.media_file_id)
        ).all()
    )
    details = []
    for f in files:
        done = f.status in _FILE_DONE
        progress = 1.0 if done else min(1.0, finished.get(f.id, 0) / len(PIPELINE_STAGES))
        details.append(
            FileDetail(
                id=f.id,
                original_name=f.original_name,
                status=f.status,
                media_type=f.media_type,
                file_type=f.file_type,
                size_bytes=f.size_bytes,
                duration_s=f.duration_s,
                error=f.error,
                stage=latest.get(f.id),
                progress=round(progress, 4),
            )
        )
    return details


def _detail(session: Session, job_id: uuid.UUID) -> JobDetail:
    job = session.get(AnalysisJob, job_id)
    if job is None:
        raise NotFound(f"job {job_id} does not exist")
    files = _files(session, job_id)
    counts = JobCounts(total=len(files))  # from the rows in hand: one query fewer per poll
    for f in files:
        setattr(counts, f.status.value, getattr(counts, f.status.value) + 1)
    return JobDetail(**_summary(job, counts).model_dump(), files=files)


def get_job(job_id: uuid.UUID, *, url: str | None = None) -> JobDetail:
    """One job with its files and their progress; ``NotFound`` when there is none."""
    with session_scope(url) as session:
        return _detail(session, job_id)


def list_jobs(
    *, status: JobStatus | None = None, limit: int = 50, offset: int = 0, url: str | None = None
) -> JobPage:
    """A page of jobs, newest first, optionally only those in ``status``."""
    query = sa.select(AnalysisJob)
    if status is not None:
        query = query.where(AnalysisJob.status == status)
    with session_scope(url) as session:
        total = session.execute(
            sa.select(sa.func.count()).select_from(query.subquery())
        ).scalar_one()
        jobs = session.scalars(
            query.order_by(AnalysisJob.created_at.desc(), AnalysisJob.id)
            .limit(limit)
            .offset(offset)
        ).all()
        counts = _counts(session, [j.id for j in jobs])
        items = [_summary(j, counts[j.id]) for j in jobs]
    return JobPage(items=items, total=int(total), limit=limit, offset=offset)


def job_log(
    job_id: uuid.UUID, *, after: int = 0, limit: int = 100, url: str | None = None
) -> LogPage:
    """The job's processing_log rows with an id above ``after``, oldest first."""
    with session_scope(url) as session:
        if session.get(AnalysisJob, job_id) is None:
            raise NotFound(f"job {job_id} does not exist")
        rows = session.scalars(
            sa.select(ProcessingLog)
            .where(ProcessingLog.job_id == job_id, ProcessingLog.id > after)
            .order_by(ProcessingLog.id)
            .limit(limit)
        ).all()
        items = [
            LogEntry(
                id=r.id,
                media_file_id=r.media_file_id,
                stage=r.stage,
                status=r.status,
                attempt=r.attempt,
                message=r.message,
                details=r.details,
                duration_ms=r.duration_ms,
                created_at=r.created_at,
            )
            for r in rows
        ]
    # a full page may have more after it; a short one is the end for now
    next_after = items[-1].id if items and len(items) == limit else None
    return LogPage(items=items, next_after=next_after)


# -- changes ------------------------------------------------------------------------


def create_job(
    paths: Sequence[Path],
    *,
    names: Sequence[str] | None = None,
    name: str | None,
    providers: Sequence[str] | None,
    options: dict[str, Any] | None,
    store: ContentStore,
    url: str | None = None,
) -> JobDetail:
    """Ingest ``paths`` (uploads: with their ``names``) into a new job and queue its files.

    Callers check paths (``confine``) and content first; this stores and records.
    """
    result = ingest(
        paths, name=name, providers=providers, options=options, url=url, store=store, names=names
    )
    enqueue_job(result.job_id, url)
    return get_job(result.job_id, url=url)


def expand(paths: Sequence[Path]) -> tuple[list[Path], list[str]]:
    """Files under ``paths`` (folders recursed, as ``ingest`` does) and their names."""
    sources, _ = collect_files(paths)
    return [s.path for s in sources], [s.original_name for s in sources]


def cancel_job(job_id: uuid.UUID, *, url: str | None = None) -> JobDetail:
    """Cancel a job: its waiting files are cancelled and their queued tasks dropped.

    A file already being processed finishes. ``Refused`` (409) when the job is over.
    """
    now = datetime.now(UTC)
    with session_scope(url) as session:
        job = session.get(AnalysisJob, job_id, with_for_update=True)
        if job is None:
            raise NotFound(f"job {job_id} does not exist")
        if job.status in TERMINAL:
            raise Refused(f"job {job_id} is already {job.status.value}")
        cancelled = session.scalars(
            sa.update(MediaFile)
            .where(MediaFile.job_id == job_id, MediaFile.status == MediaFileStatus.PENDING)
            .values(status=MediaFileStatus.CANCELLED, finished_at=now)
            .returning(MediaFile.id)
        ).all()
        busy = session.execute(
            sa.select(sa.func.count()).where(
                MediaFile.job_id == job_id, MediaFile.status == MediaFileStatus.PROCESSING
            )
        ).scalar_one()
        job.status = JobStatus.CANCELLED
        # with a file still running the job is over only when that file is
        job.finished_at = None if busy else now
    # after the commit: a worker that takes a task now sees its file cancelled and skips it
    cancel_queued(cancelled, url)
    return get_job(job_id, url=url)


def retry_job(job_id: uuid.UUID, *, url: str | None = None) -> JobDetail:
    """Queue the job's failed files again (only those); ``Refused`` (409) when none failed."""
    with session_scope(url) as session:
        job = session.get(AnalysisJob, job_id, with_for_update=True)
        if job is None:
            raise NotFound(f"job {job_id} does not exist")
        failed = session.scalars(
            sa.update(MediaFile)
            .where(MediaFile.job_id == job_id, MediaFile.status == MediaFileStatus.FAILED)
            .values(status=MediaFileStatus.PENDING, error=None, started_at=None, finished_at=None)
            .returning(MediaFile.id)
        ).all()
        if not failed:
            raise Refused(f"job {job_id} has no failed files to retry")
        job.status = JobStatus.QUEUED
        job.error = None
        job.finished_at = None
    enqueue_files(failed, url=url)
    return get_job(job_id, url=url)
