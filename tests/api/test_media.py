"""``/media/{id}`` over real HTTP: metadata, the original with byte ranges, results,
transcription, exports and reanalysis, on media the real pipeline processed."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from mediaflow.db.models import MediaFile
from mediaflow.runtime import Runtime
from tests.api.server import LiveServer

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
VIDEO_BYTES = (SAMPLES / "speech_video.mp4").read_bytes()

pytestmark = pytest.mark.slow


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is a JSON error of ``status`` (and ``code``); return its error object."""
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    if code is not None:
        assert error["code"] == code
    return dict(error)


@pytest.fixture(scope="module")
def client(api: LiveServer) -> Any:
    with api.client(timeout=60) as http:
        yield http


@pytest.fixture(scope="module")
def media(processed_media: dict[str, Any]) -> dict[str, Any]:
    return processed_media


def test_detail_matches_the_stored_row(
    client: httpx.Client, media: dict[str, Any], api_runtime: Runtime
) -> None:
    response = client.get(f"/media/{media['video']}")
    assert response.status_code == 200, response.text
    body = response.json()
    with api_runtime.db.session() as session:
        row = session.get(MediaFile, media["video"])
        assert row is not None
        expected = {
            "id": str(row.id), "job_id": str(media["job_id"]), "original_name": "speech_video.mp4",
            "status": "completed", "error": None, "sha256": hashlib.sha256(VIDEO_BYTES).hexdigest(),
            "size_bytes": len(VIDEO_BYTES), "mime_type": row.mime_type, "media_type": "video",
            "file_type": row.file_type.value if row.file_type else None,
            "duration_s": row.duration_s, "width": row.width, "height": row.height,
            "fps": row.fps, "codecs": row.codecs, "streams": row.streams,
        }  # fmt: skip
    assert {key: body[key] for key in expected} == expected
    assert body["mime_type"] == "video/mp4"
    assert body["duration_s"] > 1 and body["width"] > 0 and body["finished_at"] is not None


def test_unknown_media_is_404_and_a_non_uuid_422(client: httpx.Client) -> None:
    missing = uuid.uuid4()
    for path in ("", "/content", "/results", "/transcription", "/export?format=txt"):
        assert_error(client.get(f"/media/{missing}{path}"), 404, "not_found")
    assert_error(client.post(f"/media/{missing}/reanalyze", json={}), 404, "not_found")
    assert_error(client.get("/media/not-a-uuid"), 422, "invalid_input")
    assert_error(client.get("/media/12345/content"), 422, "invalid_input")


def test_content_whole_file(client: httpx.Client, media: dict[str, Any]) -> None:
    response = client.get(f"/media/{media['video']}/content")
    assert response.status_code == 200
    assert response.content == VIDEO_BYTES
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-length"] == str(len(VIDEO_BYTES))
    assert response.headers["etag"] == f'"{hashlib.sha256(VIDEO_BYTES).hexdigest()}"'
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, len(VIDEO_BYTES) - 1),
        ("bytes=-50", len(VIDEO_BYTES) - 50, len(VIDEO_BYTES) - 1),
        # an end past the file is cut to the last byte
        (f"bytes=10-{len(VIDEO_BYTES) + 1000}", 10, len(VIDEO_BYTES) - 1),
        # several ranges: the first is answered, alone
        ("bytes=5-9, 20-29", 5, 9),
    ],
)
def test_content_ranges(
    client: httpx.Client, media: dict[str, Any], header: str, start: int, end: int
) -> None:
    response = client.get(f"/media/{media['video']}/content", headers={"Range": header})
    assert response.status_code == 206, response.text
    assert response.content == VIDEO_BYTES[start : end + 1]
    assert response.headers["content-range"] == f"bytes {start}-{end}/{len(VIDEO_BYTES)}"
    assert response.headers["content-length"] == str(end - start + 1)
    assert response.headers["content-type"] == "video/mp4"


def test_unsatisfiable_range_is_416(client: httpx.Client, media: dict[str, Any]) -> None:
    size = len(VIDEO_BYTES)
    for header in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}", "bytes=-0"):
        response = client.get(f"/media/{media['video']}/content", headers={"Range": header})
        assert_error(response, 416, "range_not_satisfiable")
        assert response.headers["content-range"] == f"bytes */{size}"


def test_ignored_ranges_give_the_whole_file(client: httpx.Client, media: dict[str, Any]) -> None:
    url = f"/media/{media['video']}/content"
    for headers in ({"Range": "bytes=9-2"}, {"Range": "pages=1-2"}, {"Range": "bytes=abc"}):
        response = client.get(url, headers=headers)
        assert response.status_code == 200 and response.content == VIDEO_BYTES
    # If-Range with a stale ETag: the client's copy is outdated, send everything
    stale = client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"stale"'})
    assert stale.status_code == 200 and len(stale.content) == len(VIDEO_BYTES)
    etag = stale.headers["etag"]
    fresh = client.get(url, headers={"Range": "bytes=0-9", "If-Range": etag})
    assert fresh.status_code == 206 and fresh.content == VIDEO_BYTES[:10]


