"""``GET /search`` over real HTTP, on media the real pipeline processed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.server import LiveServer

pytestmark = pytest.mark.slow


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    """The response is a JSON error of ``status`` and ``code``."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and isinstance(error["message"], str) and error["message"]


@pytest.fixture(scope="module")
def client(api: LiveServer, processed_media: dict[str, Any]) -> Iterator[httpx.Client]:
    with api.client() as http:
        yield http


def test_transcript_hit_has_times_and_media(
    client: httpx.Client, processed_media: dict[str, Any]
) -> None:
    response = client.get("/search", params={"q": "lazy dog"})
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert items, "no hit for a phrase of the video's speech"
    hit = items[0]
    assert hit["kind"] == "transcript" and hit["analysis_type"] == "transcription"
    assert hit["media_file_id"] == str(processed_media["video"])
    assert hit["job_id"] == str(processed_media["job_id"])
    assert hit["original_name"] == "speech_video.mp4"
    assert 0 <= hit["start_s"] < hit["end_s"]
    assert "lazy dog" in hit["snippet"].lower()


def test_ocr_word_hit(client: httpx.Client, processed_media: dict[str, Any]) -> None:
    items = client.get("/search", params={"word": "INVOICE"}).json()["items"]
    assert [(h["kind"], h["media_file_id"], h["analysis_type"]) for h in items] == [
        ("result", str(processed_media["image"]), "ocr")
    ]
    assert "invoice" in items[0]["snippet"].lower()


def test_contains_json(client: httpx.Client, processed_media: dict[str, Any]) -> None:
    contains = json.dumps({"words": ["invoice"]})
    items = client.get("/search", params={"contains": contains, "type": "ocr"}).json()["items"]
    assert {h["media_file_id"] for h in items} == {str(processed_media["image"])}
    # a filter that excludes it: another provider
    none = client.get("/search", params={"contains": contains, "provider": "opencv_haar"})
    assert none.status_code == 200 and none.json()["items"] == []
    # and a time window that ends before anything was created
    old = client.get("/search", params={"contains": contains, "until": "2000-01-01"})
    assert old.status_code == 200 and old.json()["items"] == []


def test_filters_combine(client: httpx.Client, processed_media: dict[str, Any]) -> None:
    params = {"q": "lazy dog", "status": "completed", "since": "2000-01-01T00:00:00Z"}
    items = client.get("/search", params=params).json()["items"]
    assert str(processed_media["video"]) in {h["media_file_id"] for h in items}
    only_results = client.get("/search", params={"q": "lazy dog", "type": "ocr"}).json()
    assert only_results["items"] == []


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"contains": "{not json"}, "invalid_input"),
        ({"contains": "[1, 2]"}, "invalid_input"),
        ({"contains": "{}"}, "invalid_input"),
        ({}, "invalid_input"),
        ({"q": "   "}, "invalid_input"),
        ({"q": "x", "limit": "0"}, "invalid_input"),
        ({"q": "x", "provider": "nobody"}, "invalid_input"),
        ({"q": "x", "status": "sleeping"}, "invalid_input"),
        ({"q": "x", "since": "yesterday"}, "invalid_input"),
        ({"q": "x", "since": "2025-01-02", "until": "2025-01-01"}, "invalid_input"),
    ],
)
def test_bad_searches_are_422(client: httpx.Client, params: dict[str, str], code: str) -> None:
    assert_error(client.get("/search", params=params), 422, code)
