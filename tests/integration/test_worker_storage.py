"""A worker whose store is down fails the task (retried), never the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediaflow.errors import StorageUnavailable
from mediaflow.pipeline.ingest import ingest
from mediaflow.pipeline.worker import process_file
from mediaflow.runtime import Runtime
from mediaflow.storage import ContentStore
from tests import media_factory as mf
from tests.migration.helpers import query


class StoreGoneAway(ContentStore):
    """The real local store, whose reads fail as an unreachable object store's do."""

    def local_path(self, key: str) -> Path:
        raise StorageUnavailable("object store s3://media at http://10.0.0.1:9000: cannot reach")


def test_an_unreachable_store_fails_the_task_not_the_file(
    runtime: Runtime, head_db: str, tmp_path: Path
) -> None:
    path = mf.make_text_image(tmp_path / "page.png", "STORE DOWN")
    job = ingest(runtime, [path], name="down", providers=["rapidocr"], options=None)
    (media_id,) = [row[0] for row in query(head_db, "SELECT id FROM media_file")]
    before = query(head_db, "SELECT status::text FROM media_file")
    down = Runtime(runtime.settings, db=runtime.db, store=StoreGoneAway(tmp_path / "originals"))
    with pytest.raises(StorageUnavailable, match="cannot reach"):
        process_file(down, media_id, None)  # procrastinate retries a task that raises
    assert query(head_db, "SELECT status::text FROM media_file") == before  # not failed
    assert query(head_db, "SELECT count(*) FROM processing_log WHERE status = 'failed'") == [(0,)]
    # once the store is back, the same file is processed normally
    assert process_file(runtime, media_id, None) == "completed"
    assert query(head_db, "SELECT status::text FROM analysis_job WHERE id = :j", j=job.job_id) == [
        ("completed",)
    ]
