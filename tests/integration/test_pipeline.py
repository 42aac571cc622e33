"""The main job end to end: ingest, every stage, real local models, real PostgreSQL."""

from __future__ import annotations

import shutil
from pathlib import Path

import jiwer
import pytest

from mediaflow.db.enums import JobStatus, MediaFileStatus
from mediaflow.pipeline.ingest import ingest
from mediaflow.pipeline.runner import run_job
from mediaflow.runtime import Runtime
from mediaflow.services.media import export
from tests import media_factory as mf
from tests.migration.helpers import query

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _normalise(text: str) -> str:
    return jiwer.RemovePunctuation()(text.lower()).replace("mediaflow", "media flow").strip()


@pytest.mark.slow
def test_samples_and_bad_files_in_one_job(head_db: str, runtime: Runtime, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for sample in ("speech_video.mp4", "text_image.png", "speech.mp3"):
        shutil.copy(SAMPLES / sample, folder / sample)
    mf.make_truncated_video(folder / "truncated.mp4")
    mf.make_text_file_renamed(folder / "notes.mp4")
    mf.make_zero_byte(folder / "empty.mov")
    mf.make_unsupported(folder / "document.xyz")
    result = ingest(runtime, [folder], name="e2e")
    assert len(result.media_file_ids) == 7
    outcome = run_job(runtime, result.job_id)

    assert outcome.status is JobStatus.COMPLETED
    assert outcome.failed == 4
    rows = dict(query(head_db, "SELECT original_name, status::text FROM media_file"))
    assert rows == {
        "speech_video.mp4": "completed", "text_image.png": "completed", "speech.mp3": "completed",
        "truncated.mp4": "failed", "notes.mp4": "failed", "empty.mov": "failed",
        "document.xyz": "failed",
    }  # fmt: skip
    # each failure has its own clear reason, in the row and in processing_log
    errors = dict(
        query(head_db, "SELECT original_name, error FROM media_file WHERE status = 'failed'")
    )
    assert "empty file" in errors["empty.mov"]
    assert "not a media file" in errors["notes.mp4"]
    assert "truncated" in errors["truncated.mp4"] or "corrupt" in errors["truncated.mp4"]
    logged = query(
        head_db,
        "SELECT m.original_name, l.message FROM processing_log l JOIN media_file m "
        "ON m.id = l.media_file_id WHERE l.stage = 'validation' AND l.status = 'failed'",
    )
    assert {name for name, _ in logged} == {
        "truncated.mp4",
        "notes.mp4",
        "empty.mov",
        "document.xyz",
    }
    job_meta = query(head_db, "SELECT metadata FROM analysis_job")[0][0]
    assert job_meta["failed"] == 4 and job_meta["completed"] == 3

    # speech: transcripts within 30% word error rate of the known sentences
    transcripts = dict(
        query(
            head_db,
            "SELECT m.original_name, t.text FROM transcription t JOIN media_file m "
            "ON m.id = t.media_file_id WHERE t.is_active",
        )
    )
    assert jiwer.wer(_normalise(mf.SPEECH_SENTENCE), _normalise(transcripts["speech.mp3"])) < 0.3
    assert (
        jiwer.wer(_normalise(mf.VIDEO_SENTENCE), _normalise(transcripts["speech_video.mp4"])) < 0.3
    )

    # OCR words are searchable by JSONB containment
    hits = query(
        head_db,
        "SELECT m.original_name FROM analysis_result r JOIN media_file m ON m.id = r.media_file_id "
        """WHERE r.result @> '{"words": ["invoice"]}' AND r.is_active""",
    )
    assert hits == [("text_image.png",)]
    cuts = query(
        head_db,
        "SELECT r.result -> 'cuts' FROM analysis_result r WHERE r.analysis_type = 'scenes'",
    )
    assert len(cuts) == 1 and any(abs(c - 3.24) < 0.2 for c in cuts[0][0])

    # every stage of a good video was logged as completed, with durations
    stages = query(
        head_db,
        "SELECT DISTINCT l.stage::text FROM processing_log l JOIN media_file m "
        "ON m.id = l.media_file_id WHERE m.original_name = 'speech_video.mp4' "
        "AND l.status = 'completed' AND l.stage <> 'ingest' AND l.duration_ms IS NOT NULL",
    )
    assert {s for (s,) in stages} >= {
        "validation", "metadata", "audio_extraction", "frame_extraction", "transcription",
        "analysis",
    }  # fmt: skip

    video_id = query(head_db, "SELECT id FROM media_file WHERE original_name = 'speech_video.mp4'")[
        0
    ][0]
    vtt = export(runtime, video_id, "vtt")
    assert vtt.startswith("WEBVTT\n\n00:00:0")
    srt = export(runtime, video_id, "srt")
    assert srt.startswith("1\n00:00:0") and " --> " in srt


@pytest.mark.slow
def test_a_job_where_nothing_succeeds_fails(head_db: str, runtime: Runtime, tmp_path: Path) -> None:
    bad = mf.make_zero_byte(tmp_path / "empty.mp4")
    result = ingest(runtime, [bad], name="bad")
    outcome = run_job(runtime, result.job_id)
    assert outcome.status is JobStatus.FAILED
    assert outcome.files[0].status is MediaFileStatus.FAILED
    assert query(head_db, "SELECT error FROM analysis_job") == [("all 1 file(s) failed",)]
