"""``GET /jobs/{id}/events``: live progress as server-sent events, over real HTTP."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.server import LiveServer
from tests.api.test_jobs import assert_error


def read_events(client: httpx.Client, job_id: str, timeout: float = 180) -> list[tuple[str, Any]]:
    """Every (event, data) of the stream until it ends (the server closes it after `end`)."""
    events: list[tuple[str, Any]] = []
    deadline = time.monotonic() + timeout
    with client.stream("GET", f"/jobs/{job_id}/events", timeout=timeout) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        name, data = "message", []
        for line in response.iter_lines():
            assert time.monotonic() < deadline, f"no end after {timeout} s: {events[-3:]}"
            if line.startswith(":"):  # a comment: the keep-alive ping
                continue
            if not line:
                if data:
                    events.append((name, json.loads("\n".join(data))))
                name, data = "message", []
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
    return events


@pytest.fixture(scope="module")
def client(api: LiveServer) -> Iterator[httpx.Client]:
    with api.client() as c:
        yield c


@pytest.fixture(scope="module")
def streamed(client: httpx.Client, samples_dir_module: Path) -> tuple[str, list[tuple[str, Any]]]:
    """A job of two files, followed over its event stream from creation to its end."""
    files = [
        ("files", ("image.png", (samples_dir_module / "text_image.png").read_bytes())),
        ("files", ("speech.mp3", (samples_dir_module / "speech.mp3").read_bytes())),
    ]
    response = client.post(
        "/jobs", files=files, data={"providers": "image_features,audio_features"}
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    return job_id, read_events(client, job_id)


@pytest.fixture(scope="module")
def samples_dir_module() -> Path:
    return Path(__file__).resolve().parents[2] / "samples"


def test_stream_ends_with_the_final_status(streamed: tuple[str, list[tuple[str, Any]]]) -> None:
    job_id, events = streamed
    names = [name for name, _ in events]
    assert names[-1] == "end" and names.count("end") == 1
    assert events[-1][1] == {"status": "completed"}
    last_job = [data for name, data in events if name == "job"][-1]
    assert last_job["id"] == job_id and last_job["status"] == "completed"
    assert last_job["counts"]["completed"] == 2
    assert all(f["progress"] == 1.0 for f in last_job["files"])


def test_job_events_show_progress(streamed: tuple[str, list[tuple[str, Any]]]) -> None:
    _, events = streamed
    jobs = [data for name, data in events if name == "job"]
    assert len(jobs) >= 2  # at least the first state and the last
    done = [j["counts"]["completed"] + j["counts"]["failed"] for j in jobs]
    assert done == sorted(done) and done[0] < done[-1]
    progress = [sum(f["progress"] for f in j["files"]) for j in jobs]
    assert progress[0] < progress[-1]
    # a job event is sent only when something changed
    dumps = [json.dumps(j, sort_keys=True) for j in jobs]
    assert all(a != b for a, b in itertools.pairwise(dumps))


def test_log_events_are_every_row_in_order(
    client: httpx.Client, streamed: tuple[str, list[tuple[str, Any]]]
) -> None:
    job_id, events = streamed
    logs = [data for name, data in events if name == "log"]
    ids = [row["id"] for row in logs]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    stages = {row["stage"] for row in logs}
    assert {"ingest", "validation", "analysis", "finalize"} <= stages
    stored = client.get(f"/jobs/{job_id}/log", params={"limit": 1000}).json()["items"]
    assert ids == [row["id"] for row in stored]


def test_finished_job_streams_once_and_ends(
    client: httpx.Client, streamed: tuple[str, list[tuple[str, Any]]]
) -> None:
    job_id, first = streamed
    # the stream of a finished job ends by itself (read_events fails on a stream that
    # stays open past its generous timeout); how fast is the machine's business
    again = read_events(client, job_id, timeout=120)
    assert [n for n, _ in again if n != "log"] == ["job", "end"]
    assert len([n for n, _ in again if n == "log"]) == len([n for n, _ in first if n == "log"])


def test_unknown_job_is_a_json_404(client: httpx.Client) -> None:
    response = client.get("/jobs/00000000-0000-4000-8000-000000000000/events")
    assert_error(response, 404, "not_found")


def test_cancelled_job_stream_ends_cancelled(
    idle_api: LiveServer, samples_dir_module: Path
) -> None:
    with idle_api.client() as idle:  # no worker: the file stays queued until cancelled
        image = (samples_dir_module / "text_image.png").read_bytes()
        job_id = idle.post("/jobs", files={"files": ("a.png", image)}).json()["id"]
        assert idle.post(f"/jobs/{job_id}/cancel").status_code == 200
        events = read_events(idle, job_id, timeout=30)
    assert events[-1] == ("end", {"status": "cancelled"})
    job = [data for name, data in events if name == "job"][-1]
    assert job["counts"]["cancelled"] == 1 and job["files"][0]["status"] == "cancelled"
