"""Engines, the one session scope helper, and translation of driver errors.

``database_url()`` is the single place that decides which PostgreSQL mediaflow
talks to: the configured server, or the embedded one in the data directory.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from mediaflow.config import Settings, get_settings, normalise_database_url
from mediaflow.errors import DatabaseError, DatabaseUnavailable, DataDirError

_engines: dict[str, Engine] = {}
_embedded_urls: dict[Path, str] = {}
_engines_lock = threading.Lock()


def ensure_data_dir(settings: Settings) -> Path:
    """Return the data directory, creating the default one; a configured one must exist."""
    data_dir = settings.data_dir
    explicit = "data_dir" in settings.model_fields_set
    if not data_dir.exists():
        if explicit:
            raise DataDirError(
                f"data directory {data_dir} does not exist",
                hint="create it, or unset MEDIAFLOW_DATA_DIR to use the default",
            )
        data_dir.mkdir(parents=True, exist_ok=True)
    if not data_dir.is_dir():
        raise DataDirError(f"data directory {data_dir} is not a directory")
    if not os.access(data_dir, os.W_OK):
        raise DataDirError(f"data directory {data_dir} is not writable")
    return data_dir


def database_url(settings: Settings | None = None) -> str:
    """The SQLAlchemy URL (``postgresql+psycopg://``) of the database to use.

    Starts the embedded server when no ``MEDIAFLOW_DATABASE_URL`` is set.
    """
    settings = settings or get_settings()
    if settings.database_url is not None:
        return settings.database_url
    pgdata = settings.pgdata_dir
    # starting or joining the embedded server costs a subprocess: once per process
    url = _embedded_urls.get(pgdata)
    if url is None:
        from mediaflow.db.embedded import embedded_url

        ensure_data_dir(settings)
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


def get_engine(url: str | None = None) -> Engine:
    """One pooled engine per URL for the life of the process."""
    url = url or database_url()
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = sa.create_engine(
                url,
                pool_pre_ping=True,
                connect_args={"connect_timeout": 10, "application_name": "mediaflow"},
            )
            _engines[url] = engine
        return engine


def dispose_engines() -> None:
    """Close every pooled connection (tests, forks, shutdown)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def _reason(exc: sa_exc.DBAPIError) -> str:
    return str(exc.orig or exc).strip().splitlines()[0]


@contextmanager
def translate_db_errors(url: str | None = None) -> Iterator[None]:
    """Turn driver errors into mediaflow errors with a one-line message."""
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


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on error.

    Keep it short: no model or HTTP call inside.
    """
    engine = get_engine(url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with translate_db_errors(url), factory() as session, session.begin():
        yield session
