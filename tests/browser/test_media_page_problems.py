"""The media page shows what exists (issue 10 item 9): a failed file says why instead of
"No preview for media of type null", and a file without a transcript offers JSON only."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from PIL import Image

from tests.api.server import LiveServer
from tests.pg import execute_autocommit
from tests.realworld_media import make_avi_ac3

PROCESSING_TIMEOUT_MS = 180_000


def test_failed_file_and_exports_that_exist(
    web_server: LiveServer, web_db: str, page: Any, tmp_path: Path
) -> None:
    image = tmp_path / "still.png"
    Image.new("RGB", (64, 48), (10, 120, 200)).save(image)
    damaged = tmp_path / "damaged.avi"  # plays its first frame, half its audio is cut
    make_avi_ac3(damaged, seconds=3.0, cut_audio=tuple(range(1, 200, 2)))
    base = web_server.base_url
    page.goto(f"{base}/")
    page.set_input_files("#upload-files", [str(image), str(damaged)])
    page.fill("#upload-name", "page problems")
    page.click("#upload-submit")
    page.wait_for_selector("[data-testid=uploaded-job]")
    page.goto(base + (page.locator("[data-testid=uploaded-job]").get_attribute("href") or ""))
    page.wait_for_selector(
        "[data-testid=file-row][data-status=failed]", timeout=PROCESSING_TIMEOUT_MS
    )
    job_url = page.url

    page.locator("[data-testid=file-row]", has_text="damaged.avi").locator(
        "[data-testid=media-link]"
    ).click()
    page.wait_for_url(re.compile(r"/ui/media/[0-9a-f-]{36}$"))
    error = page.locator("[data-testid=media-error]")
    error.wait_for()
    assert "too little decodes" in error.inner_text()
    assert page.locator("[data-testid=export-json]").count() == 1
    assert page.locator("[data-testid=export-vtt]").count() == 0

    page.goto(job_url)
    page.wait_for_selector("[data-testid=file-row][data-status=completed]")
    page.locator("[data-testid=file-row]", has_text="still.png").locator(
        "[data-testid=media-link]"
    ).click()
    page.wait_for_selector("img#player")
    page.wait_for_selector("[data-testid=export-json]")
    page.wait_for_selector("#transcript-empty:not([hidden])")
    for missing in ("vtt", "srt", "txt"):
        assert page.locator(f"[data-testid=export-{missing}]").count() == 0


def test_a_file_never_read_says_why(web_server: LiveServer, web_db: str, page: Any) -> None:
    job_id, media_id = uuid.uuid4(), uuid.uuid4()
    execute_autocommit(
        web_db,
        f"INSERT INTO analysis_job (id, name, status) VALUES ('{job_id}', 'seeded', 'completed')",
        "INSERT INTO media_file (id, job_id, original_name, status, error) VALUES "
        f"('{media_id}', '{job_id}', 'empty.mov', 'failed', 'empty file (0 bytes)')",
    )
    page.goto(f"{web_server.base_url}/ui/media/{media_id}")
    failure = page.locator("[data-testid=stage-failure]")
    failure.wait_for()
    assert failure.inner_text() == "Not analyzed: empty file (0 bytes)"
    assert "type null" not in page.content()
    assert page.locator("[data-testid=export-vtt]").count() == 0
