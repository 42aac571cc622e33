"""Small helpers for the migration tests."""

from __future__ import annotations

from collections.abc import Iterable
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
