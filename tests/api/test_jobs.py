"""``/jobs`` over real HTTP: a real server, its own worker, real PostgreSQL, real models."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from mediaflow.db.session import Database
from mediaflow.runtime import Runtime
from tests.api.server import LiveServer

TERMINAL = {"completed", "failed", "cancelled"}


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> str:
    """The response is the JSON error shape with ``status`` (and ``code``); its message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str)
    if code is not None:
        assert body["error"]["code"] == code
    assert "Traceback" not in response.text
    return str(body["error"]["message"])


def wait_for(client: httpx.Client, job_id: str, timeout: float = 180) -> dict[str, Any]:
    """Poll the job until it is over; its final detail."""
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = client.get(f"/jobs/{job_id}").json()
        if job["status"] in TERMINAL and job["counts"]["processing"] == 0:
            return job
        assert time.monotonic() < deadline, f"job still {job['status']}: {job}"
        time.sleep(0.5)


def count_rows(db: Database, table: str) -> int:
    """Rows in ``table`` of the server's database."""
    with db.session() as session:
        return int(session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


@pytest.fixture(scope="module")
def client(api: LiveServer) -> Any:
    with api.client() as c:
        yield c


@pytest.fixture(scope="module")
def done_job(client: httpx.Client, api: LiveServer) -> dict[str, Any]:
    """The two samples uploaded once and processed to the end by the server's worker."""
    samples = Path(__file__).resolve().parents[2] / "samples"
    video, image = samples / "speech_video.mp4", samples / "text_image.png"
    with video.open("rb") as v, image.open("rb") as i:
        response = client.post(
            "/jobs",
            files=[("files", ("clips/speech_video.mp4", v)), ("files", ("text_image.png", i))],
            data={"name": "samples", "options": '{"note": "api test"}'},
        )
    assert response.status_code == 202, api.log()[-4000:]
    created = response.json()
    assert created["status"] == "queued"
    assert created["counts"]["total"] == 2
    return wait_for(client, created["id"])


def test_upload_is_processed_to_completion(done_job: dict[str, Any]) -> None:
    assert done_job["status"] == "completed", done_job
    assert done_job["name"] == "samples"
    assert done_job["options"]["note"] == "api test"
    assert done_job["counts"] == {
        "total": 2, "pending": 0, "processing": 0, "completed": 2,
        "failed": 0, "skipped": 0, "cancelled": 0,
    }  # fmt: skip
    assert done_job["finished_at"] is not None
    files = {f["original_name"]: f for f in done_job["files"]}
    # the client's folder is dropped: only the file's own name is kept
    assert set(files) == {"speech_video.mp4", "text_image.png"}
    assert files["speech_video.mp4"]["media_type"] == "video"
    assert files["text_image.png"]["media_type"] == "image"
    for f in files.values():
        assert f["status"] == "completed"
        assert f["progress"] == 1.0
        assert f["stage"] == "finalize"
        assert f["size_bytes"] > 0


def test_list_filter_and_paging(client: httpx.Client, done_job: dict[str, Any]) -> None:
    page = client.get("/jobs").json()
    assert done_job["id"] in [j["id"] for j in page["items"]]
    assert page["total"] >= 1 and page["limit"] == 50 and page["offset"] == 0
    listed = next(j for j in page["items"] if j["id"] == done_job["id"])
    assert listed["counts"]["completed"] == 2 and "files" not in listed

    completed = client.get("/jobs", params={"status": "completed"}).json()
    assert all(j["status"] == "completed" for j in completed["items"])
    assert done_job["id"] in [j["id"] for j in completed["items"]]
    cancelled = client.get("/jobs", params={"status": "cancelled"}).json()
    assert done_job["id"] not in [j["id"] for j in cancelled["items"]]

    total = page["total"]
    seen = []
    for offset in range(total):
        one = client.get("/jobs", params={"limit": 1, "offset": offset}).json()
        assert one["total"] == total and one["offset"] == offset and len(one["items"]) == 1
        seen.append(one["items"][0]["id"])
    assert len(set(seen)) == total
    beyond = client.get("/jobs", params={"limit": 1, "offset": total}).json()
    assert beyond["items"] == []
    assert_error(client.get("/jobs", params={"status": "nope"}), 422, "invalid_input")
    assert_error(client.get("/jobs", params={"limit": 0}), 422, "invalid_input")


def test_log_pages_oldest_first(client: httpx.Client, done_job: dict[str, Any]) -> None:
    first = client.get(f"/jobs/{done_job['id']}/log", params={"limit": 3}).json()
    assert len(first["items"]) == 3 and first["next_after"] == first["items"][-1]["id"]
    assert first["items"][0]["stage"] == "ingest"
    rest = client.get(f"/jobs/{done_job['id']}/log", params={"after": first["next_after"]}).json()
    ids = [r["id"] for r in first["items"] + rest["items"]]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    stages = {r["stage"] for r in rest["items"]}
    assert {"validation", "metadata", "finalize"} <= stages


def test_server_side_path(client: httpx.Client, allowed_root: Path, samples_dir: Path) -> None:
    shutil.copy(samples_dir / "speech.mp3", allowed_root / "speech.mp3")
    response = client.post(
        "/jobs", json={"paths": ["speech.mp3"], "providers": ["audio_features"], "name": "srv"}
    )
    assert response.status_code == 202, response.text
    job = wait_for(client, response.json()["id"])
    assert job["status"] == "completed"
    assert job["options"]["providers"] == ["audio_features"]
    assert [f["original_name"] for f in job["files"]] == ["speech.mp3"]
    assert job["files"][0]["media_type"] == "audio"

    # the same as form fields, with an absolute path and comma-separated providers
    response = client.post(
        "/jobs",
        data={"paths": str(allowed_root / "speech.mp3"), "providers": "audio_features,scenedetect"},
    )
    assert response.status_code == 202, response.text
    assert response.json()["options"]["providers"] == ["audio_features", "scenedetect"]
    wait_for(client, response.json()["id"])

    # uploads and server-side paths in one multipart request: one job with both
    image = (samples_dir / "text_image.png").read_bytes()
    response = client.post(
        "/jobs",
        files={"files": ("up.png", image)},
        data={"paths": ["speech.mp3"], "providers": ["image_features", "audio_features"]},
    )
    assert response.status_code == 202, response.text
    job = wait_for(client, response.json()["id"])
    assert sorted(f["original_name"] for f in job["files"]) == ["speech.mp3", "up.png"]
    assert job["counts"]["completed"] == 2


def test_bad_options_and_unknown_provider(
    client: httpx.Client, api_runtime: Runtime, samples_dir: Path
) -> None:
    before = count_rows(api_runtime.db, "analysis_job")
    image = (samples_dir / "text_image.png").read_bytes()
    for data in ({"options": "{not json"}, {"options": "[1, 2]"}, {"providers": "nope"}):
        response = client.post("/jobs", files={"files": ("a.png", image)}, data=data)
        assert_error(response, 422, "invalid_input")
    assert "nope" in assert_error(
        client.post("/jobs", json={"paths": ["x"], "providers": ["nope"]}), 422
    )
    assert_error(client.post("/jobs", json={"paths": []}), 422, "invalid_input")
    assert_error(
        client.post("/jobs", content=b"{", headers={"content-type": "application/json"}), 422
    )
    assert_error(client.post("/jobs", data={"name": "nothing"}), 422, "invalid_input")
    assert_error(client.post("/jobs", content=b"x", headers={"content-type": "text/plain"}), 415)
    assert count_rows(api_runtime.db, "analysis_job") == before


def test_unknown_and_malformed_ids(client: httpx.Client) -> None:
    missing = uuid.uuid4()
    for path in ("", "/log", "/events"):
        assert_error(client.get(f"/jobs/{missing}{path}"), 404, "not_found")
        assert_error(client.get(f"/jobs/not-a-uuid{path}"), 422, "invalid_input")
    for action in ("cancel", "retry"):
        assert_error(client.post(f"/jobs/{missing}/{action}"), 404, "not_found")
        assert_error(client.post(f"/jobs/12/{action}"), 422, "invalid_input")


def test_cancel_and_retry_refused_when_over(client: httpx.Client, done_job: dict[str, Any]) -> None:
    assert "no failed files" in assert_error(client.post(f"/jobs/{done_job['id']}/retry"), 409)
    assert "completed" in assert_error(client.post(f"/jobs/{done_job['id']}/cancel"), 409)
    # refusing changed nothing
    assert client.get(f"/jobs/{done_job['id']}").json()["status"] == "completed"


def test_retry_requeues_only_failed_files(
    client: httpx.Client, api_runtime: Runtime, allowed_root: Path, samples_dir: Path
) -> None:
    folder = allowed_root / "retry"
    folder.mkdir()
    shutil.copy(samples_dir / "text_image.png", folder / "good.png")
    (folder / "empty.png").write_bytes(b"")  # stored like any file; validation fails it
    response = client.post("/jobs", json={"paths": ["retry"], "providers": ["image_features"]})
    assert response.status_code == 202, response.text
    job = wait_for(client, response.json()["id"])
    files = {f["original_name"]: f for f in job["files"]}
    assert files["empty.png"]["status"] == "failed" and files["empty.png"]["error"]
    assert files["good.png"]["status"] == "completed"

    def file_row(name: str) -> Any:
        with api_runtime.db.session() as session:
            return session.execute(
                sa.text(
                    "SELECT status, started_at FROM media_file WHERE job_id = :j AND original_name = :n"
                ),
                {"j": job["id"], "n": name},
            ).one()

    good_started = file_row("good.png").started_at
    retried = client.post(f"/jobs/{job['id']}/retry")
    assert retried.status_code == 200, retried.text
    body = retried.json()
    assert body["status"] == "queued" and body["error"] is None and body["finished_at"] is None
    # the failed file waits again (or is already being retried); the good one is untouched
    again = {f["original_name"]: f for f in body["files"]}
    assert again["empty.png"]["status"] in {"pending", "processing", "failed"}
    assert again["good.png"]["status"] == "completed"

    final = wait_for(client, job["id"])
    files = {f["original_name"]: f for f in final["files"]}
    assert files["empty.png"]["status"] == "failed"  # still empty: fails again
    assert final["counts"]["completed"] == 1 and final["counts"]["failed"] == 1
    assert file_row("good.png").started_at == good_started  # not processed a second time
    log = client.get(f"/jobs/{job['id']}/log", params={"limit": 1000}).json()["items"]
    empty_id = files["empty.png"]["id"]
    validations = [
        r for r in log
        if r["media_file_id"] == empty_id and r["stage"] == "validation" and r["status"] == "failed"
    ]  # fmt: skip
    assert len(validations) == 2  # once per run


@pytest.fixture(scope="module")
def idle(idle_api: LiveServer) -> Any:
    with idle_api.client() as c:
        yield c


def test_cancel_drops_queued_files_and_tasks(
    idle: httpx.Client, idle_runtime: Runtime, samples_dir: Path
) -> None:
    image = (samples_dir / "text_image.png").read_bytes()
    audio = (samples_dir / "speech.mp3").read_bytes()
    response = idle.post("/jobs", files=[("files", ("a.png", image)), ("files", ("b.mp3", audio))])
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]

    def task_statuses() -> list[str]:
        with idle_runtime.db.session() as session:
            return list(
                session.execute(
                    sa.text(
                        "SELECT status::text FROM procrastinate_jobs WHERE queueing_lock IN "
                        "(SELECT 'file:' || id::text FROM media_file WHERE job_id = :j)"
                    ),
                    {"j": job_id},
                ).scalars()
            )

    time.sleep(1)  # no worker here: the files stay queued
    assert idle.get(f"/jobs/{job_id}").json()["status"] == "queued"
    assert task_statuses() == ["todo", "todo"]

    cancelled = idle.post(f"/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert body["status"] == "cancelled" and body["finished_at"] is not None
    assert body["counts"]["cancelled"] == 2 and body["counts"]["pending"] == 0
    assert {f["status"] for f in body["files"]} == {"cancelled"}
    assert task_statuses() == ["cancelled", "cancelled"]
    assert idle.get("/jobs", params={"status": "cancelled"}).json()["total"] == 1
    assert_error(idle.post(f"/jobs/{job_id}/cancel"), 409, "refused")

    # retry of a job with failed files queues exactly those again
    with idle_runtime.db.session() as session:
        session.execute(
            sa.text(
                "UPDATE media_file SET status = 'failed', error = 'boom' "
                "WHERE job_id = :j AND original_name = 'a.png'"
            ),
            {"j": job_id},
        )
    retried = idle.post(f"/jobs/{job_id}/retry").json()
    statuses = {f["original_name"]: f["status"] for f in retried["files"]}
    assert statuses == {"a.png": "pending", "b.mp3": "cancelled"}
    assert retried["status"] == "queued"
    assert sorted(task_statuses()) == ["cancelled", "cancelled", "todo"]


def test_paths_refused_without_allowed_roots(idle: httpx.Client, samples_dir: Path) -> None:
    message = assert_error(
        idle.post("/jobs", json={"paths": [str(samples_dir / "speech.mp3")]}), 403, "forbidden"
    )
    assert "disabled" in message


def test_options_round_trip_json(
    client: httpx.Client, allowed_root: Path, samples_dir: Path
) -> None:
    shutil.copy(samples_dir / "text_image.png", allowed_root / "opts.png")
    response = client.post(
        "/jobs",
        json={"paths": ["opts.png"], "options": {"k": [1, 2]}, "providers": ["image_features"]},
    )
    assert response.status_code == 202, response.text
    assert response.json()["options"] == {"k": [1, 2], "providers": ["image_features"]}
    assert json.loads(json.dumps(response.json()["counts"]))["total"] == 1
    wait_for(client, response.json()["id"])
