"""verify --check-only catches each kind of drift, naming the object."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from mediaflow.db import migrate, verify
from mediaflow.errors import MigrationError
from tests.migration.helpers import query, run_sql

REPO = Path(__file__).resolve().parents[2]


def _verify_cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MEDIAFLOW_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "migrations/verify_migrations.py", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_clean_database_passes_with_one_line(head_db: str) -> None:
    done = _verify_cli(head_db, "--check-only")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith(f"ok: schema matches revision {migrate.head_revision()}")
    assert len(done.stdout.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("drift", "expected"),
    [
        (["DROP INDEX ix_media_file_status_active"], "index ix_media_file_status_active: missing"),
        (
            [
                "DROP INDEX ix_transcription_provider_active",
                "CREATE INDEX ix_transcription_provider_active ON transcription (provider)",
            ],
            "index ix_transcription_provider_active: predicate differs",
        ),
        (["ALTER TYPE job_status ADD VALUE 'paused'"], "enum type job_status: values differ (extra 'paused')"),
        (["ALTER TABLE media_file DROP COLUMN fps"], "column media_file.fps: missing"),
        (["UPDATE alembic_version SET version_num = '000000000001'"], "alembic version"),
        (["UPDATE alembic_version SET version_num = 'feedbeef0000'"], "feedbeef0000 is not a known revision"),
        (["ALTER TABLE media_file DROP CONSTRAINT media_file_job_id_fkey"], "constraint media_file.media_file_job_id_fkey: missing"),
        (["DROP INDEX ix_analysis_result_result_gin",
          "CREATE INDEX ix_analysis_result_result_gin ON analysis_result USING gin (result)"],
         "index ix_analysis_result_result_gin: opclasses differs"),
    ],
)  # fmt: skip
def test_drift_is_reported(head_db: str, drift: list[str], expected: str) -> None:
    run_sql(head_db, drift, autocommit=True)
    report = verify.check(head_db)
    assert not report.ok
    assert any(expected in line for line in report.differences), report.differences
    done = _verify_cli(head_db, "--check-only")
    assert done.returncode == 1
    assert expected in done.stderr
    assert "Traceback" not in done.stderr


def test_wrong_version_names_the_revision_the_schema_has(head_db: str) -> None:
    run_sql(head_db, ["UPDATE alembic_version SET version_num = '000000000001'"])
    first = verify.check(head_db).differences[0]
    assert f"records 000000000001 but its schema is that of {migrate.head_revision()}" in first


def test_invalid_index_from_a_failed_concurrent_build(head_db: str) -> None:
    # A real failed CREATE INDEX CONCURRENTLY: a unique build over duplicate rows.
    run_sql(
        head_db,
        [
            "INSERT INTO analysis_job (name, status) VALUES ('a', 'completed'), ('b', 'completed')",
            "DROP INDEX ix_analysis_job_status_created",
        ],
    )
    with pytest.raises(sa.exc.IntegrityError):
        run_sql(
            head_db,
            ["CREATE UNIQUE INDEX CONCURRENTLY ix_analysis_job_status_created "
             "ON analysis_job (status, created_at)"],
            autocommit=True,
        )  # fmt: skip
    assert query(
        head_db,
        "SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_analysis_job_status_created'::regclass",
    ) == [(False,)]
    report = verify.check(head_db)
    assert any("ix_analysis_job_status_created: INVALID" in line for line in report.differences)


def test_upgrade_detects_a_failed_concurrent_build_and_cleans_up(empty_db: str) -> None:
    migrate.upgrade("000000000001", empty_db)
    run_sql(
        empty_db,
        ["INSERT INTO analysis_job (name) SELECT 'job ' || g FROM generate_series(1, 500) g"],
    )
    # A writer that keeps its transaction open: the concurrent build must wait for it
    # (it does not block the writer), and gives up after lock_timeout.
    engine = sa.create_engine(empty_db, poolclass=NullPool)
    connection = engine.connect()
    transaction = connection.begin()
    # (on transcription: creating processing_log's foreign keys briefly locks analysis_job
    # and media_file against writers, which lock_timeout bounds as well)
    # the lock every INSERT/UPDATE/DELETE on transcription holds until its transaction ends
    connection.execute(sa.text("LOCK TABLE transcription IN ROW EXCLUSIVE MODE"))
    try:
        with pytest.raises(
            MigrationError, match="concurrent build of index ix_transcription_segments_gin"
        ):
            migrate.upgrade("head", empty_db, lock_timeout_ms=500)
        # the writer was never blocked: it can still write while the build waits for it
        connection.execute(sa.text("INSERT INTO analysis_job (name) VALUES ('during')"))
    finally:
        transaction.commit()
        connection.close()
        engine.dispose()
    # The writer still held its lock, so nothing could be dropped: the half-done revision
    # is visible to verify, and re-running the upgrade resumes and completes it.
    assert migrate.current(empty_db) == "000000000001"
    report = verify.check(empty_db)
    assert "index ix_transcription_segments_gin: INVALID" in " ".join(report.differences)
    assert "table processing_log: unexpected" in report.differences
    migrate.upgrade("head", empty_db)
    assert verify.check(empty_db).ok
    assert query(empty_db, "SELECT count(*) FROM pg_index WHERE NOT indisvalid") == [(0,)]


def _cancel_build_when_it_waits(
    url: str, index: str, holder_pid: int, done: threading.Event
) -> list[str]:
    """Start a thread that cancels the concurrent build of `index` once it waits.

    The build waits for an old snapshot the test holds, so it is seen waiting however
    fast the machine is; the cancel is the build's own failure. Returns a list the
    thread appends "cancelled" or what went wrong to. If the build is never seen waiting,
    the snapshot's backend is ended after a generous bound, so the test fails, not hangs.
    """
    outcome: list[str] = []
    sql = sa.text(
        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND wait_event = 'virtualxid' AND query ILIKE :pattern"
    )

    def watch() -> None:
        engine = sa.create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                deadline = time.monotonic() + 600
                # each statement reads pg_stat_activity afresh (autocommit: no snapshot)
                while not done.wait(0.05):
                    if connection.execute(sql, {"pattern": f"%CONCURRENTLY%{index}%"}).first():
                        outcome.append("cancelled")
                        return
                    if time.monotonic() > deadline:
                        outcome.append("the build was never seen waiting")
                        connection.execute(
                            sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": holder_pid}
                        )
                        return
        except BaseException as exc:  # reported by the test, not lost in the thread
            outcome.append(repr(exc))
        finally:
            engine.dispose()

    threading.Thread(target=watch, daemon=True).start()
    return outcome


def test_failed_build_without_a_lock_holder_rolls_back_to_revision_1(empty_db: str) -> None:
    """A build that fails for its own reason (here: cancelled while it waits) is undone.

    The old snapshot only makes the build wait, at its end; it holds no lock on any
    table, so the cleanup's DROP INDEX CONCURRENTLY and DROP TABLE go through at once.
    """
    migrate.upgrade("000000000001", empty_db)
    run_sql(
        empty_db,
        ["INSERT INTO analysis_job (name, metadata) SELECT 'j' || g, "
         "jsonb_build_object('k', g) FROM generate_series(1, 1000) g"],
    )  # fmt: skip
    engine = sa.create_engine(empty_db, poolclass=NullPool, isolation_level="REPEATABLE READ")
    snapshot = engine.connect()
    # takes the snapshot; no table is touched
    holder_pid = snapshot.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    done = threading.Event()
    outcome = _cancel_build_when_it_waits(
        empty_db, "ix_analysis_job_metadata_gin", holder_pid, done
    )
    try:
        with pytest.raises(MigrationError, match="ix_analysis_job_metadata_gin") as raised:
            migrate.upgrade("head", empty_db)
        assert "canceling statement due to user request" in str(raised.value)
        assert "was dropped" in str(raised.value)
    finally:
        done.set()
        with contextlib.suppress(sa.exc.DBAPIError):  # ended by the watcher's bound
            snapshot.rollback()
        snapshot.close()
        engine.dispose()
    assert outcome == ["cancelled"]
    assert migrate.current(empty_db) == "000000000001"
    report = verify.check(empty_db)
    assert report.ok, report.differences
    migrate.upgrade("head", empty_db)
    assert verify.check(empty_db).ok


def test_writes_go_on_while_indexes_build(empty_db: str) -> None:
    """Inserts into a populated table succeed while revision 2 builds its indexes."""
    migrate.upgrade("000000000001", empty_db)
    run_sql(
        empty_db,
        ["INSERT INTO analysis_job (name, metadata) SELECT 'job ' || g, "
         "jsonb_build_object('n', g, 'tags', jsonb_build_array('a', g::text)) "
         "FROM generate_series(1, 200000) g"],
    )  # fmt: skip
    stop = threading.Event()
    written: list[int] = []
    errors: list[BaseException] = []

    def writer() -> None:
        engine = sa.create_engine(empty_db, poolclass=NullPool)
        try:
            with engine.connect() as connection:
                connection.execute(sa.text("SET lock_timeout = 2000"))
                while not stop.is_set():
                    connection.execute(sa.text("INSERT INTO analysis_job (name) VALUES ('w')"))
                    connection.commit()
                    written.append(1)
        except BaseException as exc:
            errors.append(exc)
        finally:
            engine.dispose()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        migrate.upgrade("head", empty_db)
    finally:
        stop.set()
        thread.join(30)
    assert errors == []
    assert len(written) > 0
    assert verify.check(empty_db).ok


def test_round_trip_mode(head_db: str) -> None:
    done = _verify_cli(head_db)
    assert done.returncode == 0, done.stderr
    assert "round trip" in done.stdout


def test_squawk_lints_the_migration_sql(tmp_path: Path) -> None:
    # revision 3 is procrastinate's own schema, copied as shipped: not ours to restyle
    sql = migrate.upgrade_sql("base", "000000000002") + migrate.upgrade_sql("000000000003", "head")
    assert "CREATE INDEX CONCURRENTLY" in sql
    path = tmp_path / "upgrade.sql"
    path.write_text(sql)
    squawk = Path(sys.executable).parent / "squawk"
    done = subprocess.run(
        [str(squawk), "--config", str(REPO / ".squawk.toml"), str(path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    # squawk exits 0 on warnings: read its summary line instead
    assert "Found 0 issues" in done.stdout + done.stderr, done.stdout + done.stderr
