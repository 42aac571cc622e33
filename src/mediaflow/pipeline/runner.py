"""Run a whole job in this process: every file through the stages, then the job's status."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

import sqlalchemy as sa

from mediaflow.db.enums import JobStatus, MediaFileStatus, ProcessingStage
from mediaflow.db.models import AnalysisJob, MediaFile
from mediaflow.db.session import session_scope
from mediaflow.errors import InvalidInput, NotFound
from mediaflow.pipeline.stages import FileOutcome, process_media_file
from mediaflow.providers import registry
from mediaflow.storage import ContentStore

ProgressCallback = Callable[[uuid.UUID, str, ProcessingStage], None]


@dataclass
class ProviderSelection:
    """Which providers a job runs, split by kind."""

    transcription: list[str] = field(default_factory=list)
    analysis: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        """All names, transcription first."""
        return [*self.transcription, *self.analysis]


def select_providers(
    names: Sequence[str] | None, *, check_available: bool = True
) -> ProviderSelection:
    """Split ``names`` by kind; None means every available local provider.

    Raises ``InvalidInput`` for an unknown name and, with ``check_available`` (when a
    request names providers), for a provider that cannot run here (a cloud provider
    without its key): the request fails before anything is stored. Processing passes
    False: a provider that became unavailable since then fails its own step, logged.
    """
    if not names:
        return ProviderSelection(
            transcription=registry.default_transcription_providers(),
            analysis=registry.default_analysis_providers(),
        )
    transcription, analysis = registry.transcription_providers(), registry.analysis_providers()
    selection = ProviderSelection()
    for name in names:
        kind: registry.ProviderKind
        if name in transcription:
            selection.transcription.append(name)
            kind = "transcription"
        elif name in analysis:
            selection.analysis.append(name)
            kind = "analysis"
        else:
            known = ", ".join(sorted([*transcription, *analysis]))
            raise InvalidInput(f"unknown provider {name!r}", hint=f"known: {known}")
        if check_available:
            info = registry.provider_info(kind, name)
            if not info.available:
                raise InvalidInput(f"provider {name!r} cannot run here: {info.reason}")
    return selection


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


def run_job(
    job_id: uuid.UUID,
    *,
    store: ContentStore,
    url: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> JobOutcome:
    """Process every pending file of ``job_id`` in this process and finish the job."""
    with session_scope(url) as session:
        job = session.get(AnalysisJob, job_id)
        if job is None:
            raise NotFound(f"job {job_id} does not exist")
        selection = select_providers(job.options.get("providers"), check_available=False)
        files = session.execute(
            sa.select(MediaFile.id, MediaFile.original_name)
            .where(MediaFile.job_id == job_id, MediaFile.status == MediaFileStatus.PENDING)
            .order_by(MediaFile.created_at, MediaFile.original_name)
        ).all()
        job.status = JobStatus.RUNNING
        job.started_at = job.started_at or datetime.now(UTC)
    outcomes = []
    for media_file_id, name in files:
        on_stage = partial(on_progress, media_file_id, name) if on_progress else None
        outcomes.append(
            process_media_file(
                media_file_id,
                store=store,
                transcription_providers=selection.transcription,
                analysis_providers=selection.analysis,
                url=url,
                on_stage=on_stage,
            )
        )
    status = finish_job(job_id, url=url)
    return JobOutcome(job_id=job_id, status=status, files=outcomes)


def files_finished(job_id: uuid.UUID, *, url: str | None = None) -> int:
    """How many files of the job are done (completed, failed, skipped or cancelled)."""
    with session_scope(url) as session:
        count = session.execute(
            sa.select(sa.func.count()).where(
                MediaFile.job_id == job_id,
                MediaFile.status.not_in([MediaFileStatus.PENDING, MediaFileStatus.PROCESSING]),
            )
        ).scalar_one()
    return int(count)


def finish_job(job_id: uuid.UUID, *, url: str | None = None) -> JobStatus:
    """Set the job's final status from its files: completed unless nothing succeeded."""
    with session_scope(url) as session:
        counts = dict(
            session.execute(
                sa.select(MediaFile.status, sa.func.count())
                .where(MediaFile.job_id == job_id)
                .group_by(MediaFile.status)
            ).all()
        )
        job = session.get(AnalysisJob, job_id)
        if job is None:
            raise NotFound(f"job {job_id} does not exist")
        unfinished = counts.get(MediaFileStatus.PENDING, 0) + counts.get(
            MediaFileStatus.PROCESSING, 0
        )
        if unfinished:
            return job.status
        completed = counts.get(MediaFileStatus.COMPLETED, 0)
        failed = counts.get(MediaFileStatus.FAILED, 0)
        # a cancelled job stays cancelled when the file that was running at the time ends
        if job.status is not JobStatus.CANCELLED:
            job.status = JobStatus.COMPLETED if completed else JobStatus.FAILED
        job.finished_at = datetime.now(UTC)
        job.job_metadata = {
            **job.job_metadata,
            "files": sum(counts.values()),
            "completed": completed,
            "failed": failed,
        }
        if failed and not completed and job.status is JobStatus.FAILED:
            job.error = f"all {failed} file(s) failed"
        return job.status
