"""The compare page in a real browser: two transcripts side by side, words only one of
them has marked, WER, latency and cost; transcript text stays text."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from mediaflow.db.enums import ProcessingLogStatus, ProcessingStage, TranscriptionProvider
from mediaflow.pipeline.ingest import ingest
from mediaflow.pipeline.log import LogEvent, add_event
from mediaflow.pipeline.records import save_transcription
from mediaflow.providers.base import Segment, TranscriptOutput
from tests.api.server import LiveServer
from tests.conftest import make_runtime

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
EVIL = '<img src=x onerror="window.hacked=1">'


def _seed(web_db: str, data_dir: Path) -> uuid.UUID:
    """One media file with a faster_whisper and a deepgram transcript, and deepgram's cost."""
    with make_runtime(web_db, data_dir) as runtime:
        created = ingest(runtime, [SAMPLES / "text_image.png"], name="compare", providers=None)
        (media_id,) = created.media_file_ids
        texts = {
            TranscriptionProvider.FASTER_WHISPER: "hello from media flow this is a test",
            TranscriptionProvider.DEEPGRAM: f"Hello from mediaflow. This is the test {EVIL}",
        }
        for provider, text in texts.items():
            # one transaction each: faster_whisper's is the older (side A by default)
            with runtime.db.session() as session:
                save_transcription(
                    session, job_id=created.job_id, media_file_id=media_id, provider=provider,
                    output=TranscriptOutput(text, [Segment(0, 3, text)], "en", 0.9, "m"),
                    latency_ms=1234 if provider is TranscriptionProvider.DEEPGRAM else 321,
                )  # fmt: skip
        with runtime.db.session() as session:
            add_event(session, LogEvent(
                created.job_id, media_id, ProcessingStage.TRANSCRIPTION,
                ProcessingLogStatus.COMPLETED,
                details={"provider": "deepgram", "cost": {
                    "units": {"audio_seconds": 3.0}, "usd": 0.000215, "prices_date": "2026-11-26"}},
            ))  # fmt: skip
        return media_id


def test_compare_page(web_server: LiveServer, web_db: str, tmp_path: Path, page: Any) -> None:
    media_id = _seed(web_db, tmp_path)
    page.goto(f"{web_server.base_url}/ui/media/{media_id}/compare")
    summary = page.get_by_test_id("compare-summary")
    # polled by Playwright itself: a string predicate would be an eval the page's CSP forbids
    expect(summary).to_contain_text("WER")
    assert "WER of deepgram against faster_whisper" in summary.inner_text()
    left = page.get_by_test_id("compare-left")
    right = page.get_by_test_id("compare-right")
    assert "hello from media flow" in left.inner_text()
    deleted = left.locator("del").all_inner_texts()
    inserted = right.locator("ins").all_inner_texts()
    assert any("media flow" in d for d in deleted) and any("mediaflow." in i for i in inserted)
    assert any(EVIL in i for i in inserted)  # shown as text...
    assert page.evaluate("window.hacked") is None  # ...never run
    facts = page.get_by_test_id("compare-facts").inner_text()
    assert "0.000215" in facts and "1234" in facts and "321" in facts
    # swapping the sides from the form asks the API again
    page.select_option("#compare-a", "deepgram")
    page.select_option("#compare-b", "faster_whisper")
    page.click("#compare-form button")
    expect(summary).to_contain_text("of faster_whisper")
