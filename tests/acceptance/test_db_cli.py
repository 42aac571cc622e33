"""``mediaflow db`` from a user's point of view: real subprocesses, real servers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mediaflow.db import migrate
from tests.acceptance.cli import REPO, mediaflow
from tests.migration.helpers import query, run_sql

# the newest revision and the one before it (the tests do not hard-code the numbers)
HEAD, PREVIOUS = migrate.revisions_in_order()[-1], migrate.revisions_in_order()[-2]


def _one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert "Traceback" not in stderr
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_upgrade_current_and_downgrade(empty_db: str) -> None:
    env = {"MEDIAFLOW_DATABASE_URL": empty_db}
    assert mediaflow("db", "upgrade", env=env).returncode == 0
    done = mediaflow("db", "current", env=env)
    assert done.stdout.strip() == f"{HEAD} (head)"
    done = mediaflow("db", "downgrade", "-1", env=env)
    assert done.returncode == 0
    assert f"{PREVIOUS} (head is {HEAD})" in mediaflow("db", "current", env=env).stdout


def test_downgrade_to_an_unknown_revision(head_db: str) -> None:
    done = mediaflow("db", "downgrade", "abc123", env={"MEDIAFLOW_DATABASE_URL": head_db})
    assert done.returncode == 64
    assert "unknown revision 'abc123'" in _one_line_error(done.stderr)
    assert query(head_db, "SELECT version_num FROM alembic_version") == [(HEAD,)]


def test_unreachable_database() -> None:
    env = {"MEDIAFLOW_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere"}
    done = mediaflow("db", "current", env=env)
    assert done.returncode == 69
    line = _one_line_error(done.stderr)
    assert "cannot reach the database at postgresql+psycopg://postgres@127.0.0.1:1/nowhere" in line


def test_not_a_postgres_url() -> None:
    done = mediaflow("db", "current", env={"MEDIAFLOW_DATABASE_URL": "mysql://x@y/z"})
    assert done.returncode == 78
    assert "MEDIAFLOW_DATABASE_URL" in _one_line_error(done.stderr)


def test_missing_data_dir(tmp_path: Path) -> None:
    missing = tmp_path / "does-not-exist"
    done = mediaflow("db", "upgrade", env={"MEDIAFLOW_DATA_DIR": str(missing)})
    assert done.returncode == 78
    assert f"data directory {missing} does not exist" in _one_line_error(done.stderr)
    assert not missing.exists()


def test_embedded_default_brings_a_new_data_dir_to_head(data_dir: Path) -> None:
    """What `make run` does on a machine with no MEDIAFLOW_DATABASE_URL."""
    env = {"MEDIAFLOW_DATA_DIR": str(data_dir)}
    done = mediaflow("db", "upgrade", env=env)
    assert done.returncode == 0, done.stderr
    assert (data_dir / "pgdata" / "PG_VERSION").read_text().strip() == "18"
    # reused on the next run
    done = mediaflow("db", "verify", "--check-only", env=env)
    assert done.returncode == 0, done.stderr
    assert f"ok: schema matches revision {HEAD}" in done.stdout
    # the seed's alembic commands reach the same embedded database with no URL set
    import subprocess
    import sys

    base = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAFLOW_")}
    for args, expect in [(("current",), HEAD), (("downgrade", "-1"), None),
                         (("current",), PREVIOUS), (("upgrade", "head"), None),
                         (("current",), f"{HEAD} (head)")]:  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-m", "alembic", "-c", "alembic.ini", *args],
            cwd=REPO, env={**base, **env}, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        if expect:
            assert expect in done.stdout


def test_reset_refuses_without_yes(head_db: str) -> None:
    run_sql(head_db, ["INSERT INTO analysis_job (name) VALUES ('keep me')"])
    done = mediaflow("db", "reset", env={"MEDIAFLOW_DATABASE_URL": head_db})
    assert done.returncode == 77
    assert "--yes" in _one_line_error(done.stderr)
    assert query(head_db, "SELECT name FROM analysis_job") == [("keep me",)]


def test_reset_refuses_a_remote_server_without_force() -> None:
    from mediaflow.config import Settings
    from mediaflow.db.admin import is_development_url

    remote = Settings(database_url="postgresql://u@db.example.org/media_analysis")
    assert not is_development_url(remote.database_url or "", remote)
    local = Settings(database_url="postgresql://u@127.0.0.1/media_analysis")
    assert is_development_url(local.database_url or "", local)
    done = mediaflow(
        "db", "reset", "--yes",
        env={"MEDIAFLOW_DATABASE_URL": "postgresql://u@db.example.org/media_analysis"},
    )  # fmt: skip
    assert done.returncode == 77
    assert "refusing to reset" in _one_line_error(done.stderr)


def test_backup_reset_restore_gives_back_every_row(head_db: str, tmp_path: Path) -> None:
    env = {"MEDIAFLOW_DATABASE_URL": head_db}
    job = "33333333-3333-3333-3333-333333333333"
    media = "44444444-4444-4444-4444-444444444444"
    run_sql(
        head_db,
        [
            f"INSERT INTO analysis_job (id, name, metadata) VALUES ('{job}', 'backup me', '{{\"a\": 1}}')",
            f"INSERT INTO media_file (id, job_id, original_name, status) VALUES ('{media}', '{job}', 'x.mp4', 'completed')",
            f"INSERT INTO transcription (job_id, media_file_id, provider, text) VALUES ('{job}', '{media}', 'faster_whisper', 'hello')",
            f"INSERT INTO processing_log (job_id, media_file_id, stage, status, details) VALUES ('{job}', '{media}', 'metadata', 'completed', '{{\"ms\": 3}}')",
        ],
    )  # fmt: skip
    tables = ["analysis_job", "media_file", "analysis_result", "transcription", "processing_log"]
    before = {t: query(head_db, f"SELECT * FROM {t} ORDER BY id") for t in tables}

    done = mediaflow("db", "backup", "-o", str(tmp_path), env=env)
    assert done.returncode == 0, done.stderr
    dumps = list(tmp_path.glob("media_analysis_*.dump"))
    assert len(dumps) == 1

    done = mediaflow("db", "reset", "--yes", env=env)
    assert done.returncode == 0, done.stderr
    assert query(head_db, "SELECT count(*) FROM analysis_job") == [(0,)]

    done = mediaflow("db", "restore", str(dumps[0]), env=env)
    assert done.returncode == 0, done.stderr
    after = {t: query(head_db, f"SELECT * FROM {t} ORDER BY id") for t in tables}
    assert after == before
    assert mediaflow("db", "verify", "--check-only", env=env).returncode == 0


def test_restore_of_a_missing_file(head_db: str, tmp_path: Path) -> None:
    done = mediaflow(
        "db", "restore", str(tmp_path / "nope.dump"), env={"MEDIAFLOW_DATABASE_URL": head_db}
    )
    assert done.returncode == 66
    assert "does not exist" in _one_line_error(done.stderr)


@pytest.mark.parametrize("args", [("db", "downgrade"), ("db", "nonsense")])
def test_usage_errors_are_short(args: tuple[str, ...]) -> None:
    done = mediaflow(*args)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


def test_the_seed_pg_restore_command_reads_a_mediaflow_backup(
    server_url: str, head_db: str, tmp_path: Path
) -> None:
    """`pg_restore -d media_analysis <dump>` into a fresh database, as ROLLBACK.md says."""
    import subprocess

    from mediaflow.db.embedded import pg_bin_dir
    from mediaflow.db.session import libpq_url
    from tests.pg import scratch_database

    run_sql(head_db, ["INSERT INTO analysis_job (name) VALUES ('from the dump')"])
    done = mediaflow("db", "backup", "-o", str(tmp_path), env={"MEDIAFLOW_DATABASE_URL": head_db})
    assert done.returncode == 0, done.stderr
    (dump,) = tmp_path.glob("media_analysis_*.dump")
    with scratch_database(server_url) as target:
        restored = subprocess.run(
            [str(pg_bin_dir() / "pg_restore"), "-d", libpq_url(target), str(dump)],
            capture_output=True,
            text=True,
        )
        version = query(target, "SHOW server_version_num")[0][0]
        if int(version) >= 170000:
            assert restored.returncode == 0, restored.stderr
        else:  # the one documented error: SET transaction_timeout on servers before 17
            errors = [ln for ln in restored.stderr.splitlines() if "error:" in ln]
            assert len(errors) == 1 and "transaction_timeout" in errors[0], restored.stderr
        assert query(target, "SELECT name FROM analysis_job") == [("from the dump",)]
        assert query(target, "SELECT version_num FROM alembic_version") == [(HEAD,)]
