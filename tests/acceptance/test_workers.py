"""Worker processes sharing one queue: every file processed once, even when one is killed."""

from __future__ import annotations

import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mediaflow.pipeline.ingest import ingest
from mediaflow.runtime import Runtime
from mediaflow.services.jobs import files_finished, queue_job
from tests import media_factory as mf
from tests.conftest import make_runtime
from tests.migration.helpers import query
from tests.workers import start_worker, stop_workers, wait_for

FILES = 20


@pytest.fixture
def shared_runtime(head_db: str, data_dir: Path) -> Iterator[Runtime]:
    """This process's runtime on the workers' database and data dir (it ingests and watches)."""
    with make_runtime(head_db, data_dir) as runtime:
        yield runtime


def _job(shared_runtime: Runtime, tmp_path: Path) -> uuid.UUID:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(FILES):
        mf.make_text_image(folder / f"page_{i:02d}.png", f"PAGE {i}")
    result = ingest(shared_runtime, [folder], name="workers", providers=["rapidocr"], options=None)
    assert queue_job(shared_runtime, result.job_id) == FILES
    return result.job_id


@pytest.fixture
def workers(head_db: str, data_dir: Path) -> Iterator[list[subprocess.Popen[str]]]:
    # a generous stall limit: on a loaded machine a heartbeat may come seconds late, and
    # a worker wrongly taken for dead would make a file run twice
    procs = [start_worker(head_db, data_dir, stalled_after_s="15") for _ in range(2)]
    yield procs
    stop_workers(procs)


def _assert_each_file_once(head_db: str, job_id: uuid.UUID) -> None:
    active = query(
        head_db,
        "SELECT m.original_name, count(r.id) FILTER (WHERE r.is_active) FROM media_file m "
        "LEFT JOIN analysis_result r ON r.media_file_id = m.id WHERE m.job_id = :j "
        "GROUP BY m.original_name",
        j=job_id,
    )
    assert len(active) == FILES
    assert all(n == 1 for _, n in active), active
    statuses = query(head_db, "SELECT status::text, count(*) FROM media_file GROUP BY 1")
    assert statuses == [("completed", FILES)]
    assert query(head_db, "SELECT status::text FROM analysis_job") == [("completed",)]


@pytest.mark.slow
def test_two_workers_share_the_queue(
    head_db: str, shared_runtime: Runtime, tmp_path: Path, workers: list[subprocess.Popen[str]]
) -> None:
    job_id = _job(shared_runtime, tmp_path)
    wait_for(lambda: files_finished(shared_runtime, job_id) == FILES, 240, workers)
    _assert_each_file_once(head_db, job_id)
    # no file was processed twice: one completed analysis step per file
    per_file = query(
        head_db,
        "SELECT media_file_id, count(*) FROM processing_log WHERE stage = 'analysis' "
        "AND status = 'completed' GROUP BY 1",
    )
    assert len(per_file) == FILES and all(n == 1 for _, n in per_file)
    done = query(head_db, "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'")
    assert done == [(FILES,)]


@pytest.mark.slow
def test_a_killed_worker_loses_no_file(
    head_db: str, shared_runtime: Runtime, tmp_path: Path, workers: list[subprocess.Popen[str]]
) -> None:
    job_id = _job(shared_runtime, tmp_path)
    # kill one worker while it is in the middle of a file
    wait_for(lambda: files_finished(shared_runtime, job_id) >= 3, 240, workers)
    victim = workers[0]
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    wait_for(lambda: files_finished(shared_runtime, job_id) == FILES, 240, workers[1:])
    _assert_each_file_once(head_db, job_id)
    assert query(head_db, "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'") == [
        (FILES,)
    ]
    # the file the victim was working on (if it had started one) went back to the
    # queue and was run again: at most that one file has two starts
    restarted = query(
        head_db,
        "SELECT count(*) FROM (SELECT media_file_id FROM processing_log WHERE stage = 'validation' "
        "AND status = 'started' GROUP BY 1 HAVING count(*) > 1) t",
    )
    assert restarted[0][0] <= 1
    attempts = query(head_db, "SELECT max(attempts) FROM procrastinate_jobs")[0][0]
    assert restarted[0][0] <= attempts
