"""The embedded PostgreSQL: dead holders do not keep it alive, and a dead server comes back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from mediaflow.db.embedded import embedded_url, ensure_running, prune_dead_holders, stop_embedded


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_dead_holders_are_pruned(tmp_path: Path) -> None:
    pgdata = tmp_path / "pgdata"
    pgdata.mkdir()
    dead = _dead_pid()
    (pgdata / ".handle_pids.json").write_text(json.dumps([dead, os.getpid()]))
    assert prune_dead_holders(pgdata) == [dead]
    assert json.loads((pgdata / ".handle_pids.json").read_text()) == [os.getpid()]


def test_a_killed_embedded_server_is_started_again_and_stops_after_a_dead_holder(
    data_dir: Path,
) -> None:
    pgdata = data_dir / "pgdata"
    url = embedded_url(pgdata)
    try:
        # a holder that was kill -9'd: its pid stays in pgserver's list
        holders = pgdata / ".handle_pids.json"
        holders.write_text(json.dumps([*json.loads(holders.read_text()), _dead_pid()]))
        postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
        os.kill(postmaster, signal.SIGKILL)
        deadline = time.monotonic() + 120
        while (pgdata / "postmaster.pid").exists() and _running(postmaster):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert ensure_running(pgdata)
        with psycopg.connect(url, connect_timeout=10) as connection:
            assert connection.execute("SELECT 1").fetchone() == (1,)
        assert not ensure_running(pgdata)  # running: nothing to do
    finally:
        stop_embedded(pgdata)
    # the dead holder did not keep it alive: this process was the last live one
    new_postmaster = pgdata / "postmaster.pid"
    assert not new_postmaster.exists()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True
