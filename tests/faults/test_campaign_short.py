"""The fault campaign, short: a few worker kills and a batch of damaged files.

The long versions are ``bench/faults.py`` (numbers in docs/RELIABILITY.md); the
PostgreSQL restarts are ``test_database_restart.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mediaflow.runtime import Runtime
from tests.faults import campaign as fc


@pytest.mark.slow
def test_killed_workers_lose_no_file_and_run_none_twice_at_once(
    head_db: str, data_dir: Path, tmp_path: Path
) -> None:
    result = fc.run_worker_kills(head_db, data_dir, tmp_path, files=12, workers=2, kills=5)
    assert result.kills >= 1
    assert result.outcome.lost == 0
    assert result.outcome.by_status == {"completed": 12}
    assert result.outcome.duplicate_active == 0


@pytest.mark.slow
def test_each_damaged_file_fails_alone_with_a_reason(runtime: Runtime, tmp_path: Path) -> None:
    result = fc.run_bad_files(runtime, tmp_path / "bad", 50)
    assert result.files == 50 and result.unfinished == 0
    assert result.failed >= 20  # zero-byte, random, cut, bombs, ... (the rest may decode)
    assert result.failed_without_reason == 0
    assert result.job_status == "completed"  # the batch completes
