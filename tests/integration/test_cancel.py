"""Cancelling a job while one of its files is being processed."""

from __future__ import annotations

import shutil
from pathlib import Path

from mediaflow.db.enums import MediaFileStatus
from mediaflow.pipeline.ingest import ingest
from mediaflow.pipeline.runner import finish_job
from mediaflow.pipeline.stages import Pipeline
from mediaflow.providers.registry import ProviderSelection
from mediaflow.runtime import Runtime
from mediaflow.services.jobs import cancel_job
from tests.migration.helpers import query, run_sql

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def test_cancel_wins_over_a_late_worker_and_the_running_file_finishes(
    head_db: str, runtime: Runtime, tmp_path: Path
) -> None:
    for name in ("a.png", "b.png"):
        shutil.copy(SAMPLES / "text_image.png", tmp_path / name)
    job = ingest(
        runtime, [tmp_path / "a.png", tmp_path / "b.png"], name="cancel me",
        providers=["image_features"],
    )  # fmt: skip
    selection = ProviderSelection(transcription=[], analysis=["image_features"])
    pipeline = Pipeline.of(runtime)
    running, waiting = job.media_file_ids
    # a worker has started on the first file
    run_sql(head_db, [f"UPDATE media_file SET status = 'processing' WHERE id = '{running}'"])

    detail = cancel_job(runtime, job.job_id)
    assert detail.status == "cancelled"
    assert query(head_db, "SELECT finished_at IS NULL FROM analysis_job") == [(True,)]

    # a worker that had already taken the waiting file's task does not process it
    late = pipeline.process_file(waiting, selection)
    assert late.status is MediaFileStatus.CANCELLED
    assert query(
        head_db, "SELECT count(*) FROM processing_log WHERE media_file_id = :m AND stage <> 'ingest'",
        m=waiting,
    ) == [(0,)]  # fmt: skip

    # the running file finishes; the job stays cancelled and is now over
    done = pipeline.process_file(running, selection)
    assert done.status is MediaFileStatus.COMPLETED
    finish_job(runtime.db, job.job_id)
    assert query(
        head_db, "SELECT status::text, finished_at IS NOT NULL, error FROM analysis_job"
    ) == [("cancelled", True, None)]  # fmt: skip
    assert sorted(query(head_db, "SELECT status::text FROM media_file")) == [
        ("cancelled",), ("completed",),
    ]  # fmt: skip


def test_cancelling_a_queued_reanalysis_keeps_the_completed_file(
    head_db: str, runtime: Runtime, tmp_path: Path
) -> None:
    from mediaflow.pipeline.runner import run_job
    from mediaflow.services.media import reanalyze

    shutil.copy(SAMPLES / "text_image.png", tmp_path / "a.png")
    job = ingest(runtime, [tmp_path / "a.png"], name="done", providers=["image_features"])
    run_job(runtime, job.job_id)
    (media_id,) = job.media_file_ids
    reanalyze(  # queued: no worker runs in this test, so it waits
        runtime, media_id, ["image_features"], queue=True
    )

    detail = cancel_job(runtime, job.job_id)
    assert [f.status for f in detail.files] == ["completed"]  # not "cancelled" (issue 9)
    assert runtime.queue.cancel_queued([media_id]) == 0  # its queued task is gone too
