"""Real ``mediaflow worker`` subprocesses for tests and benchmarks: start, wait, stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tests.acceptance.cli import REPO


def start_worker(head_db: str, data_dir: Path, **settings: str) -> subprocess.Popen[str]:
    """One worker (concurrency 1) on ``head_db``; ``settings`` are extra MEDIAFLOW_ variables
    (``stalled_after_s="15"`` sets ``MEDIAFLOW_STALLED_AFTER_S``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIAFLOW_")}
    env.update(
        MEDIAFLOW_DATABASE_URL=head_db,
        MEDIAFLOW_DATA_DIR=str(data_dir),
        MEDIAFLOW_WORKER_HEARTBEAT_S="0.5",
        **{f"MEDIAFLOW_{k.upper()}": v for k, v in settings.items()},
    )
    return subprocess.Popen(
        [sys.executable, "-m", "mediaflow", "worker", "--concurrency", "1"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def stop_workers(procs: Sequence[subprocess.Popen[Any]], timeout_s: float = 60) -> None:
    """SIGTERM each live worker, then SIGKILL any that did not exit within ``timeout_s``."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for(
    condition: Callable[[], bool],
    timeout: float,
    procs: list[subprocess.Popen[str]],
    poll: float = 0.1,
) -> None:
    """Poll ``condition`` until true; past ``timeout`` fail with the exited workers' output."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            logs = "\n".join(
                (p.stdout.read() if p.stdout and p.poll() is not None else "") for p in procs
            )
            raise AssertionError(f"timed out after {timeout}s\n{logs}")
        time.sleep(poll)
