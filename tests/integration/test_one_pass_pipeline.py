"""The pipeline reads a video once, and still logs each extraction stage on its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediaflow.db.enums import JobStatus, MediaFileStatus
from mediaflow.pipeline.ingest import ingest
from mediaflow.pipeline.runner import run_job
from mediaflow.runtime import Runtime
from tests.media_factory import SECOND_SCENE_COLOUR, WHITE, Shot, make_video
from tests.migration.helpers import query
from tests.unit.test_media_onepass import _tone


def test_a_video_is_decoded_once_with_honest_stage_rows(
    head_db: str, runtime: Runtime, tmp_path: Path
) -> None:
    shots = [Shot(1.5, WHITE, "ONE"), Shot(1.5, SECOND_SCENE_COLOUR, "TWO"), Shot(1.5, WHITE)]
    video = make_video(tmp_path / "talk.mp4", shots, audio_wav=_tone(tmp_path / "t.wav", 4.5))

    job = ingest(runtime, [video.path], providers=["scenedetect", "image_features"])
    outcome = run_job(runtime, job.job_id)

    assert outcome.status is JobStatus.COMPLETED
    assert [f.status for f in outcome.files] == [MediaFileStatus.COMPLETED]
    rows = query(
        head_db,
        "SELECT stage::text, status::text, duration_ms, details FROM processing_log "
        "WHERE stage IN ('audio_extraction', 'frame_extraction') ORDER BY id",
    )
    assert [(stage, status) for stage, status, _, _ in rows] == [
        ("audio_extraction", "started"),
        ("frame_extraction", "started"),
        ("audio_extraction", "completed"),
        ("frame_extraction", "completed"),
    ]
    audio, frames = rows[2][3], rows[3][3]
    assert audio["has_audio"] is True
    assert audio["pass"]["with"] == ["audio_extraction", "frame_extraction"]
    assert frames["observed"] == ["scenedetect"]
    assert frames["frames"] >= 3 and frames["shots"] == 3 and frames["keyframes"] == 3
    # each stage's own time, not the pass's wall time twice
    assert all(isinstance(row[2], int) and row[2] >= 0 for row in rows[2:])
    assert isinstance(frames["observers_ms"], int)

    # scene detection used the frames of the pass and found both cuts
    (result,) = query(
        head_db, "SELECT result FROM analysis_result WHERE analysis_type = 'scenes' AND is_active"
    )
    assert result[0]["cuts"] == pytest.approx([1.5, 3.0], abs=0.1)
    assert query(head_db, "SELECT count(*) FROM processing_log WHERE status = 'failed'") == [(0,)]
