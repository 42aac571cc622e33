"""The manual SQL of docs/ROLLBACK.md, read from the doc, does what alembic downgrade does."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from mediaflow.db import migrate, verify
from tests.migration.helpers import query, run_sql, snapshot
from tests.migration.rollback_doc import DOC, sql_block_after, statements
from tests.pg import execute_autocommit, scratch_database, with_database

REPO = Path(__file__).resolve().parents[2]


# Newest first, as the doc says to roll back. Revision 3's block is one PL/pgSQL-bearing
# script (run whole); the others are lists of plain statements.
# every revision, newest first (the doc must have a section for each: see below)
REVISIONS = migrate.revisions_in_order()[::-1]


def _manual_rollback(url: str, revision: str) -> None:
    block = sql_block_after(f"#### Rollback Migration {revision}")
    run_sql(url, [block] if revision == "000000000003" else statements(block))


def test_the_doc_covers_every_revision() -> None:
    assert REVISIONS[0] == migrate.head_revision()
    text = DOC.read_text()
    for revision in REVISIONS:
        assert f"#### Rollback Migration {revision} (" in text, revision
        assert f"| {revision} |" in text, revision  # the history table
    assert f"newest first: {REVISIONS[0]}," in " ".join(text.split())


@pytest.mark.parametrize("revision", REVISIONS)
def test_manual_rollback_equals_alembic(server_url: str, head_db: str, revision: str) -> None:
    """Running the doc's blocks from head down to `revision` == alembic downgrade to before it."""
    target = REVISIONS[REVISIONS.index(revision) + 1] if revision != REVISIONS[-1] else "base"
    with scratch_database(server_url) as reference:
        migrate.upgrade("head", reference)
        migrate.downgrade(target, reference)
        expected = snapshot(reference)
    for rev in REVISIONS[: REVISIONS.index(revision) + 1]:
        _manual_rollback(head_db, rev)
    assert snapshot(head_db) == expected
    report = verify.check(head_db)
    assert report.ok, report.differences
    # and it can be upgraded again
    migrate.upgrade("head", head_db)
    assert verify.check(head_db).ok


def test_manual_version_insert_recovers(empty_db: str) -> None:
    migrate.upgrade("000000000001", empty_db)
    run_sql(empty_db, ["DELETE FROM alembic_version"])
    text = DOC.read_text()
    insert = text.split("3. Or manually insert version:", 1)[1]
    run_sql(empty_db, statements(insert.split("```sql\n", 1)[1].split("```", 1)[0]))
    assert migrate.current(empty_db) == "000000000001"
    migrate.upgrade("head", empty_db)
    assert verify.check(empty_db).ok


def test_full_reset_block_on_the_service(server_url: str) -> None:
    """The nuclear option's SQL, on a database named for the test instead of media_analysis."""
    if "127.0.0.1:5432" not in server_url:
        pytest.skip("the block needs a role and uuid-ossp: the service has both")
    block = sql_block_after("## Full Database Reset")
    # a name of its own: another test session on the same server runs this block too
    name = f"mftest_nuclear_{secrets.token_hex(4)}"
    sql = re.sub(r"\bmedia_analysis\b", name, block).replace(
        "media_analysis_user", "mftest_media_analysis_user"
    )
    before_connect, after_connect = sql.split("\\c ", 1)
    execute_autocommit(
        server_url,
        "DO $$ BEGIN CREATE ROLE mftest_media_analysis_user LOGIN; "
        "EXCEPTION WHEN duplicate_object THEN NULL; END $$",
    )
    execute_autocommit(server_url, *statements(before_connect))
    url = with_database(server_url, name)
    try:
        execute_autocommit(url, *statements(after_connect.split("\n", 1)[1]))
        migrate.upgrade("head", url)
        assert verify.check(url).ok
        owner = query(
            url, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = :n", n=name
        )
        assert owner == [("mftest_media_analysis_user",)]
    finally:
        # WITH (FORCE): every connection above was closed, but one left open must not block it
        execute_autocommit(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _alembic(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MEDIAFLOW_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "alembic", "-c", "alembic.ini", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_seed_alembic_commands_from_the_repo_root(empty_db: str) -> None:
    for args, expect in [
        (("upgrade", "head"), REVISIONS[0]),
        (("current",), REVISIONS[0]),
        (("downgrade", "-1"), REVISIONS[1]),
        (("upgrade", "head"), REVISIONS[0]),
        (("downgrade", "000000000001"), "000000000001"),
        (("downgrade", "base"), None),
        (("stamp", "000000000001"), "000000000001"),
    ]:
        done = _alembic(empty_db, *args)
        assert done.returncode == 0, done.stderr
        assert migrate.current(empty_db) == expect, args
    done = _alembic(empty_db, "current")
    assert "000000000001" in done.stdout
