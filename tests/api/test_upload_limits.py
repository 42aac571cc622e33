"""Uploads are judged with the server's own decode limits (MEDIAFLOW_MAX_IMAGE_PIXELS)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from mediaflow.api.app import create_app
from tests import media_factory as mf
from tests.conftest import make_runtime


def test_an_upload_over_the_configured_pixel_limit_is_refused_with_the_reason(
    head_db: str, data_dir: Path, tmp_path: Path
) -> None:
    image = mf.make_text_image(tmp_path / "big.png", "BIG")  # a few hundred pixels a side
    body = image.read_bytes()
    with (
        make_runtime(head_db, data_dir, max_image_pixels=1000) as strict,
        TestClient(create_app(strict, worker_concurrency=0)) as client,
    ):
        refused = client.post("/jobs", files={"files": ("big.png", body, "image/png")})
    assert refused.status_code in (413, 415, 422), refused.text
    assert "big.png" in refused.text and "pixel" in refused.text.lower()
    with (
        make_runtime(head_db, data_dir) as default,
        TestClient(create_app(default, worker_concurrency=0)) as client,
    ):
        accepted = client.post("/jobs", files={"files": ("big.png", body, "image/png")})
    assert accepted.status_code == 202, accepted.text