def test_results_of_the_image_include_ocr_words(
    client: httpx.Client, media: dict[str, Any]
) -> None:
    response = client.get(f"/media/{media['image']}/results")
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    by_type = {item["analysis_type"]: item for item in items}
    assert "invoice" in by_type["ocr"]["result"]["words"]
    assert by_type["ocr"]["provider"] == "rapidocr"
    assert all(item["is_active"] for item in items)

    only_ocr = client.get(f"/media/{media['image']}/results", params={"type": "ocr"}).json()
    assert [item["analysis_type"] for item in only_ocr["items"]] == ["ocr"]
    by_provider = client.get(
        f"/media/{media['image']}/results", params={"provider": "rapidocr"}
    ).json()
    assert {item["provider"] for item in by_provider["items"]} == {"rapidocr"}
    bad = client.get(f"/media/{media['image']}/results", params={"provider": "nobody"})
    assert_error(bad, 422, "invalid_input")


def test_results_of_the_video_include_scenes(client: httpx.Client, media: dict[str, Any]) -> None:
    items = client.get(f"/media/{media['video']}/results").json()["items"]
    types = {item["analysis_type"] for item in items}
    assert {"scenes", "ocr"} <= types
    scenes = next(item for item in items if item["analysis_type"] == "scenes")
    assert any(abs(cut - 3.24) < 0.2 for cut in scenes["result"]["cuts"])


def test_keyframes_and_timeline_of_the_video(client: httpx.Client, media: dict[str, Any]) -> None:
    keyframes = client.get(f"/media/{media['video']}/keyframes")
    assert keyframes.status_code == 200, keyframes.text
    shots = keyframes.json()["items"]
    # the video's two shots, the second from its cut at 3.24 s
    assert [s["shot"] for s in shots] == [0, 1]
    assert shots[0]["start_s"] == 0.0 and abs(shots[1]["start_s"] - 3.24) < 0.05
    picture = client.get(shots[1]["url"])
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
    assert picture.content[:2] == b"\xff\xd8"  # a JPEG
    assert "immutable" in picture.headers["cache-control"]
    assert_error(client.get(f"/media/{media['video']}/keyframes/7"), 404, "not_found")
    assert_error(client.get(f"/media/{media['video']}/keyframes/-1"), 422, "invalid_input")

    timeline = client.get(f"/media/{media['video']}/timeline").json()["items"]
    starts = [event["start_s"] for event in timeline]
    assert starts == sorted(starts)
    assert [e["type"] for e in timeline].count("shot") == 2
    texts = [e for e in timeline if e["type"] == "text"]
    assert texts and all(e["start_s"] <= e["end_s"] for e in texts)
    # an image has no shots
    assert client.get(f"/media/{media['image']}/keyframes").json()["items"] == []


def test_transcription_has_timed_segments(client: httpx.Client, media: dict[str, Any]) -> None:
    response = client.get(f"/media/{media['video']}/transcription")
    assert response.status_code == 200, response.text
    body = response.json()
    assert "lazy dog" in body["text"].lower()
    assert body["language"] == "en" and body["provider"] == "faster_whisper"
    segments = body["segments"]
    assert segments and all(0 <= s["start"] < s["end"] for s in segments)
    assert "lazy dog" in " ".join(s["text"] for s in segments).lower()
    words = [w for s in segments for w in s["words"]]
    assert words and all(w["start"] <= w["end"] for w in words)
    # an image has no transcript: a 404 in the error shape
    assert_error(client.get(f"/media/{media['image']}/transcription"), 404, "not_found")


def test_exports(client: httpx.Client, media: dict[str, Any]) -> None:
    url = f"/media/{media['video']}/export"
    text = client.get(f"/media/{media['video']}/transcription").json()["text"]

    vtt = client.get(url, params={"format": "vtt"})
    assert vtt.status_code == 200
    assert vtt.headers["content-type"].startswith("text/vtt")
    assert vtt.text.startswith("WEBVTT\n\n00:00:0")
    assert vtt.headers["content-disposition"].startswith('attachment; filename="speech_video.vtt"')

    srt = client.get(url, params={"format": "srt"})
    assert srt.headers["content-type"].startswith("application/x-subrip")
    assert srt.text.startswith("1\n") and " --> " in srt.text

    document = client.get(url, params={"format": "json"})
    assert document.headers["content-type"].startswith("application/json")
    parsed = json.loads(document.text)
    assert parsed["media_file"]["id"] == str(media["video"])
    assert parsed["transcriptions"][0]["text"] == text
    # the timeline of what is on screen, in time order, and the shots
    starts = [event["start_s"] for event in parsed["timeline"]]
    assert starts and starts == sorted(starts)
    assert len(parsed["keyframes"]) == 2

    txt = client.get(url, params={"format": "txt"})
    assert txt.headers["content-type"].startswith("text/plain")
    assert txt.text.strip() == text.strip()
    assert 'filename="speech_video.txt"' in txt.headers["content-disposition"]

    assert_error(client.get(url, params={"format": "docx"}), 422, "invalid_input")
    # subtitles need a transcript: the image has none
    image = client.get(f"/media/{media['image']}/export", params={"format": "srt"})
    assert_error(image, 404, "not_found")


