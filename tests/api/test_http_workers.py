"""``mediaflow serve --http-workers 2``: two HTTP processes and one queue worker process.

The requests are answered by the HTTP processes (none of which runs queue work) and
an uploaded file is processed by the separate ``mediaflow worker`` that serve started;
stopping serve stops all of them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import media_factory as mf
from tests.api.server import LiveServer, live_server
from tests.api.test_jobs import assert_error, wait_for


def _descendants(root: int) -> dict[int, str]:
    """pid -> command line of every process below ``root`` (Linux /proc)."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
        parents[int(stat.parent.name)] = ppid
        commands[int(stat.parent.name)] = command
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                found[pid] = commands[pid]
                frontier.append(pid)
    return found


@pytest.fixture(scope="module")
def multi(api_db: str, api_data_dir: Path) -> Iterator[LiveServer]:
    with live_server(
        database_url=api_db, data_dir=api_data_dir, args=("--http-workers", "2", "--workers", "1")
    ) as server:
        yield server


def test_http_processes_and_one_queue_worker(multi: LiveServer) -> None:
    # uvicorn reports each HTTP process once its app has started
    deadline = time.monotonic() + 90
    while multi.log().count("Application startup complete") < 2:
        assert time.monotonic() < deadline, multi.log()
        time.sleep(0.2)
    below = _descendants(multi.process.pid)
    queue_workers = [c for c in below.values() if "mediaflow worker" in c]
    http = [c for c in below.values() if "multiprocessing" in c and "spawn_main" in c]
    assert len(queue_workers) == 1, below
    assert len(http) == 2, below


def test_a_job_is_served_and_processed(multi: LiveServer, tmp_path: Path) -> None:
    image = mf.make_text_image(tmp_path / "page.png", "HELLO")
    with multi.client() as client, image.open("rb") as handle:
        created = client.post(
            "/jobs", files=[("files", ("page.png", handle))], data={"providers": "image_features"}
        )
        assert created.status_code == 202, multi.log()[-4000:]
        done = wait_for(client, created.json()["id"])
        assert done["status"] == "completed", done
        assert done["files"][0]["progress"] == 1.0
        # the canonical id is answered before routing (api.fast_reads), any other
        # spelling by the FastAPI route: the very same bytes
        job_id = done["id"]
        fast = client.get(f"/jobs/{job_id}")
        routed = client.get(f"/jobs/{job_id.upper()}")
        assert fast.status_code == routed.status_code == 200
        assert fast.content == routed.content
        assert fast.headers["content-type"] == routed.headers["content-type"]
        # every HTTP process answers the same JSON errors
        for _ in range(4):
            assert_error(client.get("/jobs/00000000-0000-0000-0000-000000000000"), 404)


def test_stopping_serve_stops_every_process(api_db: str, api_data_dir: Path) -> None:
    with live_server(
        database_url=api_db, data_dir=api_data_dir, args=("--http-workers", "2", "--workers", "1")
    ) as server:
        deadline = time.monotonic() + 90
        while len(_descendants(server.process.pid)) < 3:
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.2)
        below = set(_descendants(server.process.pid))
    deadline = time.monotonic() + 60
    # a zombie is gone as far as work goes: it only waits for its parent to read it
    while alive := [pid for pid in below if _state(pid) not in {"gone", "Z"}]:
        assert time.monotonic() < deadline, f"still running: {alive}"
        time.sleep(0.2)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "gone"
