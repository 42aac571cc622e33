"""Property-based fuzzing of the API's inputs: whatever a client sends, never a 5xx.

Hypothesis builds the hostile values schemathesis does not aim at: text with NUL
characters and lone surrogates, NaN and infinities, numbers with thousands of
digits, JSON nested thousands deep, and sends them as raw bytes, so that no client
library cleans them first.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.server import live_server

HOSTILE_TEXT = st.text(
    # any character, plus NUL and lone surrogates (st.characters() leaves those out)
    alphabet=st.one_of(st.characters(), st.sampled_from("\x00\ud800\udfff")),
    max_size=40,
)
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**60), max_value=10**60),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "9" * 5000]),
)


def _deep(depth: int, kind: str) -> str:
    return ("[" * depth + "]" * depth) if kind == "list" else ('{"a":' * depth + "1" + "}" * depth)


DEEP = st.builds(
    _deep, st.integers(min_value=100, max_value=5000), st.sampled_from(["list", "obj"])
)


def _raw_json(value: Any) -> str:
    """JSON text that may hold what json.dumps refuses: lone surrogates, NaN, huge numbers."""
    if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity", "1e999", "-1e999"):
        return value
    if isinstance(value, str) and value.isdigit():
        return value
    if isinstance(value, float):
        return repr(value).replace("inf", "Infinity").replace("nan", "NaN")
    return json.dumps(value, ensure_ascii=True)


SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def fuzz(api_db: str, api_data_dir: Path) -> Iterator[httpx.Client]:
    """A server with no worker and a client on it."""
    env = {"MEDIAFLOW_ALLOWED_ROOTS": f'["{api_data_dir / "allowed"}"]'}
    with (
        live_server(
            database_url=api_db, data_dir=api_data_dir, args=("--workers", "0"), env=env
        ) as server,
        server.client(timeout=60) as client,
    ):
        yield client


def _assert_4xx_json(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/json")
        assert "error" in response.json()


def _post_json(client: httpx.Client, text: str) -> httpx.Response:
    return client.post(
        "/jobs", content=text.encode("utf-8", "surrogatepass"),
        headers={"content-type": "application/json"},
    )  # fmt: skip


@SETTINGS
@given(name=HOSTILE_TEXT, key=HOSTILE_TEXT, value=st.one_of(HOSTILE_TEXT, NUMBERS))
def test_job_json_with_hostile_text_and_numbers(
    fuzz: httpx.Client, name: str, key: str, value: Any
) -> None:
    body = (
        '{"paths": ["no/such/file.png"], "name": ' + _raw_json(name)
        + ', "options": {' + _raw_json(key) + ": " + _raw_json(value) + "}}"
    )  # fmt: skip
    _assert_4xx_json(_post_json(fuzz, body))


@SETTINGS
@given(deep=DEEP, where=st.sampled_from(["options", "json-options", "session", "contains"]))
def test_deep_nesting_anywhere(fuzz: httpx.Client, deep: str, where: str) -> None:
    if where == "options":
        response = fuzz.post(
            "/jobs", files=[("files", ("a.png", b"\x89PNG\r\n\x1a\n", "image/png"))],
            data={"options": '{"a": ' + deep + "}"},
        )  # fmt: skip
    elif where == "json-options":
        response = _post_json(fuzz, '{"paths": ["x"], "options": {"a": ' + deep + "}}")
    elif where == "session":
        response = fuzz.post(
            "/session", content=deep.encode(), headers={"content-type": "application/json"}
        )
    else:
        # in a URL: kept under the HTTP server's request-line limit (a longer line gets
        # uvicorn's own plain 400 before the app sees it), still far past any parser's
        depth = min(deep.count("[") + deep.count("{"), 2000)
        response = fuzz.get("/search", params={"contains": _deep(depth, "list")})
    _assert_4xx_json(response)


@SETTINGS
@given(q=HOSTILE_TEXT, word=HOSTILE_TEXT, number=NUMBERS)
def test_search_parameters(fuzz: httpx.Client, q: str, word: str, number: Any) -> None:
    def enc(text: str) -> str:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")

    _assert_4xx_json(fuzz.get("/search", params={"q": enc(q) or "x", "limit": _raw_json(number)}))
    _assert_4xx_json(fuzz.get("/search", params={"word": enc(word) or "x"}))
    _assert_4xx_json(fuzz.get("/search", params={"contains": '{"words": [' + _raw_json(q) + "]}"}))


@SETTINGS
@given(start=NUMBERS, end=NUMBERS)
def test_range_headers(fuzz: httpx.Client, start: Any, end: Any) -> None:
    header = f"bytes={_raw_json(start)}-{_raw_json(end)}"
    response = fuzz.get(
        "/media/00000000-0000-4000-8000-000000000000/content", headers={"Range": header}
    )
    _assert_4xx_json(response)
