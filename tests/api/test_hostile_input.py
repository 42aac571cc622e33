"""Hostile client input gets a 4xx JSON error, never a 500, and stores nothing (issue 9)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mediaflow.api.ranges import Unsatisfiable, parse_range
from tests.api.server import LiveServer
from tests.api.test_jobs import assert_error, wait_for
from tests.api.test_security import nothing_stored  # noqa: F401 - a fixture

DEEP = "[" * 3000 + "]" * 3000
PNG = (Path(__file__).resolve().parents[2] / "samples" / "text_image.png").read_bytes()


@pytest.fixture(scope="module")
def client(api: LiveServer) -> Iterator[httpx.Client]:
    with api.client() as c:
        yield c


def test_huge_range_positions_are_read_as_past_the_end() -> None:
    # int() refuses 5,000 digits (ValueError -> 500 before)
    assert parse_range("bytes=0-" + "9" * 5000, 100) == parse_range("bytes=0-99", 100)
    assert parse_range("bytes=0-" + "0" * 4999 + "7", 100) == parse_range("bytes=0-7", 100)
    with pytest.raises(Unsatisfiable):
        parse_range("bytes=" + "9" * 5000 + "-", 100)


def test_huge_range_on_real_media_is_4xx_or_206(
    client: httpx.Client, processed_media: dict[str, Any]
) -> None:
    url = f"/media/{processed_media['image']}/content"
    response = client.get(url, headers={"Range": "bytes=0-" + "9" * 5000})
    assert response.status_code == 206
    assert_error(client.get(url, headers={"Range": "bytes=" + "9" * 5000 + "-"}), 416)


@pytest.mark.usefixtures("nothing_stored")
def test_deeply_nested_multipart_options_are_422(client: httpx.Client) -> None:
    response = client.post(
        "/jobs",
        files=[("files", ("a.png", PNG, "image/png"))],
        data={"options": '{"a": ' + DEEP + "}"},
    )
    assert "nested too deep" in assert_error(response, 422)


@pytest.mark.parametrize(
    "body",
    [DEEP.encode(), b'{"key": ' + DEEP.encode() + b"}", b"{not json", b"\xff\xfe"],
    ids=["deep-array", "deep-key", "broken", "not-utf8"],
)
def test_session_with_bad_json_is_422(client: httpx.Client, body: bytes) -> None:
    response = client.post("/session", content=body, headers={"content-type": "application/json"})
    assert_error(response, 422)


@pytest.mark.parametrize("kind", ["json", "form", "multipart"])
def test_session_body_is_capped_before_any_key(client: httpx.Client, kind: str) -> None:
    big = "a" * (2 * 1024 * 1024)  # far over the 64 KiB default
    if kind == "json":
        response = client.post("/session", json={"key": big})
    elif kind == "form":
        response = client.post("/session", data={"key": big})
    else:
        response = client.post("/session", files=[("key", ("k.txt", big.encode(), "text/plain"))])
    assert response.status_code in (413, 422), response.text
    assert_error(response, response.status_code)


def test_session_still_logs_in_by_form_and_json(client: httpx.Client) -> None:
    # a wrong key is 401 in both shapes: the body was read and understood
    assert_error(client.post("/session", json={"key": "mf_wrong"}), 401)
    assert_error(client.post("/session", data={"key": "mf_wrong"}), 401)


def test_a_bad_upload_fails_alone_and_the_rest_is_analyzed(client: httpx.Client) -> None:
    response = client.post(
        "/jobs",
        files=[
            ("files", ("good.png", PNG, "image/png")),
            ("files", ("empty.png", b"", "image/png")),
            ("files", ("notes.png", b"just some text, not an image\n" * 20, "image/png")),
        ],
        data={"providers": "image_features"},
    )
    assert response.status_code == 202, response.text
    job = wait_for(client, response.json()["id"])
    files = {f["original_name"]: f for f in job["files"]}
    assert files["good.png"]["status"] == "completed"
    for bad in ("empty.png", "notes.png"):
        assert files[bad]["status"] == "failed" and files[bad]["error"], files[bad]


@pytest.mark.usefixtures("nothing_stored")
def test_a_batch_of_only_bad_uploads_is_still_refused(client: httpx.Client) -> None:
    response = client.post(
        "/jobs",
        files=[("files", ("a.png", b"", "image/png")), ("files", ("b.png", b"", "image/png"))],
    )
    assert "a.png" in assert_error(response, 422)


def test_docs_load_swagger_ui_from_this_server(client: httpx.Client) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/docs/assets/{asset}" in page.text
        response = client.get(f"/docs/assets/{asset}")
        assert response.status_code == 200 and len(response.content) > 1000


def test_the_upload_limit_is_per_file(client: httpx.Client) -> None:
    # the `api` fixture allows 5 MiB per file: two files of 3 MiB pass together
    padded = PNG + b"\0" * (3 * 1024 * 1024)
    response = client.post(
        "/jobs",
        files=[
            ("files", ("a.png", padded, "image/png")),
            ("files", ("b.png", padded, "image/png")),
        ],
        data={"providers": "image_features"},
    )
    assert response.status_code == 202, response.text
    too_big = PNG + b"\0" * (6 * 1024 * 1024)
    refused = client.post("/jobs", files=[("files", ("big.png", too_big, "image/png"))])
    assert "big.png" in assert_error(refused, 413, "too_large")


def test_a_405_names_every_method_of_the_path(client: httpx.Client) -> None:
    response = client.request("OPTIONS", "/jobs")
    assert_error(response, 405)
    assert set(response.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


@pytest.mark.parametrize(
    "body",
    [{"paths": [""]}, {"paths": ["x"], "providers": [""]}, {"paths": ["x"], "name": "n" * 501}],
    ids=["empty-path", "empty-provider", "long-name"],
)
def test_the_schema_refuses_what_the_server_refuses(
    client: httpx.Client, body: dict[str, Any]
) -> None:
    assert_error(client.post("/jobs", json=body), 422)
    schema = client.get("/openapi.json").json()
    content = schema["paths"]["/jobs"]["post"]["requestBody"]["content"]
    create = content["application/json"]["schema"]["properties"]
    assert create["paths"]["items"]["minLength"] == 1
    assert create["providers"]["anyOf"][0]["items"]["minLength"] == 1


@pytest.mark.usefixtures("nothing_stored")
@pytest.mark.parametrize(
    "fields",
    [
        {"name": "a\x00b"},
        {"options": '{"x": "a\\u0000"}'},
        {"options": '{"a": NaN}'},
        {"options": '{"a": 1e999}'},
        {"providers": "nosuch"},
        {"options": '{"providers": "nosuch"}'},
    ],
    ids=["nul-name", "nul-options", "nan", "1e999", "provider", "options-provider"],
)
def test_a_refused_upload_leaves_no_original_behind(
    client: httpx.Client, fields: dict[str, str]
) -> None:
    response = client.post("/jobs", files=[("files", ("a.png", PNG, "image/png"))], data=fields)
    assert_error(response, 422)


@pytest.mark.parametrize(
    "document",
    ['{"words": ["\\ud800"]}', '{"\\udc00x": 1}', '{"count": NaN}', '{"count": 1e999}'],
    ids=["lone-high-surrogate", "lone-low-surrogate-key", "nan", "infinite"],
)
def test_contains_that_jsonb_cannot_hold_is_422(client: httpx.Client, document: str) -> None:
    # valid JSON to Python, refused by PostgreSQL's jsonb parser (was 503 "database error")
    response = client.get("/search", params={"contains": document})
    assert "contains has" in assert_error(response, 422)


@pytest.mark.usefixtures("nothing_stored")
def test_job_options_that_jsonb_cannot_hold_are_422(client: httpx.Client) -> None:
    response = client.post(
        "/jobs",
        files=[("files", ("a.png", PNG, "image/png"))],
        data={"options": '{"note": "\\ud83d"}'},
    )
    assert "lone surrogate" in assert_error(response, 422)
