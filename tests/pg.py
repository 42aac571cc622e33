"""Real PostgreSQL servers for the tests: the machine's service and the embedded one.

Each test gets its own database: created empty, or from a template built once per
test session at head (``CREATE DATABASE ... TEMPLATE``), and dropped afterwards.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

SERVICE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def service_reachable() -> bool:
    """True when the machine's PostgreSQL answers on 127.0.0.1:5432."""
    try:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name``."""
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def execute_autocommit(url: str, *statements: str) -> None:
    """Run statements outside a transaction (CREATE/DROP DATABASE)."""
    engine = sa.create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.execute(sa.text(statement))
    finally:
        engine.dispose()


@contextmanager
def scratch_database(server_url: str, template: str | None = None) -> Iterator[str]:
    """A new database on the server of ``server_url``; dropped when the block ends."""
    name = f"mftest_{secrets.token_hex(5)}"
    clause = f' TEMPLATE "{template}"' if template else ""
    execute_autocommit(server_url, f'CREATE DATABASE "{name}"{clause}')
    try:
        yield with_database(server_url, name)
    finally:
        # WITH (FORCE): connections a test left open (a runtime's pool) do not block it
        execute_autocommit(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def head_database(server_url: str = SERVICE_URL) -> Iterator[str]:
    """A new database migrated to head (for a live server); dropped when the block ends."""
    from mediaflow.db import migrate

    with scratch_database(server_url) as url:
        migrate.upgrade("head", url)  # its connection is closed: the server holds the only ones
        yield url
