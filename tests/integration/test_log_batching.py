"""processing_log rows that close a step travel with the next write, stamped when they happened."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from mediaflow.db.enums import MediaFileStatus, ProcessingLogStatus, ProcessingStage
from mediaflow.db.session import Database
from mediaflow.errors import DatabaseError
from mediaflow.pipeline.log import LogEvent, stage_timer
from mediaflow.pipeline.records import ClaimedFile, DatabaseRecords, FileOutcome
from tests.migration.helpers import query


@pytest.fixture
def db(head_db: str) -> Iterator[Database]:
    database = Database(head_db)
    yield database
    database.dispose()


@pytest.fixture
def file(db: Database) -> ClaimedFile:
    job_id, file_id = uuid.uuid4(), uuid.uuid4()
    with db.session() as session:
        session.execute(
            sa.text("INSERT INTO analysis_job (id, name, status) VALUES (:id, 'j', 'running')"),
            {"id": job_id},
        )
        session.execute(
            sa.text(
                "INSERT INTO media_file (id, job_id, original_name, status) "
                "VALUES (:id, :job, 'a.mp4', 'processing')"
            ),
            {"id": file_id, "job": job_id},
        )
    return ClaimedFile(file_id, job_id, None, "a.mp4")


def _rows(url: str) -> list[tuple[object, ...]]:
    return query(
        url,
        "SELECT stage::text, status::text, duration_ms, created_at FROM processing_log ORDER BY id",
    )


def test_completed_row_goes_with_the_next_started_row(
    head_db: str, db: Database, file: ClaimedFile
) -> None:
    records = DatabaseRecords(db)
    commits: list[int] = []
    sa.event.listen(db.engine, "commit", lambda _conn: commits.append(1))

    with stage_timer(records.log, file.job_id, file.media_file_id, ProcessingStage.VALIDATION):
        time.sleep(0.05)
    # the started row is there at once; the completed one waits for the next write
    assert [r[:2] for r in _rows(head_db)] == [("validation", "started")]
    ended = time.time()
    time.sleep(0.2)
    with stage_timer(records.log, file.job_id, file.media_file_id, ProcessingStage.METADATA):
        pass
    records.finalize(file, FileOutcome(file.media_file_id, MediaFileStatus.COMPLETED))

    rows = _rows(head_db)
    assert [r[:2] for r in rows] == [
        ("validation", "started"),
        ("validation", "completed"),
        ("metadata", "started"),
        ("metadata", "completed"),
        ("finalize", "completed"),
    ]
    # the step's own duration, and the time it ended, not the time the row was sent
    assert isinstance(rows[1][2], int) and rows[1][2] >= 50
    completed_at = rows[1][3]
    assert isinstance(completed_at, type(rows[2][3]))
    assert completed_at.timestamp() <= ended + 0.01  # type: ignore[attr-defined]
    assert rows[2][3].timestamp() >= ended + 0.15  # type: ignore[attr-defined]
    # two steps and the final status: three commits, not five
    assert len(commits) == 3


def test_a_step_that_fails_keeps_its_failed_row(
    head_db: str, db: Database, file: ClaimedFile
) -> None:
    records = DatabaseRecords(db)
    with (
        pytest.raises(RuntimeError, match="decoder broke"),
        stage_timer(records.log, file.job_id, file.media_file_id, ProcessingStage.METADATA),
    ):
        raise RuntimeError("decoder broke")
    records.finalize(
        file, FileOutcome(file.media_file_id, MediaFileStatus.FAILED, error="decoder broke")
    )
    rows = query(
        head_db,
        "SELECT stage::text, status::text, message, details->>'error_type' "
        "FROM processing_log ORDER BY id",
    )
    assert rows == [
        ("metadata", "started", None, None),
        ("metadata", "failed", "RuntimeError: decoder broke", "RuntimeError"),
        ("finalize", "failed", "decoder broke", None),
    ]


def test_details_that_are_not_json_fail_the_step_at_once(db: Database, file: ClaimedFile) -> None:
    records = DatabaseRecords(db)
    with (
        pytest.raises(TypeError, match="not JSON serializable"),
        stage_timer(records.log, file.job_id, file.media_file_id, ProcessingStage.METADATA) as step,
    ):
        step.details["when"] = object()


def test_a_nul_in_a_deferred_row_does_not_break_later_writes(
    head_db: str, db: Database, file: ClaimedFile
) -> None:
    records = DatabaseRecords(db)
    records.log(
        LogEvent(
            file.job_id, file.media_file_id, ProcessingStage.ANALYSIS,
            ProcessingLogStatus.SKIPPED, message="bad\x00byte", details={"why": "nul\x00here"},
        )
    )  # fmt: skip
    with stage_timer(records.log, file.job_id, file.media_file_id, ProcessingStage.INDEXING):
        pass
    records.finalize(file, FileOutcome(file.media_file_id, MediaFileStatus.COMPLETED))
    rows = query(
        head_db,
        "SELECT status::text, message, details->>'why' FROM processing_log ORDER BY id",
    )
    assert rows[0] == ("skipped", "bad\ufffdbyte", "nul\ufffdhere")
    assert [r[0] for r in rows] == ["skipped", "started", "completed", "completed"]


def test_rows_of_a_failed_write_go_with_the_next_one(
    head_db: str, db: Database, file: ClaimedFile
) -> None:
    records = DatabaseRecords(db)
    with stage_timer(records.log, file.job_id, file.media_file_id, ProcessingStage.VALIDATION):
        pass
    # the next write fails (its own statement is refused): the waiting row is kept
    with pytest.raises(DatabaseError, match="division by zero"), records._session() as session:
        session.execute(sa.text("SELECT 1/0"))
    assert [r[:2] for r in _rows(head_db)] == [("validation", "started")]
    records.finalize(file, FileOutcome(file.media_file_id, MediaFileStatus.COMPLETED))
    assert [r[:2] for r in _rows(head_db)] == [
        ("validation", "started"),
        ("validation", "completed"),
        ("finalize", "completed"),
    ]
