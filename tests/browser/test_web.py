"""The web page in a real Chromium against a real ``mediaflow serve`` and PostgreSQL.

The main flow is the acceptance text: upload a sample, watch it complete, open the
media page, click a transcript line and check the player's currentTime moved, run a
search and follow a hit. Screenshots land in the test's tmp_path and in
test-output/browser/.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from mediaflow.runtime import Runtime
from tests.api.server import LiveServer

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
PROCESSING_TIMEOUT_MS = 240_000  # real models on a CPU
NEAR_S = 0.35  # a seek lands on the requested time, give or take a frame


# Every wait_for_function takes a function ("() => ..."), never a bare expression: one
# that is not already true is re-checked through eval() in the page, which the page's
# CSP (no 'unsafe-eval') refuses — a failure only when the browser was slower than the
# first check.


def _wait_near(page: Any, seconds: float) -> float:
    """Wait until the player's currentTime is within NEAR_S of ``seconds``; return it."""
    page.wait_for_function(
        "([t, near]) => { const p = document.getElementById('player');"
        " return p && p.readyState >= 1 && Math.abs(p.currentTime - t) < near; }",
        arg=[seconds, NEAR_S],
    )
    return float(page.evaluate("document.getElementById('player').currentTime"))


def _ingest_job(runtime: Runtime, name: str) -> None:
    """A job named ``name`` written straight into the server's database (not queued)."""
    from mediaflow.pipeline.ingest import ingest

    ingest(runtime, [SAMPLES / "text_image.png"], name=name, providers=None, options=None)


def _canvas_has_drawing(page: Any) -> bool:
    return bool(
        page.evaluate(
            """() => {
              const c = document.getElementById('overlay');
              if (!c || !c.width || !c.height) return false;
              const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
              for (let i = 3; i < data.length; i += 4) if (data[i] > 0) return true;
              return false;
            }"""
        )
    )


