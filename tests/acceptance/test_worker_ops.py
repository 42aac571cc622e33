"""Running workers: a bad store stops them at start in one line; SIGTERM drains them;
``GET /workers`` shows where each runs and what it processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mediaflow.api.app import create_app
from mediaflow.pipeline.ingest import ingest
from mediaflow.runtime import Runtime
from mediaflow.services.jobs import files_finished, queue_job
from mediaflow.services.workers import list_workers
from tests import media_factory as mf
from tests.acceptance.cli import REPO, mediaflow
from tests.conftest import make_runtime
from tests.fakes.s3_server import SECRET_KEY, S3Server, aws_env, s3_server
from tests.migration.helpers import query


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("command", [["worker"], ["serve", "--port", "0"], ["storage", "check"]])
def test_a_bad_store_stops_the_start_in_one_clear_line(
    s3: S3Server, tmp_path: Path, command: list[str]
) -> None:
    env = {**aws_env(s3.endpoint), "MEDIAFLOW_DATA_DIR": str(tmp_path)}
    missing = mediaflow(*command, env={**env, "MEDIAFLOW_STORAGE_URL": "s3://no-such-bucket/x"})
    assert missing.returncode == 77, missing.stderr
    line = missing.stderr.strip()
    assert "\n" not in line and "no-such-bucket" in line and s3.endpoint in line
    assert "does not exist" in line and SECRET_KEY not in missing.stderr + missing.stdout

    down = f"http://127.0.0.1:{_closed_port()}"
    unreachable = mediaflow(
        *command,
        env={
            **env, "AWS_ENDPOINT_URL": down, "MEDIAFLOW_STORAGE_URL": "s3://media/x",
            "MEDIAFLOW_STORAGE_RETRY_ATTEMPTS": "2", "MEDIAFLOW_STORAGE_CONNECT_TIMEOUT_S": "1",
        },
    )  # fmt: skip
    assert unreachable.returncode == 69, unreachable.stderr
    line = unreachable.stderr.strip()
    assert "\n" not in line and down in line and "cannot reach" in line and "media" in line

    with_secret = mediaflow(
        *command, env={**env, "MEDIAFLOW_STORAGE_URL": f"s3://AKIAX:{SECRET_KEY}@media/x"}
    )
    assert with_secret.returncode == 78
    assert SECRET_KEY not in with_secret.stderr + with_secret.stdout


@pytest.fixture
def runtime_here(head_db: str, data_dir: Path) -> Iterator[Runtime]:
    with make_runtime(head_db, data_dir) as runtime:
        yield runtime


def _start_worker(head_db: str, data_dir: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAFLOW_")}
    env.update(
        MEDIAFLOW_DATABASE_URL=head_db, MEDIAFLOW_DATA_DIR=str(data_dir),
        MEDIAFLOW_WORKER_HEARTBEAT_S="0.5", MEDIAFLOW_STALLED_AFTER_S="3",
    )  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "mediaflow", "worker", *args],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _wait(condition: Callable[[], object], timeout: float = 240) -> object:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return value


def _job(runtime: Runtime, tmp_path: Path, files: int) -> uuid.UUID:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(files):
        mf.make_text_image(folder / f"page_{i}.png", f"PAGE {i}")
    result = ingest(runtime, [folder], name="ops", providers=["rapidocr"], options=None)
    assert queue_job(runtime, result.job_id) == files
    return result.job_id


def _busy(runtime: Runtime, pid: int) -> list[object]:
    return [w for w in list_workers(runtime) if w.pid == pid and w.current_files]


@pytest.mark.slow
def test_sigterm_lets_the_running_file_finish_and_workers_show_where_they_run(
    head_db: str, runtime_here: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    job_id = _job(runtime_here, tmp_path, 3)
    proc = _start_worker(head_db, data_dir, "--concurrency", "1", "--queues", "image")
    try:
        busy = _wait(lambda: _busy(runtime_here, proc.pid))
        # the API shows the same: host, pid, queues, heartbeat, the file being processed
        with TestClient(create_app(runtime_here, worker_concurrency=0)) as client:
            items = client.get("/workers").json()["items"]
        (mine,) = [w for w in items if w["pid"] == proc.pid]
        assert mine["host"] == socket.gethostname() and mine["queues"] == ["image"]
        assert mine["alive"] and mine["concurrency"] == 1 and mine["last_heartbeat"]
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert "draining" in output
    current = busy[0].current_files[0].media_file_id  # type: ignore[attr-defined]
    status = query(head_db, "SELECT status::text FROM media_file WHERE id = :m", m=current)
    assert status == [("completed",)]  # the running file finished
    assert files_finished(runtime_here, job_id) < 3  # and no new one was taken
    assert list_workers(runtime_here) == []  # it unregistered itself


@pytest.mark.slow
def test_a_drain_timeout_hands_the_running_file_back(
    head_db: str, runtime_here: Runtime, data_dir: Path, tmp_path: Path
) -> None:
    job_id = _job(runtime_here, tmp_path, 3)
    proc = _start_worker(head_db, data_dir, "--drain-timeout", "0")
    try:
        _wait(lambda: _busy(runtime_here, proc.pid))
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 75, output
    assert "handed 1 running file(s) back" in output
    assert query(head_db, "SELECT count(*) FROM procrastinate_jobs WHERE status = 'doing'") == [
        (0,)
    ]
    other = _start_worker(head_db, data_dir)
    try:
        _wait(lambda: files_finished(runtime_here, job_id) == 3)
    finally:
        other.send_signal(signal.SIGTERM)
        other.communicate(timeout=120)
    rows = query(
        head_db,
        "SELECT m.status::text, count(r.id) FILTER (WHERE r.is_active) FROM media_file m "
        "LEFT JOIN analysis_result r ON r.media_file_id = m.id GROUP BY m.id, m.status",
    )
    assert sorted(rows) == [("completed", 1)] * 3
