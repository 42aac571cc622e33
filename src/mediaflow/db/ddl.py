"""DDL helpers for migrations: enum types and index builds that do not block writers.

Migrations import these (and nothing else of the application), so their behaviour
must stay stable: change them only in ways every existing revision still wants.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from mediaflow.errors import MigrationError


def create_enum(name: str, values: Sequence[str]) -> None:
    """CREATE TYPE name AS ENUM (...), explicitly (drop_table never drops a type)."""
    labels = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    op.execute(f"CREATE TYPE {name} AS ENUM ({labels})")


def drop_enum(name: str) -> None:
    """DROP TYPE IF EXISTS name (the tables using it must be gone)."""
    op.execute(f"DROP TYPE IF EXISTS {name}")


def _invalid(bind: sa.Connection, name: str) -> bool:
    row = bind.execute(
        sa.text(
            "SELECT NOT (i.indisvalid AND i.indisready) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = :name AND n.nspname = current_schema()"
        ),
        {"name": name},
    ).scalar()
    return bool(row)


def _drop_invalid(bind: sa.Connection, name: str) -> str:
    """Try to drop the INVALID index a failed build left; say what happened."""
    if not _invalid(bind, name):
        return "no index was left behind; re-run the upgrade"
    try:
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    except sa.exc.DBAPIError:
        return (
            f"the INVALID index {name} is still there (it could not be dropped now); "
            "re-running the upgrade drops and rebuilds it"
        )
    return f"the INVALID index {name} was dropped; re-run the upgrade"


def create_index_concurrently(
    name: str,
    table: str,
    columns: Sequence[str],
    *,
    using: str | None = None,
    where: str | None = None,
    ops: dict[str, str] | None = None,
    unique: bool = False,
) -> None:
    """Build an index with CREATE INDEX CONCURRENTLY, outside any transaction.

    Writers are not blocked while it builds. A concurrent build that fails leaves an
    INVALID index behind (IF NOT EXISTS alone would silently keep it): a leftover from an
    earlier failed run is dropped before building, and a build that fails now is
    reported as a MigrationError that names the index, after trying to drop it.
    """
    kwargs: dict[str, Any] = {}
    if using:
        kwargs["postgresql_using"] = using
    if where:
        kwargs["postgresql_where"] = sa.text(where)
    if ops:
        kwargs["postgresql_ops"] = ops
    context = op.get_context()
    with context.autocommit_block():
        if context.as_sql:  # offline: no catalog to read, emit the statement only
            op.create_index(
                name, table, list(columns), unique=unique,
                postgresql_concurrently=True, if_not_exists=True, **kwargs,
            )  # fmt: skip
            return
        bind = op.get_bind()
        if _invalid(bind, name):
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        try:
            op.create_index(
                name,
                table,
                list(columns),
                unique=unique,
                postgresql_concurrently=True,
                if_not_exists=True,
                **kwargs,
            )
        except sa.exc.DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise MigrationError(
                f"concurrent build of index {name} on {table} failed: {reason}",
                hint=_drop_invalid(bind, name),
            ) from exc
        if _invalid(bind, name):
            raise MigrationError(f"index {name} on {table} is INVALID after its concurrent build")


def drop_index_concurrently(name: str) -> None:
    """DROP INDEX CONCURRENTLY IF EXISTS, outside any transaction."""
    with op.get_context().autocommit_block():
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