def test_reanalyze_refuses_bad_input_and_busy_files(
    client: httpx.Client, media: dict[str, Any], api_runtime: Runtime
) -> None:
    url = f"/media/{media['video']}/reanalyze"
    assert_error(client.post(url, json={"providers": ["nobody"]}), 422, "invalid_input")
    assert_error(client.post(url, json={"providers": "rapidocr"}), 422, "invalid_input")
    # nothing changed: the file is still completed
    assert client.get(f"/media/{media['video']}").json()["status"] == "completed"

    # a file being processed is refused (409), and left as it is
    with api_runtime.db.session() as session:
        session.execute(
            sa.update(MediaFile).where(MediaFile.id == media["video"]).values(status="processing")
        )
    try:
        assert_error(client.post(url, json={"providers": ["rapidocr"]}), 409, "refused")
        assert client.get(f"/media/{media['video']}").json()["status"] == "processing"
    finally:
        with api_runtime.db.session() as session:
            session.execute(
                sa.update(MediaFile)
                .where(MediaFile.id == media["video"])
                .values(status="completed")
            )


def test_reanalyze_supersedes_the_active_results(
    client: httpx.Client, media: dict[str, Any], api: LiveServer
) -> None:
    before = client.get(f"/media/{media['image']}/results", params={"type": "ocr"}).json()
    [old] = before["items"]

    response = client.post(f"/media/{media['image']}/reanalyze", json={"providers": ["rapidocr"]})
    assert response.status_code == 202, f"{response.text}\n{api.log()[-3000:]}"
    assert response.json()["id"] == str(media["image"])
    assert response.json()["status"] in {"pending", "processing", "completed"}

    # the api server's own worker runs the queued task
    deadline = time.monotonic() + 180
    while True:
        status = client.get(f"/media/{media['image']}").json()["status"]
        everything = client.get(
            f"/media/{media['image']}/results",
            params={"type": "ocr", "include_inactive": "true"},
        ).json()["items"]
        if status == "completed" and len(everything) == 2:
            break
        assert time.monotonic() < deadline, f"not reanalyzed: {status}, {everything}"
        time.sleep(0.5)

    by_id = {item["id"]: item for item in everything}
    assert by_id[old["id"]]["is_active"] is False
    [new] = [item for item in everything if item["id"] != old["id"]]
    assert new["is_active"] is True and "invoice" in new["result"]["words"]
    active = client.get(f"/media/{media['image']}/results", params={"type": "ocr"}).json()
    assert [item["id"] for item in active["items"]] == [new["id"]]
    # only the provider asked for ran again: other types keep their first result
    colors = client.get(
        f"/media/{media['image']}/results", params={"include_inactive": "true"}
    ).json()["items"]
    assert (
        sum(1 for item in colors if item["analysis_type"] != "ocr" and not item["is_active"]) == 0
    )


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-0", (0, 0)),
        ("bytes= 2 - 4 ", (2, 4)),
        ("bytes=-200", (0, 99)),  # a suffix longer than the file: all of it
        ("BYTES=90-", (90, 99)),
        ("bytes=1-2,5-6", (1, 2)),
        ("bytes=4-3", None),
        ("bytes=", None),
        ("bytes=-", None),
        ("lines=1-2", None),
    ],
)
def test_parse_range(header: str | None, expected: tuple[int, int] | None) -> None:
    from mediaflow.api.ranges import parse_range

    parsed = parse_range(header, 100)
    assert (None if parsed is None else (parsed.start, parsed.end)) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=-0", "bytes=500-600"])
def test_parse_range_unsatisfiable(header: str) -> None:
    from mediaflow.api.ranges import Unsatisfiable, parse_range

    with pytest.raises(Unsatisfiable):
        parse_range(header, 100)
    with pytest.raises(Unsatisfiable):
        parse_range("bytes=0-", 0)  # nothing at all can be served of an empty file


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("speech_video.mp4", "speech_video.vtt"),
        ('../../etc/my "clip"; x.mov', "my_clip_x.vtt"),
        ("C:\\Users\\me\\talk.final.mp3", "talk.final.vtt"),
        (".hidden", "hidden.vtt"),
        ("été.wav", "t.vtt"),
        ("???", "media.vtt"),
    ],
)
def test_export_filename_is_safe(name: str, expected: str) -> None:
    from mediaflow.api.routes.media import export_filename

    assert export_filename(name, "vtt") == expected


@pytest.mark.parametrize(
    ("stored", "served"),
    [
        ("video/mp4", "video/mp4"),
        ("image/png", "image/png"),
        ("audio/mpeg", "audio/mpeg"),
        ("image/svg+xml", "application/octet-stream"),
        ("text/html", "application/octet-stream"),
        (None, "application/octet-stream"),
    ],
)
def test_only_media_types_are_served_as_such(stored: str | None, served: str) -> None:
    from mediaflow.api.routes.media import served_type

    assert served_type(stored) == served
