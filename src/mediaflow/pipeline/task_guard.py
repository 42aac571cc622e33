"""What a queue task does when processing a file raises instead of failing the file.

A bad file fails its file inside the pipeline; an exception that escapes it is a bug
or the database going away. Two rules:

- The database went away (``DatabaseUnavailable``): wait for it to answer again and
  run the file again, without spending one of the task's attempts; an outage is not
  the file's fault.
- Anything else: procrastinate retries the task; on its last attempt the file ends
  ``failed`` with the reason, and its job is settled, instead of staying pending or
  processing forever with the reason only in a worker's log.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

import sqlalchemy as sa

from mediaflow.db.enums import MediaFileStatus
from mediaflow.db.models import MediaFile
from mediaflow.errors import DatabaseUnavailable
from mediaflow.pipeline.log import error_message
from mediaflow.pipeline.runner import finish_job
from mediaflow.runtime import Runtime

__all__ = ["fail_file", "guarded", "wait_for_database"]

logger = logging.getLogger(__name__)

# how many outages one task rides out before it counts as an ordinary failure
_OUTAGE_RERUNS = 20
_POLL_S = 1.0


def wait_for_database(runtime: Runtime, timeout_s: float) -> bool:
    """Poll until the database answers (True) or ``timeout_s`` passed (False)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with runtime.db.session() as session:
                session.execute(sa.text("SELECT 1"))
            return True
        except DatabaseUnavailable:
            if time.monotonic() > deadline:
                return False
            time.sleep(_POLL_S)


def fail_file(runtime: Runtime, media_file_id: uuid.UUID, reason: str) -> None:
    """End a file that is not finished as ``failed`` with ``reason``; settle its job."""
    with runtime.db.session() as session:
        job_id = session.execute(
            sa.update(MediaFile)
            .where(
                MediaFile.id == media_file_id,
                MediaFile.status.in_([MediaFileStatus.PENDING, MediaFileStatus.PROCESSING]),
            )
            .values(status=MediaFileStatus.FAILED, error=reason, finished_at=sa.func.now())
            .returning(MediaFile.job_id)
        ).scalar_one_or_none()
    if job_id is not None:
        finish_job(runtime.db, job_id)


def guarded(
    run: Callable[[], str],
    runtime: Runtime,
    media_file_id: uuid.UUID,
    *,
    last_attempt: bool,
    outage_wait_s: float = 3600.0,
) -> str:
    """``run()`` (one file's processing) under the two rules of this module."""
    for _ in range(_OUTAGE_RERUNS):
        try:
            return run()
        except DatabaseUnavailable as exc:
            logger.warning("file %s: %s; waiting for the database", media_file_id, exc)
            if not wait_for_database(runtime, outage_wait_s):
                raise
        except Exception as exc:
            if not last_attempt:
                raise
            reason = f"processing failed: {error_message(exc)}"
            logger.exception("file %s failed on its last attempt", media_file_id)
            fail_file(runtime, media_file_id, reason)
            return MediaFileStatus.FAILED.value
    return run()
