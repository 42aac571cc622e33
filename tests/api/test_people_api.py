"""``/people`` over real HTTP: list, one person, appearances, naming, merging, crops, pages."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import httpx
import pytest

from mediaflow.pipeline.ingest import ingest
from mediaflow.pipeline.runner import run_job
from mediaflow.runtime import Runtime
from tests.api.server import LiveServer
from tests.integration.test_people import astronaut, astronaut_again, cameraman, save_png

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(api: LiveServer) -> Any:
    with api.client(timeout=60) as http:
        yield http


@pytest.fixture(scope="module")
def faces_job(api_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    folder = tmp_path_factory.mktemp("faces")
    paths = [
        save_png(astronaut(), folder / "eileen.png"),
        save_png(astronaut_again(), folder / "eileen-2.png"),
        save_png(cameraman(), folder / "camera.png"),
    ]
    job = ingest(api_runtime, paths, providers=["yunet"])
    run_job(api_runtime, job.job_id)
    return list(job.media_file_ids)


def test_people_routes(client: httpx.Client, faces_job: list[Any]) -> None:
    listed = client.get("/people").json()["items"]
    assert sorted(p["face_count"] for p in listed) == [1, 2]
    eileen = next(p for p in listed if p["face_count"] == 2)
    other = next(p for p in listed if p["face_count"] == 1)

    named = client.patch(f"/people/{eileen['id']}", json={"name": "Eileen"})
    assert named.status_code == 200 and named.json()["label"] == "Eileen"
    detail = client.get("/people/eileen").json()
    assert detail["id"] == eileen["id"] and len(detail["appearances"]) == 2
    seen = client.get("/people/Eileen/appearances").json()["items"]
    assert {a["media_file_id"] for a in seen} == {str(i) for i in faces_job[:2]}
    in_file = client.get("/people", params={"media_id": str(faces_job[0])}).json()["items"]
    assert [p["id"] for p in in_file] == [eileen["id"]]

    crop = client.get(f"/people/faces/{detail['faces'][0]['id']}/crop")
    assert crop.status_code == 200 and crop.headers["content-type"] == "image/jpeg"
    assert crop.content[:2] == b"\xff\xd8"

    # bad input: clear 4xx, nothing changed
    assert client.patch(f"/people/{other['id']}", json={"name": "EILEEN"}).status_code == 409
    assert client.patch(f"/people/{other['id']}", json={"name": ""}).status_code == 422
    assert client.patch(f"/people/{other['id']}", json={"nom": "x"}).status_code == 422
    assert client.get("/people/nobody-at-all").status_code == 404
    assert client.get("/people/a%00b").status_code == 404  # PostgreSQL text holds no NUL
    assert client.patch(f"/people/{other['id']}", json={"name": "a\u0000b"}).status_code == 422
    assert client.get("/people/faces/999999/crop").status_code == 404
    assert client.get("/people/eileen").json()["face_count"] == 2

    merged = client.post("/people/Eileen/merge", json={"other": other["id"]})
    assert merged.status_code == 200 and merged.json()["face_count"] == 3
    report = client.post("/people/recluster").json()
    assert report["faces"] == 3

    page = client.get(f"/ui/people/{eileen['id']}")
    assert page.status_code == 200 and "person.js" in page.text
    assert client.get("/ui/people").status_code == 200


def test_speaker_routes(
    client: httpx.Client, api_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from tests.integration.test_speakers import make_dialog

    path, _ = make_dialog(tmp_path_factory.mktemp("dialog"))
    job = ingest(api_runtime, [path], providers=["faster_whisper"])
    run_job(api_runtime, job.job_id)
    (media_id,) = job.media_file_ids
    listed = client.get(f"/media/{media_id}/speakers").json()["items"]
    assert [s["name"] for s in listed] == ["Speaker 1", "Speaker 2"]
    renamed = client.patch(f"/media/{media_id}/speakers/Speaker 1", json={"name": "Host"})
    assert renamed.status_code == 200
    assert [s["name"] for s in renamed.json()["items"]] == ["Host", "Speaker 2"]
    vtt = client.get(f"/media/{media_id}/export", params={"format": "vtt"})
    assert "<v Host>" in vtt.text
    assert client.patch(f"/media/{media_id}/speakers/Nobody", json={"name": "X"}).status_code == 404
    assert client.patch(f"/media/{media_id}/speakers/Host", json={"name": ""}).status_code == 422
    assert client.get(f"/media/{uuid4()}/speakers").status_code == 404
    nul = client.patch(f"/media/{media_id}/speakers/Host", json={"name": "x\u0000"})
    assert nul.status_code == 422
    segments = client.get(f"/media/{media_id}/transcription").json()["segments"]
    assert {s["speaker"] for s in segments} == {"Host", "Speaker 2"}


def test_a_bad_job_option_is_refused_before_anything_is_stored(client: httpx.Client) -> None:
    import io

    from PIL import Image

    from tests.integration.test_people import astronaut

    data = io.BytesIO()
    Image.fromarray(astronaut()).save(data, format="PNG")
    response = client.post(
        "/jobs",
        files={"files": ("eileen.png", data.getvalue(), "image/png")},
        data={"options": '{"model": "/etc", "max_speakers": 2}'},
    )
    assert response.status_code == 422, response.text
    assert "options.model" in response.json()["error"]["message"]
