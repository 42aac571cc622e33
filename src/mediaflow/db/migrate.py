"""Alembic commands run programmatically, with one-line errors instead of tracebacks.

``mediaflow db upgrade|downgrade|current|stamp`` and the test suite call these; the
``alembic -c alembic.ini ...`` command line does the same through migrations/env.py.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import exc as sa_exc

from mediaflow.db.session import Database, translate_db_errors
from mediaflow.errors import MediaflowError, MigrationError, UnknownRevision


@lru_cache(maxsize=1)
def project_root() -> Path:
    """The directory holding alembic.ini and migrations/ (MEDIAFLOW_PROJECT_ROOT overrides)."""
    override = os.environ.get("MEDIAFLOW_PROJECT_ROOT")
    candidates = [Path(override)] if override else []
    candidates += [Path(__file__).resolve().parents[3], Path.cwd()]
    for candidate in candidates:
        if (candidate / "alembic.ini").is_file() and (candidate / "migrations").is_dir():
            return candidate
    raise MigrationError(
        "cannot find alembic.ini and migrations/",
        hint="run from the mediaflow checkout or set MEDIAFLOW_PROJECT_ROOT",
    )


# Fail fast instead of queueing behind a long transaction and blocking every writer.
DEFAULT_LOCK_TIMEOUT_MS = 5000


def alembic_config(url: str, lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS) -> Config:
    """An Alembic Config for the project's migrations, bound to ``url``."""
    root = project_root()
    config = Config(str(root / "alembic.ini"))
    config.attributes["database_url"] = url
    config.attributes["lock_timeout_ms"] = lock_timeout_ms
    config.attributes["configure_logger"] = False
    return config


def script_directory() -> ScriptDirectory:
    """The migration scripts, without touching any database."""
    config = Config(str(project_root() / "alembic.ini"))
    return ScriptDirectory.from_config(config)


def head_revision() -> str:
    """The newest revision of the migration scripts."""
    head = script_directory().get_current_head()
    if head is None:
        raise MigrationError("no migration scripts found")
    return head


def revisions_in_order() -> list[str]:
    """Every revision id, oldest first."""
    return [rev.revision for rev in reversed(list(script_directory().walk_revisions()))]


@contextmanager
def _alembic_errors(url: str) -> Iterator[None]:
    try:
        with translate_db_errors(url):
            yield
    except MediaflowError:
        raise
    except CommandError as exc:
        message = str(exc).strip().splitlines()[0]
        if "Can't locate revision" in message or "No such revision" in message:
            raise UnknownRevision(message, hint="`mediaflow db history` lists them") from exc
        raise MigrationError(message) from exc
    except sa_exc.SQLAlchemyError as exc:
        orig = getattr(exc, "orig", None)
        reason = str(orig or exc).strip().splitlines()[0]
        raise MigrationError(f"migration failed: {reason}") from exc


def check_revision(revision: str) -> None:
    """Raise UnknownRevision unless ``revision`` names a revision (or head/base/relative)."""
    if revision in {"head", "heads", "base"} or revision.startswith(("-", "+")):
        return
    try:
        found = script_directory().get_revision(revision)
    except CommandError as exc:
        raise UnknownRevision(f"unknown revision {revision!r}") from exc
    if found is None:
        raise UnknownRevision(f"unknown revision {revision!r}")


def upgrade(revision: str, url: str, *, lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS) -> None:
    """alembic upgrade ``revision``."""
    check_revision(revision)
    config = alembic_config(url, lock_timeout_ms)
    with _alembic_errors(config.attributes["database_url"]):
        command.upgrade(config, revision)


def downgrade(revision: str, url: str, *, lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS) -> None:
    """alembic downgrade ``revision`` (``-1``, a revision id, or ``base``)."""
    check_revision(revision)
    config = alembic_config(url, lock_timeout_ms)
    with _alembic_errors(config.attributes["database_url"]):
        command.downgrade(config, revision)


def stamp(revision: str, url: str, *, lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS) -> None:
    """alembic stamp ``revision``: record it as applied without running anything."""
    check_revision(revision)
    config = alembic_config(url, lock_timeout_ms)
    with _alembic_errors(config.attributes["database_url"]):
        command.stamp(config, revision)


def current(db: Database | str) -> str | None:
    """The revision recorded in alembic_version (None when there is none).

    A ``Database`` is read through its pool; a URL through a connection of its own.
    """
    from alembic.runtime.migration import MigrationContext

    database = db if isinstance(db, Database) else Database(db)
    try:
        with _alembic_errors(database.url), database.connect() as connection:
            heads = MigrationContext.configure(connection).get_current_heads()
    finally:
        if database is not db:
            database.dispose()
    return heads[0] if heads else None


def upgrade_sql(start: str = "base", end: str = "head") -> str:
    """The SQL that ``alembic upgrade start:end --sql`` would run (for linting)."""
    config = Config(str(project_root() / "alembic.ini"))
    config.attributes["configure_logger"] = False
    config.attributes["lock_timeout_ms"] = DEFAULT_LOCK_TIMEOUT_MS
    buffer = io.StringIO()
    config.output_buffer = buffer
    with redirect_stdout(buffer):
        command.upgrade(config, f"{start}:{end}", sql=True)
    return buffer.getvalue()
