"""verify --check-only catches each kind of drift, naming the object."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from mediaflow.db import migrate, verify
from mediaflow.errors import MigrationError
from tests.migration.helpers import (
    OldSnapshot,
    autocommit_connection,
    query,
    run_sql,
    wait_for_waiting_build,
)

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


def _revision_2_indexes() -> list[tuple[str, str]]:
    """(index, table) of every concurrent build of revision 2, in its order."""
    path = REPO / "migrations" / "versions" / "000000000002_processing_log_indexes.py"
    spec = importlib.util.spec_from_file_location("revision_2", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [(name, table) for name, table, _columns, _kwargs in module.INDEXES]


def test_failed_build_without_a_lock_holder_rolls_back_to_revision_1(empty_db: str) -> None:
    """A build that fails for its own reason (here: cancelled while in progress) is undone.

    The old snapshot holds the build in progress without taking any lock, so the cleanup's
    DROP INDEX CONCURRENTLY and DROP TABLE go through at once.
    """
    migrate.upgrade("000000000001", empty_db)
    run_sql(
        empty_db,
        ["INSERT INTO analysis_job (name, metadata) SELECT 'j' || g, "
         "jsonb_build_object('k', g) FROM generate_series(1, 1000) g"],
    )  # fmt: skip
    pin = OldSnapshot(empty_db)
    with ThreadPoolExecutor(1) as pool, autocommit_connection(empty_db) as watch:
        upgrade = pool.submit(migrate.upgrade, "head", empty_db)
        try:
            build = wait_for_waiting_build(watch, upgrade)
            assert build.index == "ix_analysis_job_metadata_gin"
            watch.execute(sa.text("SELECT pg_cancel_backend(:pid)"), {"pid": build.pid})
            with pytest.raises(MigrationError, match="ix_analysis_job_metadata_gin") as raised:
                upgrade.result(timeout=600)
        finally:
            pin.release()
    assert "canceling statement due to user request" in str(raised.value)
    assert "was dropped" in str(raised.value)
    assert migrate.current(empty_db) == "000000000001"
    report = verify.check(empty_db)
    assert report.ok, report.differences
    migrate.upgrade("head", empty_db)
    assert verify.check(empty_db).ok


def _write_now(url: str, table: str) -> None:
    """Take the lock every INSERT/UPDATE/DELETE on ``table`` takes (an INSERT on
    analysis_job), and commit. The bound only turns a blocked writer into a failure."""
    insert = (
        ["INSERT INTO analysis_job (name) VALUES ('during')"] if table == "analysis_job" else []
    )
    run_sql(
        url,
        ["SET LOCAL lock_timeout = '60s'", f"LOCK TABLE {table} IN ROW EXCLUSIVE MODE", *insert],
    )


def test_writes_go_on_while_each_index_builds(empty_db: str) -> None:
    """While each of revision 2's builds is in progress, its table takes writes.

    Each build is held in progress by an old snapshot (no lock), and a writer of its table
    commits then; a build that blocked writers (or was not concurrent) fails the test.
    """
    migrate.upgrade("000000000001", empty_db)
    run_sql(
        empty_db,
        ["INSERT INTO analysis_job (name, metadata) SELECT 'job ' || g, "
         "jsonb_build_object('n', g, 'tags', jsonb_build_array('a', g::text)) "
         "FROM generate_series(1, 20000) g"],
    )  # fmt: skip
    expected = _revision_2_indexes()
    written: list[tuple[str, str]] = []
    pins = [OldSnapshot(empty_db)]
    with ThreadPoolExecutor(1) as pool, autocommit_connection(empty_db) as watch:
        upgrade = pool.submit(migrate.upgrade, "000000000002", empty_db)
        try:
            for _ in expected:
                build = wait_for_waiting_build(watch, upgrade, skip=[i for i, _ in written])
                _write_now(empty_db, build.table)
                written.append((build.index, build.table))
                pins.append(OldSnapshot(empty_db))  # taken now: it holds the next build
                pins.pop(0).release()
        finally:
            for pin in pins:
                pin.release()
        upgrade.result(timeout=600)
    assert written == expected
    assert query(empty_db, "SELECT count(*) FROM analysis_job WHERE name = 'during'") == [
        (len([t for _, t in expected if t == "analysis_job"]),)
    ]
    assert migrate.current(empty_db) == "000000000002"
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
