"""Jobs: create (from files, folders or uploads), queue or run here, list, show, cancel,
retry, read the log.

Creating a job stores the bytes first (``pipeline.ingest``: content store, then the
rows), and only then queues its files or runs them in this process. Requests are
checked before anything is stored: unknown or unavailable providers, options that
are not a JSON object, server-side paths outside the allowed roots.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from mediaflow.db.enums import JobStatus, MediaFileStatus, ProcessingLogStatus, ProcessingStage
from mediaflow.db.models import AnalysisJob, MediaFile, ProcessingLog
from mediaflow.db.values import unstorable
from mediaflow.errors import Forbidden, InvalidInput, NotFound, Refused
from mediaflow.pipeline import runner
from mediaflow.pipeline.ingest import IngestResult, collect_files, ingest
from mediaflow.providers.job_options import check_job_options
from mediaflow.providers.registry import split_names
from mediaflow.runtime import Runtime
from mediaflow.services.schemas import (
    FileDetail,
    JobCounts,
    JobDetail,
    JobPage,
    JobSummary,
    LogEntry,
    LogPage,
)

__all__ = [
    "TERMINAL",
    "JobRequest",
    "cancel_job",
    "check_request",
    "confine",
    "create_job",
    "expand",
    "files_finished",
    "get_job",
    "job_log",
    "list_jobs",
    "parse_options",
    "queue_job",
    "retry_job",
    "run_here",
    "submit_job",
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


# -- input --------------------------------------------------------------------------


def parse_options(text: str | None) -> dict[str, Any] | None:
    """Job options from a JSON object string (None or blank: none)."""
    if text is None or not text.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"options is not valid JSON: {exc}") from exc
    except RecursionError:  # thousands of nested brackets: refuse, not a 500
        raise InvalidInput("options are nested too deep") from None
    if not isinstance(value, dict):
        raise InvalidInput("options must be a JSON object")
    return value


# A job name is a label for people; a megabyte of it is an attack, not a name.
MAX_NAME_CHARS = 500


@dataclass(frozen=True)
class JobRequest:
    """A checked request for a job: its name, providers (None: the defaults) and options."""

    name: str | None = None
    providers: list[str] | None = None
    options: dict[str, Any] | None = None


def check_max_cost(value: Any) -> None:
    """``options.max_cost`` (the job's cloud budget in USD) must be a number >= 0."""
    if value is None:
        return
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or value < 0:
        raise InvalidInput(
            f"options.max_cost must be a number of US dollars >= 0, not {value!r}",
            hint='e.g. {"max_cost": 0.50}',
        )


def check_request(
    runtime: Runtime,
    *,
    name: str | None = None,
    providers: Sequence[str] | str | None = None,
    options: dict[str, Any] | None = None,
) -> JobRequest:
    """Validate what a caller asks for, before anything is stored.

    Providers may come as their own field or inside ``options``; either way they are
    parsed and checked here once (unknown or unavailable: ``InvalidInput``).
    """
    if name is not None:
        if reason := unstorable(name):
            raise InvalidInput(f"the job name contains {reason}")
        if len(name) > MAX_NAME_CHARS:
            raise InvalidInput(f"the job name is longer than {MAX_NAME_CHARS} characters")
        name = name.strip() or None
    if options is not None and not isinstance(options, dict):
        raise InvalidInput("options must be a JSON object")
    rest = dict(options or {})
    in_options = rest.pop("providers", None)
    if in_options is not None and not (
        isinstance(in_options, str)
        or (isinstance(in_options, list) and all(isinstance(n, str) for n in in_options))
    ):
        raise InvalidInput("options.providers must be a list of provider names")
    check_max_cost(rest.get("max_cost"))
    try:
        json.dumps(rest, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"options are not JSON: {exc}") from None
    except RecursionError:
        raise InvalidInput("options are nested too deep") from None
    if reason := unstorable(rest):  # what PostgreSQL's jsonb cannot hold
        raise InvalidInput(f"options contain {reason}")
    check_job_options(rest)  # model, max_speakers, diarization
    if split_names(providers) and split_names(in_options):
        raise InvalidInput(
            "providers given twice", hint="name them in 'providers' or in options.providers"
        )
    requested = providers or in_options
    names = runtime.providers.select(requested).names if requested else None
    return JobRequest(name=name, providers=names, options=rest or None)


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
    if not given or unstorable(given):
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


def expand(paths: Sequence[Path]) -> tuple[list[Path], list[str]]:
    """Files under ``paths`` (folders recursed, as ingest does) and their names."""
    sources, _ = collect_files(paths)
    return [s.path for s in sources], [s.original_name for s in sources]


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


def get_job(runtime: Runtime, job_id: uuid.UUID) -> JobDetail:
    """One job with its files and their progress; ``NotFound`` when there is none."""
    with runtime.db.session() as session:
        return _detail(session, job_id)


def list_jobs(
    runtime: Runtime, *, status: JobStatus | None = None, limit: int = 50, offset: int = 0
) -> JobPage:
    """A page of jobs, newest first, optionally only those in ``status``."""
    query = sa.select(AnalysisJob)
    if status is not None:
        query = query.where(AnalysisJob.status == status)
    with runtime.db.session() as session:
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


def job_log(runtime: Runtime, job_id: uuid.UUID, *, after: int = 0, limit: int = 100) -> LogPage:
    """The job's processing_log rows with an id above ``after``, oldest first."""
    with runtime.db.session() as session:
        if session.get(AnalysisJob, job_id) is None:
            raise NotFound(f"job {job_id} does not exist")
        rows = session.scalars(
            sa.select(ProcessingLog)
            .where(ProcessingLog.job_id == job_id, ProcessingLog.id > after)
            .order_by(ProcessingLog.id)
            .limit(limit)
        ).all()
        items = [LogEntry.model_validate(r) for r in rows]
    # a full page may have more after it; a short one is the end for now
    next_after = items[-1].id if items and len(items) == limit else None
    return LogPage(items=items, next_after=next_after)


def files_finished(runtime: Runtime, job_id: uuid.UUID) -> int:
    """How many files of the job are done (completed, failed, skipped or cancelled)."""
    return runner.files_finished(runtime.db, job_id)


# -- changes ------------------------------------------------------------------------


def create_job(
    runtime: Runtime,
    request: JobRequest,
    paths: Sequence[Path],
    *,
    names: Sequence[str] | None = None,
) -> IngestResult:
    """Store ``paths`` (uploads: with their ``names``) as a new job of ``request``.

    Nothing is queued: ``queue_job`` hands the files to workers, ``run_here`` runs them.
    """
    return ingest(
        runtime, paths, name=request.name, providers=request.providers,
        options=request.options, names=names,
    )  # fmt: skip


def queue_job(runtime: Runtime, job_id: uuid.UUID) -> int:
    """Queue every pending file of ``job_id`` for the workers; return how many."""
    with runtime.db.session() as session:
        ids = session.scalars(
            sa.select(MediaFile.id).where(
                MediaFile.job_id == job_id, MediaFile.status == MediaFileStatus.PENDING
            )
        ).all()
        session.execute(
            sa.update(AnalysisJob)
            .where(AnalysisJob.id == job_id)
            .values(status=JobStatus.QUEUED, finished_at=None)
        )
    return runtime.queue.defer_files(ids)


def submit_job(
    runtime: Runtime,
    request: JobRequest,
    paths: Sequence[Path],
    *,
    names: Sequence[str] | None = None,
) -> JobDetail:
    """``create_job`` then ``queue_job``: what an API request does."""
    result = create_job(runtime, request, paths, names=names)
    queue_job(runtime, result.job_id)
    return get_job(runtime, result.job_id)


def run_here(
    runtime: Runtime, job_id: uuid.UUID, *, on_progress: runner.ProgressCallback | None = None
) -> runner.JobOutcome:
    """Process the job's pending files in this process (no worker needed)."""
    return runner.run_job(runtime, job_id, on_progress=on_progress)


def _restore_reanalysed(session: Session, job_id: uuid.UUID, now: datetime) -> list[uuid.UUID]:
    """Pending files of the job that finished a run before: back to that run's outcome."""
    last_finalize = (
        sa.select(ProcessingLog.status)
        .where(
            ProcessingLog.media_file_id == MediaFile.id,
            ProcessingLog.stage == ProcessingStage.FINALIZE,
            ProcessingLog.status.in_([ProcessingLogStatus.COMPLETED, ProcessingLogStatus.FAILED]),
        )
        .order_by(ProcessingLog.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = session.execute(
        sa.select(MediaFile.id, last_finalize).where(
            MediaFile.job_id == job_id, MediaFile.status == MediaFileStatus.PENDING
        )
    ).all()
    restored: list[uuid.UUID] = []
    for file_id, outcome in rows:
        if outcome is None:
            continue  # never finished a run: an ordinary pending file
        status = (
            MediaFileStatus.COMPLETED
            if outcome is ProcessingLogStatus.COMPLETED
            else MediaFileStatus.FAILED
        )
        session.execute(
            sa.update(MediaFile)
            .where(MediaFile.id == file_id)
            .values(
                status=status,
                finished_at=now,
                error=None if status is MediaFileStatus.COMPLETED else "reanalysis cancelled",
            )
        )
        restored.append(file_id)
    return restored


def cancel_job(runtime: Runtime, job_id: uuid.UUID) -> JobDetail:
    """Cancel a job: its waiting files are cancelled and their queued tasks dropped.

    A file already being processed finishes. ``Refused`` (409) when the job is over.
    """
    now = datetime.now(UTC)
    with runtime.db.session() as session:
        job = session.get(AnalysisJob, job_id, with_for_update=True)
        if job is None:
            raise NotFound(f"job {job_id} does not exist")
        if job.status in TERMINAL:
            raise Refused(f"job {job_id} is already {job.status.value}")
        # a pending file that ran before waits for a reanalysis: cancelling that puts
        # the file back to the outcome of its last run, it does not cancel the file
        rerun = _restore_reanalysed(session, job_id, now)
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
    runtime.queue.cancel_queued([*cancelled, *rerun])
    return get_job(runtime, job_id)


def retry_job(runtime: Runtime, job_id: uuid.UUID) -> JobDetail:
    """Queue the job's failed files again (only those); ``Refused`` (409) when none failed."""
    with runtime.db.session() as session:
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
    runtime.queue.defer_files(failed)
    return get_job(runtime, job_id)
