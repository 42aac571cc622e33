"""``GET /workers`` (``services.workers.list_workers``) shows this database's workers only.

Two mediaflow databases on one PostgreSQL server both number their workers from 1;
the presence connections of both are in the server-wide ``pg_stat_activity``. Found by
two test suites running side by side: one listed the other's worker as its own.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import psycopg

from mediaflow.pipeline.fleet import presence_name
from mediaflow.services.workers import list_workers
from tests.conftest import make_runtime
from tests.pg import scratch_database


def _register(url: str, pid: int, stack: ExitStack) -> int:
    """A worker row and its held presence connection, as a running worker keeps them."""
    libpq = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(libpq, autocommit=True) as connection:
        row = connection.execute(
            "INSERT INTO procrastinate_workers DEFAULT VALUES RETURNING id"
        ).fetchone()
    assert row is not None
    worker_id = int(row[0])
    name = presence_name(worker_id, pid, 1, ["image"])
    stack.enter_context(psycopg.connect(libpq, autocommit=True, application_name=name))
    return worker_id


def test_only_this_databases_presence_counts(
    head_db: str, server_url: str, head_template: str, tmp_path: Path
) -> None:
    with ExitStack() as stack:
        other_db = stack.enter_context(scratch_database(server_url, template=head_template))
        mine = _register(head_db, 1111, stack)
        theirs = _register(other_db, 2222, stack)  # the same id, a newer connection
        assert mine == theirs == 1
        with make_runtime(head_db, tmp_path) as runtime:
            (worker,) = list_workers(runtime)
        assert (worker.id, worker.pid, worker.alive) == (1, 1111, True)
