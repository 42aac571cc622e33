"""``mediaflow serve`` stops on SIGTERM and SIGINT: the listener closes, the process
exits, and a file it was processing is not lost (another worker finishes it)."""

from __future__ import annotations

import signal
import uuid
from pathlib import Path

import httpx
import pytest

from tests import media_factory as mf
from tests.api.server import free_port
from tests.faults import campaign as fc
from tests.pg import SERVICE_URL, head_database, service_reachable

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not service_reachable(), reason="needs PostgreSQL on 5432"),
]


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_serve_stops_on_a_signal_and_loses_no_file(tmp_path: Path, signum: int) -> None:
    with head_database(SERVICE_URL) as url:
        data_dir = tmp_path / "data"
        data_dir.mkdir()
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = tmp_path / "serve.log"
        server = fc.start_serve(url, data_dir, port, log, MEDIAFLOW_SERVE_STOP_TIMEOUT_S="1")
        try:
            fc.wait_for(lambda: _answers(base), 300, "the server")
            audio = mf.make_speech_audio(tmp_path / "speech.wav")
            with audio.open("rb") as handle:
                reply = httpx.post(
                    f"{base}/jobs", files=[("files", ("speech.wav", handle, "audio/wav"))],
                    timeout=120,
                )  # fmt: skip
            assert reply.status_code == 202, reply.text
            job_id = uuid.UUID(reply.json()["id"])
            server.send_signal(signum)
            server.wait(300)  # generous: only a hang fails this
            assert not _answers(base)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
        # whatever the server was doing with the file, a worker finishes it: at most once
        worker_log = tmp_path / "worker.log"
        worker = fc.start_worker(url, data_dir, worker_log)
        try:
            fc.wait_for(lambda: fc.finished(url, job_id) == 1, 600, "the file")
        finally:
            fc.stop_workers([worker])
        result = fc.outcome(url, job_id, [worker_log])
        assert result.by_status == {"completed": 1}, log.read_text()[-3000:]
        assert result.duplicate_active == 0


def test_serve_on_the_embedded_database_stops_it_on_sigterm(data_dir: Path, tmp_path: Path) -> None:
    # uvicorn re-raises SIGTERM after its shutdown: no atexit runs, so serve must let
    # go of the embedded server itself, or it outlives serve with a dead holder
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = fc.start_serve(None, data_dir, port, tmp_path / "serve.log", "--workers", "0")
    try:
        fc.wait_for(lambda: _answers_at_all(base), 300, "the server")
        assert (data_dir / "pgdata" / "postmaster.pid").exists()
        server.send_signal(signal.SIGTERM)
        server.wait(300)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    fc.wait_for(
        lambda: not (data_dir / "pgdata" / "postmaster.pid").exists(), 120, "the server to stop"
    )
    assert (data_dir / "pgdata" / ".handle_pids.json").read_text().strip() == "[]"


def _answers_at_all(base: str) -> bool:
    try:
        httpx.get(f"{base}/healthz", timeout=5)  # 503 is fine: not migrated
        return True
    except httpx.HTTPError:
        return False
