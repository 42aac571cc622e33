"""``mediaflow serve --http-workers N``: N HTTP processes and one queue worker process.

Several HTTP processes use several cores for requests; queue work (decoding,
models) runs in its own ``mediaflow worker`` process so that it never competes
with requests inside one interpreter. Every process is pointed at one database
URL resolved here: the embedded server is started (or joined) once, by this
parent, before any child starts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from mediaflow.api.processes import FACTORY, OPTIONS_ENV, options_for_environment
from mediaflow.config import Settings
from mediaflow.db.session import resolve_url

__all__ = ["serve_processes"]

# How long the queue worker may take to finish its current files when serve stops.
WORKER_STOP_S = 60


def serve_processes(
    settings: Settings,
    *,
    host: str,
    port: int,
    http_workers: int,
    queue_concurrency: int,
    require_key: bool,
) -> None:
    """Run ``http_workers`` uvicorn processes and (``queue_concurrency`` > 0) one worker."""
    import uvicorn

    os.environ["MEDIAFLOW_DATABASE_URL"] = resolve_url(settings)
    os.environ[OPTIONS_ENV] = options_for_environment(require_key=require_key)
    worker = None
    if queue_concurrency > 0:
        worker = subprocess.Popen(
            [sys.executable, "-m", "mediaflow", "worker", "--concurrency", str(queue_concurrency)]
        )
    try:
        uvicorn.run(
            FACTORY,
            factory=True,
            host=host,
            port=port,
            workers=http_workers,
            log_level="info",
            access_log=False,
        )
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGTERM)  # the worker finishes its current files
            try:
                worker.wait(timeout=WORKER_STOP_S)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
