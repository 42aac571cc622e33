"""psycopg connection pools for short single-statement work: the queue and fast reads.

procrastinate's own pools cost three extra round trips per statement: each checkout
runs an empty query to prove the connection is alive, and each statement runs in
its own ``BEGIN`` ... ``COMMIT``. Every queue statement (defer, fetch, finish) and
every fast read is a single statement, so the transaction adds nothing; and a
connection handed back a moment ago is as alive as a check would show. These pools

- run their connections in autocommit (set by ``configure``, not by a connection
  keyword: procrastinate opens its LISTEN connection with the pool's keywords plus
  its own ``autocommit=True``);
- check a connection on checkout only when it sat in the pool for at least
  ``CHECK_IDLE_S`` (a server restart while it was idle is still noticed before use).

Used by ``mediaflow.queue`` (defers), ``mediaflow.pipeline.worker`` (the worker's App)
and the API's fast reads.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import psycopg_pool

from mediaflow.errors import DatabaseError, DatabaseUnavailable

__all__ = [
    "CHECK_IDLE_S",
    "ReadPool",
    "async_pool",
    "async_pool_factory",
    "sync_pool",
]

# A connection idle at least this long is checked before it is handed out again.
CHECK_IDLE_S = 2.0

# When each connection went back to its pool (weak: a closed connection just drops out).
_returned: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


def _idle_too_long(conn: Any) -> bool:
    returned = _returned.get(conn)
    return returned is None or time.monotonic() - returned >= CHECK_IDLE_S


def _sync_configure(conn: psycopg.Connection[Any]) -> None:
    conn.autocommit = True


def _sync_reset(conn: psycopg.Connection[Any]) -> None:
    _returned[conn] = time.monotonic()


def _sync_check(conn: psycopg.Connection[Any]) -> None:
    if _idle_too_long(conn):
        psycopg_pool.ConnectionPool.check_connection(conn)


async def _async_configure(conn: psycopg.AsyncConnection[Any]) -> None:
    await conn.set_autocommit(True)


async def _async_reset(conn: psycopg.AsyncConnection[Any]) -> None:
    _returned[conn] = time.monotonic()


async def _async_check(conn: psycopg.AsyncConnection[Any]) -> None:
    if _idle_too_long(conn):
        await psycopg_pool.AsyncConnectionPool.check_connection(conn)


def sync_pool(
    conninfo: str, *, min_size: int = 1, max_size: int = 4, name: str = "mediaflow"
) -> psycopg_pool.ConnectionPool:
    """An unopened thread-safe pool of autocommit connections, checked only when idle."""
    return psycopg_pool.ConnectionPool(
        conninfo,
        min_size=min_size,
        max_size=max_size,
        open=False,
        name=name,
        configure=_sync_configure,
        reset=_sync_reset,
        check=_sync_check,
    )


def async_pool(
    conninfo: str, *, min_size: int = 1, max_size: int = 4, name: str = "mediaflow"
) -> psycopg_pool.AsyncConnectionPool:
    """An unopened asyncio pool of autocommit connections, checked only when idle."""
    return psycopg_pool.AsyncConnectionPool(
        conninfo,
        min_size=min_size,
        max_size=max_size,
        open=False,
        name=name,
        configure=_async_configure,
        reset=_async_reset,
        check=_async_check,
    )


def async_pool_factory() -> Callable[..., psycopg_pool.AsyncConnectionPool]:
    """A ``pool_factory`` for procrastinate's ``PsycopgConnector`` building ``async_pool``s.

    procrastinate passes its pool arguments plus ``open=False`` and its own
    checkout ``check``; ours replaces that check and adds autocommit.
    """

    def factory(**kwargs: Any) -> psycopg_pool.AsyncConnectionPool:
        kwargs.pop("check", None)
        kwargs.pop("open", None)
        conninfo = kwargs.pop("conninfo", "")
        return psycopg_pool.AsyncConnectionPool(
            conninfo,
            open=False,
            configure=_async_configure,
            reset=_async_reset,
            check=_async_check,
            **kwargs,
        )

    return factory


class ReadPool:
    """An ``async_pool`` opened on first use in the running event loop (the API's reads).

    Building one costs nothing; ``connection()`` opens it once and hands out a
    connection with psycopg's errors turned into mediaflow's.
    """

    def __init__(self, conninfo: str, *, max_size: int = 4, describe: str = "") -> None:
        """``describe``: the database as error messages name it (no password)."""
        self._conninfo = conninfo
        self._max_size = max_size
        self._describe = describe or "the database"
        self._pool: psycopg_pool.AsyncConnectionPool | None = None
        self._opening: asyncio.Lock | None = None

    async def _open(self) -> psycopg_pool.AsyncConnectionPool:
        if self._pool is None:
            self._opening = self._opening or asyncio.Lock()
            async with self._opening:
                if self._pool is None:
                    pool = async_pool(
                        self._conninfo, min_size=1, max_size=self._max_size, name="reads"
                    )
                    await pool.open(wait=False)  # connections come up in the background
                    self._pool = pool
        return self._pool

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """An autocommit connection; DatabaseUnavailable / DatabaseError on failure."""
        try:
            pool = await self._open()
            async with pool.connection(timeout=10) as conn:
                yield conn
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DatabaseUnavailable(f"cannot reach {self._describe}: {reason}") from exc
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DatabaseError(f"database error: {reason}") from exc

    async def close(self) -> None:
        """Close the pool (opened again by the next ``connection()``)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
