"""Ingest and the processing_log writer against real PostgreSQL and real files."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import pytest

from mediaflow.db.enums import ProcessingStage
from mediaflow.errors import InvalidInput, MediaflowError, NotFound
from mediaflow.pipeline.ingest import ingest
from mediaflow.pipeline.log import stage_timer
from mediaflow.pipeline.records import DatabaseRecords
from mediaflow.runtime import Runtime
from tests import media_factory as mf
from tests.conftest import make_runtime
from tests.migration.helpers import query, run_sql


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_folder_is_recursed_and_same_bytes_stored_once(
    head_db: str, runtime: Runtime, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    image = mf.make_text_image(folder / "b_image.png")
    (folder / "sub" / "a_copy.jpg").write_bytes(image.read_bytes())
    text = mf.make_text_file_renamed(folder / "sub" / "notes.mp4")
    mf.make_zero_byte(folder / ".hidden.mp4")
    store = runtime.store

    result = ingest(runtime, [folder], providers=["rapidocr"], options={"priority_hint": 1})

    assert len(result.media_file_ids) == 3
    assert result.skipped == [(folder / ".hidden.mp4", "hidden")]
    rows = query(
        head_db,
        "SELECT id, original_name, storage_key, sha256, size_bytes, status::text, job_id "
        "FROM media_file ORDER BY original_name",
    )
    assert [r.original_name for r in rows] == ["b_image.png", "sub/a_copy.jpg", "sub/notes.mp4"]
    assert {r.id for r in rows} == set(result.media_file_ids)
    assert {r.job_id for r in rows} == {result.job_id}
    assert all(r.status == "pending" for r in rows)
    # two identical files: two rows, one sha256, one stored object
    assert rows[0].sha256 == rows[1].sha256 == _sha256(image)
    assert rows[2].sha256 == _sha256(text) and rows[2].size_bytes == text.stat().st_size
    objects = sorted(p for p in store.root.rglob("*") if p.is_file())
    assert objects == sorted({store.path_for(r.storage_key) for r in rows})
    assert len(objects) == 2

    job = query(head_db, "SELECT id, name, status::text, options FROM analysis_job")
    assert len(job) == 1 and job[0].id == result.job_id
    assert job[0].status == "pending"
    assert job[0].name == "in (3 files)"
    assert job[0].options == {"providers": ["rapidocr"], "priority_hint": 1}

    # one ingest row per file, with what was stored
    logs = query(
        head_db,
        "SELECT l.media_file_id, l.status::text, l.details, l.duration_ms, m.original_name "
        "FROM processing_log l JOIN media_file m ON m.id = l.media_file_id "
        "WHERE l.stage = 'ingest' ORDER BY m.original_name",
    )
    assert len(logs) == 3 and all(log.status == "completed" for log in logs)
    assert [log.details for log in logs] == [
        # kind: what the first bytes say, the queue the file goes to (None: unknown)
        {"sha256": _sha256(image), "size_bytes": image.stat().st_size, "deduplicated": False,
         "kind": "image"},
        {"sha256": _sha256(image), "size_bytes": image.stat().st_size, "deduplicated": True,
         "kind": "image"},
        {"sha256": _sha256(text), "size_bytes": text.stat().st_size, "deduplicated": False,
         "kind": None},
    ]  # fmt: skip
    assert all(log.duration_ms is not None and log.duration_ms >= 0 for log in logs)


def test_rows_that_cannot_be_written_leave_no_new_original(
    head_db: str, runtime: Runtime, tmp_path: Path
) -> None:
    """The database refuses the job after the bytes were stored: the new original goes,
    one that an earlier ingest recorded stays (issue 9 item 6)."""
    earlier = mf.make_text_image(tmp_path / "earlier.png")
    ingest(runtime, [earlier])
    before = set(runtime.store.iter_keys())
    fresh = mf.make_random_bytes(tmp_path / "fresh.bin", seed=99)
    run_sql(
        head_db,
        [
            """CREATE FUNCTION refuse_job() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN RAISE EXCEPTION 'the database went away'; END $$""",
            "CREATE TRIGGER refuse BEFORE INSERT ON analysis_job "
            "FOR EACH ROW EXECUTE FUNCTION refuse_job()",
        ],
    )
    copy = tmp_path / "copy.png"
    copy.write_bytes(earlier.read_bytes())

    with pytest.raises(Exception, match="the database went away"):
        ingest(runtime, [copy, fresh])

    assert set(runtime.store.iter_keys()) == before == {_sha256(earlier)}
    assert query(head_db, "SELECT count(*) FROM media_file")[0][0] == 1


def test_an_unreachable_database_leaves_no_original(tmp_path: Path) -> None:
    fresh = mf.make_random_bytes(tmp_path / "fresh.bin", seed=99)
    (tmp_path / "data").mkdir()
    with make_runtime("postgresql://nobody@127.0.0.1:1/none", tmp_path / "data") as runtime:
        with pytest.raises(MediaflowError):
            ingest(runtime, [fresh])
        assert list(runtime.store.iter_keys()) == []


def test_zero_byte_file_gets_a_pending_row(head_db: str, runtime: Runtime, tmp_path: Path) -> None:
    empty = mf.make_zero_byte(tmp_path / "empty.mov")
    store = runtime.store

    result = ingest(runtime, [empty], name="bad")

    row = query(
        head_db,
        "SELECT original_name, sha256, size_bytes, status::text, storage_key FROM media_file",
    )
    assert row == [("empty.mov", hashlib.sha256(b"").hexdigest(), 0, "pending", row[0].storage_key)]
    assert store.path_for(row[0].storage_key).read_bytes() == b""
    assert query(head_db, "SELECT name, options FROM analysis_job") == [
        ("bad", {"providers": None})
    ]
    assert query(head_db, "SELECT count(*) FROM processing_log WHERE stage = 'ingest'") == [(1,)]
    assert result.skipped == []


def test_missing_path_writes_nothing(head_db: str, runtime: Runtime, tmp_path: Path) -> None:
    good = mf.make_text_file_renamed(tmp_path / "notes.mp4")
    store = runtime.store

    with pytest.raises(NotFound, match=r"missing\.mp4"):
        ingest(runtime, [good, tmp_path / "missing.mp4"])

    assert query(head_db, "SELECT count(*) FROM analysis_job") == [(0,)]
    assert query(head_db, "SELECT count(*) FROM media_file") == [(0,)]
    assert not store.root.exists()  # nothing stored either


def test_empty_folder_is_invalid_input(head_db: str, runtime: Runtime, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInput):
        ingest(runtime, [tmp_path / "empty"])
    assert query(head_db, "SELECT count(*) FROM analysis_job") == [(0,)]


def test_symlinks_do_not_leave_the_folder(head_db: str, runtime: Runtime, tmp_path: Path) -> None:
    outside = mf.make_text_file_renamed(tmp_path / "outside.txt")
    folder = tmp_path / "in"
    folder.mkdir()
    inside = mf.make_zero_byte(folder / "a.wav")
    (folder / "link_out.txt").symlink_to(outside)
    (folder / "link_in.wav").symlink_to(inside)
    (folder / "loop").symlink_to(folder, target_is_directory=True)

    result = ingest(runtime, [folder])

    names = [n for (n,) in query(head_db, "SELECT original_name FROM media_file ORDER BY 1")]
    assert names == ["a.wav"]  # link_in.wav is the same file: taken once
    reasons = {path.name: reason for path, reason in result.skipped}
    assert reasons == {
        "link_out.txt": "symlink to outside the folder",
        "link_in.wav": "listed twice",
        "loop": "symlink to a folder",
    }


def _job_and_file(runtime: Runtime, tmp_path: Path) -> tuple[uuid.UUID, uuid.UUID]:
    result = ingest(runtime, [mf.make_zero_byte(tmp_path / "x.mp4")], name="t")
    return result.job_id, result.media_file_ids[0]


def _stage_rows(url: str, stage: str) -> list[tuple[Any, ...]]:
    rows = query(
        url,
        "SELECT status::text, attempt, message, details, duration_ms FROM processing_log "
        "WHERE stage = CAST(:stage AS processing_stage) ORDER BY id",
        stage=stage,
    )
    return [tuple(row) for row in rows]


def test_stage_timer_logs_started_and_completed(
    head_db: str, runtime: Runtime, tmp_path: Path
) -> None:
    job_id, media_file_id = _job_and_file(runtime, tmp_path)
    records = DatabaseRecords(runtime.db)
    write = records.log

    with stage_timer(write, job_id, media_file_id, ProcessingStage.METADATA, attempt=2) as step:
        step.details["codecs"] = {"video": "h264"}
    records.flush()  # a closing row waits for the next write; the pipeline's last is finalize

    rows = _stage_rows(head_db, "metadata")
    assert rows[0] == ("started", 2, None, {}, None)
    status, attempt, message, details, duration_ms = rows[1]
    assert (status, attempt, message, details) == (
        "completed",
        2,
        None,
        {"codecs": {"video": "h264"}},
    )
    assert duration_ms is not None and duration_ms >= 0
    assert len(rows) == 2


def test_stage_timer_logs_failure_and_reraises(
    head_db: str, runtime: Runtime, tmp_path: Path
) -> None:
    job_id, media_file_id = _job_and_file(runtime, tmp_path)
    records = DatabaseRecords(runtime.db)
    write = records.log

    with (
        pytest.raises(InvalidInput, match="empty file"),
        stage_timer(write, job_id, media_file_id, ProcessingStage.VALIDATION) as step,
    ):
        step.details["checked"] = "header"
        raise InvalidInput("empty file", hint="0 bytes")

    with (
        pytest.raises(ZeroDivisionError),
        stage_timer(write, job_id, media_file_id, ProcessingStage.ANALYSIS),
    ):
        _ = 1 / 0
    records.flush()

    validation = _stage_rows(head_db, "validation")
    assert [r[0] for r in validation] == ["started", "failed"]
    _, _, message, details, duration_ms = validation[1]
    assert message == "empty file (0 bytes)"
    assert details == {
        "checked": "header",
        "error_type": "InvalidInput",
        "error_code": "invalid_input",
    }
    assert duration_ms is not None
    analysis = _stage_rows(head_db, "analysis")
    assert [r[0] for r in analysis] == ["started", "failed"]
    assert analysis[1][2] == "ZeroDivisionError: division by zero"
