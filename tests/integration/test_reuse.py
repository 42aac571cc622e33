"""Reuse by content (issue 10 item 10): the same bytes analyzed by the same provider
versions get the earlier results copied, unless the job asks for ``force``."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from mediaflow.db.enums import JobStatus
from mediaflow.pipeline.ingest import ingest
from mediaflow.pipeline.runner import run_job
from mediaflow.runtime import Runtime
from mediaflow.services import media as media_service
from tests.migration.helpers import query
from tests.realworld_media import make_avi_ac3

PROVIDERS = ["image_features", "audio_features"]


def _analyze(runtime: Runtime, path: Path, **options: object) -> uuid.UUID:
    result = ingest(runtime, [path], providers=PROVIDERS, options=options or None)
    assert run_job(runtime, result.job_id).status is JobStatus.COMPLETED
    (media_id,) = result.media_file_ids
    return media_id


def _log(db: str, media_id: uuid.UUID) -> list[tuple[str, str, str | None, dict[str, object]]]:
    return query(
        db,
        "SELECT stage::text, status::text, message, details FROM processing_log "
        "WHERE media_file_id = :id AND stage IN ('audio_extraction', 'frame_extraction', "
        "'analysis') AND status <> 'started' ORDER BY id",
        id=media_id,
    )


def test_same_content_reuses_results_unless_forced(
    head_db: str, runtime: Runtime, tmp_path: Path
) -> None:
    first_path = tmp_path / "clip.avi"
    make_avi_ac3(first_path, seconds=3.0)
    again = tmp_path / "copy of clip.avi"  # another name, the same bytes
    shutil.copy(first_path, again)

    first = _analyze(runtime, first_path)
    second = _analyze(runtime, again)

    rows = _log(head_db, second)
    assert [(stage, status) for stage, status, _, _ in rows] == [
        ("audio_extraction", "skipped"),
        ("frame_extraction", "skipped"),
        ("analysis", "completed"),
        ("analysis", "completed"),
    ]
    for _, _, message, details in rows:
        assert message == f"reused from clip.avi ({first})"
        assert details["reused_from"] == str(first)
    # the copies are the second file's own active rows, equal to the first's
    results_1 = {r.analysis_type: r.result for r in media_service.list_results(runtime, first)}
    results_2 = {r.analysis_type: r.result for r in media_service.list_results(runtime, second)}
    assert results_2 == results_1 and len(results_2) >= 3
    keyframes = query(
        head_db, "SELECT count(*) FROM media_keyframe WHERE media_file_id = :id", id=second
    )
    assert keyframes[0][0] >= 1
    assert (
        query(head_db, "SELECT status::text, duration_s FROM media_file WHERE id = :id", id=second)[
            0
        ][0]
        == "completed"
    )

    forced = _analyze(runtime, again, force=True)
    forced_rows = _log(head_db, forced)
    assert all("reused_from" not in details for _, _, _, details in forced_rows)
    assert ("audio_extraction", "completed") in [(s, st) for s, st, _, _ in forced_rows]


def test_a_reanalysis_never_reuses(head_db: str, runtime: Runtime, tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    make_avi_ac3(path, seconds=2.0)
    _analyze(runtime, path)
    second = _analyze(runtime, path)
    assert any("reused_from" in d for _, _, _, d in _log(head_db, second))
    media_service.reanalyze(runtime, second, PROVIDERS, queue=False)
    latest = _log(head_db, second)[-2:]
    assert all("reused_from" not in details for _, _, _, details in latest)


def test_a_transcript_is_reused_and_searchable(
    head_db: str, runtime: Runtime, tmp_path: Path
) -> None:
    sample = Path(__file__).resolve().parents[2] / "samples" / "speech.mp3"
    copy = tmp_path / "speech again.mp3"
    shutil.copy(sample, copy)
    runs = []
    for path in (sample, copy):
        result = ingest(runtime, [path], providers=["faster_whisper"])
        assert run_job(runtime, result.job_id).status is JobStatus.COMPLETED
        runs.append(result.media_file_ids[0])
    first, second = runs
    text = query(
        head_db,
        "SELECT media_file_id, text, latency_ms FROM transcription WHERE is_active "
        "ORDER BY created_at",
    )
    assert [row[0] for row in text] == [first, second]
    assert text[0][1] == text[1][1] and text[1][2] == 0  # copied, not transcribed
    moments = query(
        head_db,
        "SELECT media_file_id, count(*) FROM search_moment GROUP BY 1 ORDER BY min(id)",
    )
    assert dict(moments)[second] == dict(moments)[first] > 0
