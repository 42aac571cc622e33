"""Re-run chosen providers on one media file that was analyzed before.

The new outputs supersede the active rows (``save_analysis`` / ``save_transcription``
set ``is_active`` false on the old ones, never delete them), the stages log a new
round in processing_log, and the file's job gets its final status again.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from mediaflow.db.enums import JobStatus, MediaFileStatus
from mediaflow.db.models import AnalysisJob, MediaFile
from mediaflow.db.session import session_scope
from mediaflow.errors import NotFound, Refused
from mediaflow.pipeline.runner import finish_job, select_providers
from mediaflow.pipeline.stages import FileOutcome, process_media_file
from mediaflow.storage import ContentStore

__all__ = ["reanalyze"]


def reanalyze(
    media_file_id: uuid.UUID,
    providers: Sequence[str] | None,
    *,
    store: ContentStore,
    url: str | None = None,
) -> FileOutcome:
    """Re-run ``providers`` on one media file, then re-finish its job.

    ``providers`` None (or empty) means the providers its job was created with.
    Raises ``InvalidInput`` for an unknown provider (before anything changes),
    ``NotFound`` for an unknown media file and ``Refused`` while the file is being
    processed.
    """
    if providers:
        selection = select_providers(providers)  # unknown names fail before any write
    with session_scope(url) as session:
        media = session.get(MediaFile, media_file_id)
        if media is None:
            raise NotFound(f"media file {media_file_id} does not exist")
        if media.status is MediaFileStatus.PROCESSING:
            raise Refused(
                f"media file {media_file_id} is being processed",
                hint="wait until it is finished",
            )
        job = session.get(AnalysisJob, media.job_id)
        if job is None:  # the foreign key makes this impossible; keep mypy honest
            raise NotFound(f"job {media.job_id} does not exist")
        if not providers:
            selection = select_providers(job.options.get("providers"), check_available=False)
        job_id = media.job_id
        # pending again, and the job running again, so that readers see the new round
        media.status, media.error, media.finished_at = MediaFileStatus.PENDING, None, None
        job.status, job.finished_at, job.error = JobStatus.RUNNING, None, None
    try:
        outcome = process_media_file(
            media_file_id,
            store=store,
            transcription_providers=selection.transcription,
            analysis_providers=selection.analysis,
            url=url,
        )
    finally:
        # even if something unexpected escapes, the job must not stay "running"
        finish_job(job_id, url=url)
    return outcome