@pytest.mark.timeout(600)
def test_upload_watch_play_search(web_server: LiveServer, page: Any, shoot: Any) -> None:
    """Upload via the form, watch the job finish, seek from the transcript, follow a search hit."""
    base = web_server.base_url
    page.goto(f"{base}/")
    samples = ["speech_video.mp4", "text_image.png", "speech.mp3"]
    page.set_input_files("#upload-files", [str(SAMPLES / name) for name in samples])
    page.fill("#upload-name", "browser flow")
    page.click("#upload-submit")
    page.wait_for_selector("[data-testid=uploaded-job]")
    row = page.locator("[data-testid=job-row]").filter(has_text="browser flow")
    row.wait_for()
    shoot("01-jobs-running")
    # a second tab watches the job page live (server-sent events) while it runs
    watcher = page.context.new_page()
    watcher.goto(base + (page.locator("[data-testid=uploaded-job]").get_attribute("href") or ""))
    watcher.locator("[data-testid=file-row]").first.wait_for()

    page.wait_for_selector(
        "[data-testid=job-row][data-status=completed], [data-testid=job-row][data-status=failed]",
        timeout=PROCESSING_TIMEOUT_MS,
    )
    assert row.get_attribute("data-status") == "completed", web_server.log()[-3000:]
    shoot("02-jobs-completed")
    watcher.wait_for_selector("[data-testid=job-status][data-status=completed]")
    watcher.wait_for_selector("[data-testid=timeline-row][data-stage=finalize]")
    first_seen = watcher.locator("[data-testid=job]").get_attribute("data-first-status")
    streamed = watcher.evaluate(
        "performance.getEntriesByType('resource').some(e => e.name.includes('/events'))"
    )
    if first_seen not in {"completed", "failed", "cancelled"}:
        assert streamed, "the job page follows a running job through GET /jobs/{id}/events"
    watcher.close()

    # the job page: both files finished, and the log drawn as a timeline
    row.locator("[data-testid=job-link]").click()
    page.wait_for_url(re.compile(r"/ui/jobs/[0-9a-f-]{36}$"))
    page.wait_for_selector("[data-testid=file-row][data-status=completed]")
    assert page.locator("[data-testid=file-row]").count() == len(samples)
    page.wait_for_selector("[data-testid=timeline-row][data-stage=finalize]")
    assert page.locator("[data-testid=job-status]").inner_text() == "completed"
    shoot("03-job")
    job_url = page.url

    # the video's media page: transcript lines, click the second one, the player seeks
    page.locator("[data-testid=file-row]", has_text="speech_video.mp4").locator(
        "[data-testid=media-link]"
    ).click()
    page.wait_for_url(re.compile(r"/ui/media/[0-9a-f-]{36}$"))
    page.wait_for_selector("video#player")
    segments = page.locator("[data-testid=segment]")
    segments.first.wait_for()
    assert segments.count() >= 2, "the sample's transcript has several segments"
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    second = segments.nth(1)
    start = float(second.get_attribute("data-start") or "nan")
    assert start > 0
    second.click()
    _wait_near(page, start)
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=segment]')[1].classList.contains('current')"
    )
    assert page.locator("[data-testid=segment].current").count() == 1
    # keyboard: the lines are buttons, Enter on the first one seeks back to its start
    first = segments.first
    first.focus()
    page.keyboard.press("Enter")
    _wait_near(page, float(first.get_attribute("data-start") or "nan"))

    # results grouped by type: the local analysis providers ran on the video
    page.wait_for_selector("[data-testid=result-group]")
    types = set(page.locator("[data-testid=result-group]").evaluate_all(
        "nodes => nodes.map(n => n.dataset.type)"
    ))  # fmt: skip
    assert types & {"ocr", "faces"}, types
    page.wait_for_function(  # the OCR boxes of the frame at the current time
        """() => { const c = document.getElementById('overlay'); if (!c || !c.width) return false;
           const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
           for (let i = 3; i < d.length; i += 4) if (d[i] > 0) return true; return false; }"""
    )
    page.wait_for_selector("[data-testid=timeline-row][data-stage=transcription]")
    assert page.locator("[data-testid=export-vtt]").get_attribute("href", timeout=30_000)
    # the shot strip: one thumbnail per shot (loaded), a click seeks to its shot
    shots = page.locator("[data-testid=shot]")
    shots.nth(1).wait_for()
    assert shots.count() == 2
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=shot] img')]"
        ".every(i => i.naturalWidth > 0)"
    )
    shots.nth(1).click()
    _wait_near(page, float(shots.nth(1).get_attribute("data-start") or "nan"))
    # and the timeline of on-screen text under the player
    page.wait_for_selector("[data-testid=timeline-track][data-type=text]")
    shoot("04-media-video")

    # search a word of the second line; the hit opens the media page at its moment
    words = re.findall(r"[A-Za-z]{4,}", second.inner_text())
    assert words, second.inner_text()
    word = max(words, key=len).lower()
    page.goto(f"{base}/ui/search")
    page.fill("#search-q", word)
    page.click("#search-submit")
    hit = page.locator("[data-testid=hit][data-kind=speech]").first
    hit.wait_for()
    # the matched word is marked in the hit's snippet
    marked = hit.locator("[data-testid=hit-snippet] mark").first.inner_text()
    assert marked.lower().startswith(word[:4]), (marked, word)
    hit_start = float(hit.get_attribute("data-start") or "nan")
    hit_end = float(hit.get_attribute("data-end") or "nan")
    shoot("05-search")
    hit.locator("[data-testid=hit-link]").click()
    page.wait_for_url(re.compile(r"/ui/media/[0-9a-f-]{36}\?t="))
    page.wait_for_selector("video#player")
    # the page seeks to the hit (?t=), then to the searched word's own moment inside it
    current = page.locator("[data-testid=segment].current")
    current.filter(has_text=re.compile(word, re.IGNORECASE)).wait_for()
    now = float(page.evaluate("document.getElementById('player').currentTime"))
    line_start = float(current.get_attribute("data-start") or "nan")
    line_end = float(current.get_attribute("data-end") or "nan")
    assert line_start - 0.05 <= now < line_end, (line_start, now, line_end)
    assert hit_start <= now <= hit_end, (hit_start, now, hit_end)
    # and the searched word is marked in the transcript
    assert current.locator("mark").first.inner_text().lower().startswith(word[:4])
    shoot("06-media-from-search")

    # a misspelling: the page says what it searched instead, and finds the moment
    page.goto(f"{base}/ui/search?q={word[:-1] + 'x' + word[-1]}&mode=lexical")
    page.locator("[data-testid=search-suggestion]", has_text=word).wait_for()
    page.locator("[data-testid=hit][data-kind=speech]").first.wait_for()

    # a word OCR read finds the image (a result hit)
    page.goto(f"{base}/ui/search?word=invoice")
    page.locator("[data-testid=hit][data-kind=result]", has_text="text_image.png").first.wait_for()

    # the image's media page: OCR boxes drawn over the picture
    page.goto(job_url)
    page.locator("[data-testid=file-row]", has_text="text_image.png").locator(
        "[data-testid=media-link]"
    ).click()
    page.wait_for_selector("img#player")
    page.wait_for_selector("[data-testid=result-group][data-type=ocr] [data-testid=ocr-text]")
    page.wait_for_function("() => document.getElementById('player').complete")
    page.wait_for_function(
        """() => { const c = document.getElementById('overlay'); if (!c || !c.width) return false;
           const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
           for (let i = 3; i < d.length; i += 4) if (d[i] > 0) return true; return false; }"""
    )
    assert _canvas_has_drawing(page)
    shoot("07-media-image")

    # the audio's media page: an <audio> player, no overlay, the transcript seeks it
    page.goto(job_url)
    page.locator("[data-testid=file-row]", has_text="speech.mp3").locator(
        "[data-testid=media-link]"
    ).click()
    page.wait_for_selector("audio#player")
    assert page.locator("#overlay").count() == 0
    assert page.locator("#overlay-controls").is_hidden()
    last = page.locator("[data-testid=segment]").last
    last.wait_for()
    page.wait_for_function("() => document.getElementById('player').readyState >= 1")
    last.click()
    _wait_near(page, float(last.get_attribute("data-start") or "nan"))
    shoot("08-media-audio")


