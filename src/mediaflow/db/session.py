"""One database: its URL, a pooled engine, the one session scope helper, error translation.

``Database`` is what the runtime hands down to everything that reads or writes: no
module below an edge opens an engine or picks a URL itself. ``resolve_url`` is the
single place that decides which PostgreSQL a configuration means: the configured
server, or the embedded one in the data directory (started on demand).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from mediaflow.config import Settings, normalise_database_url
from mediaflow.errors import DatabaseError, DatabaseUnavailable

__all__ = [
    "Database",
    "describe_url",
    "libpq_url",
    "resolve_url",
    "translate_db_errors",
]

# Starting or joining an embedded server costs a subprocess: once per process and cluster.
_embedded_urls: dict[Path, str] = {}
_embedded_lock = threading.Lock()


def resolve_url(settings: Settings) -> str:
    """The SQLAlchemy URL (``postgresql+psycopg://``) of the database ``settings`` mean.

    Starts (or joins) the embedded server when no ``MEDIAFLOW_DATABASE_URL`` is set.
    """
    if settings.database_url is not None:
        return settings.database_url
    pgdata = settings.pgdata_dir
    with _embedded_lock:
        url = _embedded_urls.get(pgdata)
        if url is None:
            from mediaflow.db.embedded import embedded_url

            settings.ensure_data_dir()
            url = _embedded_urls[pgdata] = normalise_database_url(embedded_url(pgdata))
    return url


def libpq_url(url: str) -> str:
    """``url`` as libpq understands it (for psycopg.connect, pg_dump, psql)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def describe_url(url: str) -> str:
    """A URL safe to print: the password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa_exc.ArgumentError:
        return "<unparseable URL>"


def _reason(exc: sa_exc.DBAPIError) -> str:
    return str(exc.orig or exc).strip().splitlines()[0]


@contextmanager
def translate_db_errors(url: str | None) -> Iterator[None]:
    """Turn driver errors into mediaflow errors with a one-line message.

    This is the one place where SQLAlchemy/psycopg errors become the project's errors.
    """
    try:
        yield
    except sa_exc.DBAPIError as exc:
        sqlstate = getattr(exc.orig, "sqlstate", None)
        # an OperationalError without SQLSTATE: the connection itself failed;
        # class 08: connection exceptions; 57P01/57P03: the server is going away
        lost = sqlstate is None and isinstance(exc, sa_exc.OperationalError)
        if lost or (sqlstate or "").startswith("08") or sqlstate in {"57P01", "57P03"}:
            where = f" at {describe_url(url)}" if url else ""
            raise DatabaseUnavailable(f"cannot reach the database{where}: {_reason(exc)}") from exc
        if sqlstate == "55P03":
            raise DatabaseError(
                f"lock timeout: {_reason(exc)}",
                hint="another transaction holds a lock on the table; retry when it ends",
            ) from exc
        raise DatabaseError(f"database error: {_reason(exc)}") from exc


class Database:
    """One PostgreSQL database: a pooled engine and short transactions on it.

    The engine is created on first use, so building a ``Database`` costs nothing.
    """

    def __init__(self, url: str) -> None:
        self.url = normalise_database_url(url)
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Database({describe_url(self.url)!r})"

    @property
    def engine(self) -> Engine:
        """The pooled engine of this database (created once)."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = sa.create_engine(
                        self.url,
                        pool_pre_ping=True,
                        connect_args={"connect_timeout": 10, "application_name": "mediaflow"},
                    )
                    self._sessions = sessionmaker(bind=self._engine, expire_on_commit=False)
        return self._engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error.

        Keep it short: no model or HTTP call inside.
        """
        self.engine  # noqa: B018 - creates the engine and the session factory once
        assert self._sessions is not None
        with translate_db_errors(self.url), self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def connect(self) -> Iterator[sa.Connection]:
        """A plain connection (autobegin; the caller commits) with errors translated."""
        with translate_db_errors(self.url), self.engine.connect() as connection:
            yield connection

    def libpq_url(self) -> str:
        """This database's URL as libpq understands it."""
        return libpq_url(self.url)

    def describe(self) -> str:
        """The URL with its password hidden."""
        return describe_url(self.url)

    def dispose(self) -> None:
        """Close every pooled connection (shutdown, forks, before dropping the database)."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
