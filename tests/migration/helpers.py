"""Small helpers for the migration tests."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from mediaflow.db.verify import live_snapshot


def run_sql(url: str, statements: Iterable[str], autocommit: bool = False) -> None:
    """Run statements on ``url`` (one transaction unless autocommit)."""
    engine = sa.create_engine(
        url, poolclass=NullPool, isolation_level="AUTOCOMMIT" if autocommit else None
    )
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(sa.text(statement))
    finally:
        engine.dispose()


def query(url: str, sql: str, **params: Any) -> list[Any]:
    """Rows of one query."""
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return list(connection.execute(sa.text(sql), params).all())
    finally:
        engine.dispose()


def snapshot(url: str) -> dict[str, Any]:
    """Full catalog snapshot, index definitions included."""
    return live_snapshot(url)


# CREATE INDEX CONCURRENTLY [IF NOT EXISTS] name ON [ONLY] table ...
_BUILD = re.compile(
    r"CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)\s+ON\s+(?:ONLY\s+)?(\w+)",
    re.IGNORECASE,
)


class OldSnapshot:
    """A REPEATABLE READ transaction that holds a snapshot and no lock on any table.

    Every CREATE INDEX CONCURRENTLY that starts while it is open waits for it in its last
    phase, after the index is built. So a build can be caught "in progress" however fast
    this machine is, and it goes on the moment the snapshot is released.
    """

    def __init__(self, url: str) -> None:
        self._engine = sa.create_engine(url, poolclass=NullPool, isolation_level="REPEATABLE READ")
        self._connection = self._engine.connect()
        self._connection.execute(sa.text("SELECT 1"))  # takes the transaction's snapshot

    def release(self) -> None:
        """End the transaction; a build waiting for it goes on."""
        with contextlib.suppress(sa.exc.DBAPIError):  # its backend may have been ended
            self._connection.rollback()
        self._connection.close()
        self._engine.dispose()


@dataclass(frozen=True)
class WaitingBuild:
    """A concurrent index build seen waiting for an old snapshot."""

    pid: int
    index: str
    table: str


def wait_for_waiting_build(
    watch: sa.Connection, running: Future[Any], skip: Iterable[str] = (), bound_s: float = 600
) -> WaitingBuild:
    """The next concurrent build (not in ``skip``) that waits for an old snapshot.

    ``watch`` is an AUTOCOMMIT connection, so each poll reads pg_stat_activity afresh.
    Fails at once if ``running`` (the upgrade) ends first; ``bound_s`` only guards a hang.
    """
    skipped = set(skip)
    deadline = time.monotonic() + bound_s
    sql = sa.text(
        "SELECT pid, query FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND wait_event = 'virtualxid'"
    )
    while True:
        for pid, text in watch.execute(sql).all():
            found = _BUILD.search(text or "")
            if found and found.group(1) not in skipped:
                return WaitingBuild(pid, found.group(1), found.group(2))
        if running.done():
            running.result()  # its own error first, if it had one
            raise AssertionError("the upgrade ended without a build waiting for the snapshot")
        if time.monotonic() > deadline:
            raise AssertionError(f"no concurrent build waited within {bound_s} s")
        time.sleep(0.05)


@contextlib.contextmanager
def autocommit_connection(url: str) -> Iterator[sa.Connection]:
    """One AUTOCOMMIT connection to ``url``."""
    engine = sa.create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()
