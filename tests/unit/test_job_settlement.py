"""A job's final status from its files' statuses (``pipeline.runner.settle``)."""

from __future__ import annotations

import pytest

from mediaflow.db.enums import JobStatus
from mediaflow.db.enums import MediaFileStatus as F
from mediaflow.pipeline.runner import settle


@pytest.mark.parametrize(
    ("counts", "current", "finished", "status", "error"),
    [
        ({F.COMPLETED: 2}, JobStatus.RUNNING, True, JobStatus.COMPLETED, None),
        # one success is enough: the failures are counted, the job completed
        ({F.COMPLETED: 1, F.FAILED: 3}, JobStatus.RUNNING, True, JobStatus.COMPLETED, None),
        ({F.FAILED: 3}, JobStatus.RUNNING, True, JobStatus.FAILED, "all 3 file(s) failed"),
        # nothing failed and nothing succeeded (all cancelled/skipped): failed, no error text
        ({F.CANCELLED: 2}, JobStatus.QUEUED, True, JobStatus.FAILED, None),
        ({F.SKIPPED: 1}, JobStatus.RUNNING, True, JobStatus.FAILED, None),
        # a file still pending or processing: nothing changes yet
        ({F.COMPLETED: 1, F.PENDING: 1}, JobStatus.RUNNING, False, JobStatus.RUNNING, None),
        ({F.PROCESSING: 1}, JobStatus.QUEUED, False, JobStatus.QUEUED, None),
        # a cancelled job stays cancelled when its last running file ends
        ({F.COMPLETED: 1, F.CANCELLED: 4}, JobStatus.CANCELLED, True, JobStatus.CANCELLED, None),
        ({}, JobStatus.PENDING, True, JobStatus.FAILED, None),
    ],
)
def test_settle(
    counts: dict[F, int],
    current: JobStatus,
    finished: bool,
    status: JobStatus,
    error: str | None,
) -> None:
    settlement = settle(counts, current)
    assert (settlement.finished, settlement.status, settlement.error) == (finished, status, error)
