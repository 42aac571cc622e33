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


def test_speech_hit_has_times_media_and_marks(
    client: httpx.Client, processed_media: dict[str, Any]
) -> None:
    response = client.get("/search", params={"q": '"lazy dog"'})
    assert response.status_code == 200, response.text
    body = response.json()
    # the service has no pgvector: the default (hybrid) runs on words and says why
    assert body["mode"] == "lexical" and "pgvector" in body["notes"][0]
    items = body["items"]
    assert items, "no hit for a phrase of the video's speech"
    hit = items[0]
    assert hit["kind"] == "speech" and hit["analysis_type"] == "transcription"
    assert hit["media_file_id"] == str(processed_media["video"])
    assert hit["job_id"] == str(processed_media["job_id"])
    assert hit["original_name"] == "speech_video.mp4"
    assert hit["media_type"] == "video"
    assert 0 <= hit["start_s"] < hit["end_s"]
    marked = [hit["snippet"][a:b].lower() for a, b in hit["highlights"]]
    assert marked == ["lazy", "dog"]


def test_on_screen_text_and_a_typo(client: httpx.Client, processed_media: dict[str, Any]) -> None:
    shown = client.get("/search", params={"q": "invoice", "mode": "lexical"}).json()
    assert [(h["kind"], h["media_file_id"]) for h in shown["items"]] == [
        ("text", str(processed_media["image"]))
    ]
    typo = client.get("/search", params={"q": "invoce", "mode": "lexical"}).json()
    assert typo["suggestion"] == "invoice" and typo["corrected"] is True
    assert [h["media_file_id"] for h in typo["items"]] == [str(processed_media["image"])]


def test_semantic_without_pgvector_is_a_clear_409(client: httpx.Client) -> None:
    response = client.get("/search", params={"q": "a fox", "mode": "semantic"})
    assert_error(response, 409, "feature_unavailable")
    assert "pgvector" in response.json()["error"]["message"]


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
    videos = client.get("/search", params={"q": "lazy dog", "media_type": "video"}).json()
    assert videos["items"]
    images = client.get("/search", params={"q": "lazy dog", "media_type": "image"}).json()
    assert images["items"] == []


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
        ({"q": "x" * 10_240}, "invalid_input"),
        ({"q": "lazy\x00dog"}, "invalid_input"),
        ({"q": '"lazy dog'}, "invalid_input"),
        ({"q": "-dog"}, "invalid_input"),
        ({"q": "x", "limit": "100000"}, "invalid_input"),
        ({"q": "x", "offset": "-1"}, "invalid_input"),
        ({"q": "x", "mode": "fuzzy"}, "invalid_input"),
        ({"q": "x", "kind": "video"}, "invalid_input"),
        ({"contains": '{"a": "\\u0000"}'}, "invalid_input"),
        ({"word": "a\x00b"}, "invalid_input"),
    ],
)
def test_bad_searches_are_422(client: httpx.Client, params: dict[str, str], code: str) -> None:
    assert_error(client.get("/search", params=params), 422, code)