def test_login_form_when_a_key_is_required(
    secure_server: LiveServer, secure_runtime: Runtime, page: Any, shoot: Any
) -> None:
    """A key-requiring server: the page asks for the key, then the job list loads."""
    from mediaflow.services import keys

    _, key = keys.create_key(secure_runtime, "browser test")
    evil = '<img src=x onerror="window.pwned=1"><b>bold</b>'
    _ingest_job(secure_runtime, evil)
    page.goto(f"{secure_server.base_url}/")
    dialog = page.locator("[data-testid=login-dialog]")
    dialog.wait_for(state="visible")
    page.fill("#login-key", "mf_not-a-key")
    page.click("#login-submit")
    page.wait_for_selector("#login-error:not([hidden])")
    shoot("01-login")
    page.fill("#login-key", key)
    page.click("#login-submit")
    dialog.wait_for(state="hidden")
    # the job list loads; what the API returns is shown as text, never as markup
    link = page.locator("[data-testid=job-row] [data-testid=job-link]")
    link.wait_for()
    assert link.inner_text() == evil
    assert page.locator("[data-testid=jobs-table] img, [data-testid=jobs-table] b").count() == 0
    assert page.evaluate("window.pwned") is None
    assert "1 job(s)" in page.inner_text("#jobs-updated")
    cookie = next(c for c in page.context.cookies() if c["name"] == "mediaflow_key")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    shoot("02-after-login")
    # logging out forgets the cookie: the next page asks again
    page.click("[data-testid=logout]")
    dialog.wait_for(state="visible")
    assert not [c for c in page.context.cookies() if c["name"] == "mediaflow_key"]


def test_session_endpoint(secure_server: LiveServer, secure_runtime: Runtime) -> None:
    """POST /session: 401 JSON on a bad key; a good key sets the cookie the API accepts."""
    from mediaflow.services import keys

    _, key = keys.create_key(secure_runtime, "session test")
    with httpx.Client(base_url=secure_server.base_url, timeout=30) as client:
        bad = client.post("/session", json={"key": "mf_wrong"})
        assert bad.status_code == 401
        assert bad.json()["error"]["code"] == "unauthorized"
        assert "mediaflow_key" not in client.cookies
        assert client.get("/jobs").status_code == 401
        good = client.post("/session", json={"key": key})
        assert good.status_code == 200
        header = good.headers["set-cookie"].lower()
        assert "httponly" in header and "samesite=strict" in header
        assert client.get("/jobs").status_code == 200
        assert client.delete("/session").status_code == 204
        assert client.get("/jobs").status_code == 401
    with httpx.Client(base_url=secure_server.base_url, timeout=30) as form_client:
        form = form_client.post("/session", data={"key": key})
        assert form.status_code == 303
        assert form_client.get("/jobs").status_code == 200


def test_pages_are_served(secure_server: LiveServer) -> None:
    """The page shells and static files are served without a key; ids are checked."""
    base = secure_server.base_url
    some_id = "00000000-0000-4000-8000-000000000000"
    for path in ["/", "/ui/search", "/ui/workers", f"/ui/jobs/{some_id}", f"/ui/media/{some_id}"]:
        response = httpx.get(base + path, timeout=30)
        assert response.status_code == 200, path
        assert "text/html" in response.headers["content-type"]
        assert 'id="login-dialog"' in response.text
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    for name in ["api.js", "jobs.js", "job.js", "media.js", "search.js", "workers.js", "style.css"]:
        assert httpx.get(f"{base}/static/{name}", timeout=30).status_code == 200, name
    assert httpx.get(f"{base}/ui/media/not-a-uuid", timeout=30).status_code == 422


def test_workers_page_shows_the_servers_own_worker(web_server: LiveServer, page: Any) -> None:
    """The workers page lists the in-process worker of ``serve``: host, pid, health."""
    import socket

    page.goto(web_server.base_url + "/ui/workers")
    row = page.get_by_test_id("worker-row").first
    row.wait_for(timeout=30_000)
    assert page.get_by_test_id("worker-host").first.inner_text() == socket.gethostname()
    assert row.get_attribute("data-alive") == "true"
    text = row.inner_text()
    assert "alive" in text and "media" in text
