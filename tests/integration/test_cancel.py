"""Cancelling a job while one of its files is being processed."""

from __future__ import annotations

import shutil
from pathlib import Path

from mediaflow.db.enums import MediaFileStatus
from mediaflow.ingest import ingest
from mediaflow.jobs import cancel_job
from mediaflow.pipeline.runner import finish_job
from mediaflow.pipeline.stages import process_media_file
from mediaflow.storage import ContentStore
from tests.migration.helpers import query, run_sql

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def test_cancel_wins_over_a_late_worker_and_the_running_file_finishes(
    head_db: str, tmp_path: Path
) -> None:
    for name in ("a.png", "b.png"):
        shutil.copy(SAMPLES / "text_image.png", tmp_path / name)
    store = ContentStore(tmp_path / "store")
    job = ingest(
        [tmp_path / "a.png", tmp_path / "b.png"], name="cancel me",
        providers=["image_features"], options=None, url=head_db, store=store,
    )  # fmt: skip
    running, waiting = job.media_file_ids
    # a worker has started on the first file
    run_sql(head_db, [f"UPDATE media_file SET status = 'processing' WHERE id = '{running}'"])

    detail = cancel_job(job.job_id, url=head_db)
    assert detail.status == "cancelled"
    assert query(head_db, "SELECT finished_at IS NULL FROM analysis_job") == [(True,)]

    # a worker that had already taken the waiting file's task does not process it
    late = process_media_file(
        waiting, store=store, transcription_providers=[],
        analysis_providers=["image_features"], url=head_db,
    )  # fmt: skip
    assert late.status is MediaFileStatus.CANCELLED
    assert query(
        head_db, "SELECT count(*) FROM processing_log WHERE media_file_id = :m AND stage <> 'ingest'",
        m=waiting,
    ) == [(0,)]  # fmt: skip

    # the running file finishes; the job stays cancelled and is now over
    done = process_media_file(
        running, store=store, transcription_providers=[],
        analysis_providers=["image_features"], url=head_db,
    )  # fmt: skip
    assert done.status is MediaFileStatus.COMPLETED
    finish_job(job.job_id, url=head_db)
    assert query(
        head_db, "SELECT status::text, finished_at IS NOT NULL, error FROM analysis_job"
    ) == [("cancelled", True, None)]  # fmt: skip
    assert sorted(query(head_db, "SELECT status::text FROM media_file")) == [
        ("cancelled",), ("completed",),
    ]  # fmt: skip
