"""Workers ride out PostgreSQL restarts: heartbeats resume and no file is handed out twice."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faults import campaign as fc
from tests.faults.cluster import private_cluster
from tests.pg import head_database

FILES = 12
# one outage longer than a worker's silence limit (a sweep right after the restart
# used to hand running files to the other worker), one longer than the pool's 30 s
# connection timeout (procrastinate's heartbeat task and fetch loop died on it)
OUTAGES_S = (float(fc.STALLED_S) + 3, 35.0)


def _all_beat_since(url: str, since: float) -> bool:
    ages = fc.heartbeat_ages(url)
    return len(ages) == 2 and all(age < time.monotonic() - since + 0.1 for age in ages)


@pytest.mark.slow
def test_workers_survive_database_restarts(tmp_path: Path) -> None:
    with private_cluster() as cluster, head_database(cluster.server_url) as url:
        data_dir = tmp_path / "data"
        data_dir.mkdir()
        logs = [tmp_path / f"worker{i}.log" for i in range(2)]
        workers = [fc.start_worker(url, data_dir, log) for log in logs]
        try:
            fc.wait_for(lambda: len(fc.heartbeat_ages(url)) == 2, 300, "two workers")
            job_id = fc.queue_images(url, data_dir, tmp_path / "in", FILES)
            for outage in OUTAGES_S:
                fc.wait_for(lambda: fc.finished(url, job_id) >= 1, 300, "a first file")
                cluster.kill()
                time.sleep(outage)  # the outage itself, not a wait for speed
                cluster.start()
                restarted = time.monotonic()
                # both workers beat again: a heartbeat younger than the restart
                fc.wait_for(
                    lambda since=restarted: _all_beat_since(url, since),
                    120,
                    "heartbeats after the restart",
                )
            fc.wait_for(lambda: fc.finished(url, job_id) == FILES, 600, "every file")
            assert all(proc.poll() is None for proc in workers), "a worker died"
        finally:
            fc.stop_workers(workers)
        result = fc.outcome(url, job_id, logs)
        assert result.by_status == {"completed": FILES}
        assert result.handed_back == 0, [log.read_text()[-3000:] for log in logs]
        assert result.duplicate_active == 0
