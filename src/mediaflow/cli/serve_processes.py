"""``mediaflow serve --http-workers N``: N HTTP processes and one queue worker process.

Several HTTP processes use several cores for requests; queue work (decoding,
models) runs in its own ``mediaflow worker`` process so that it never competes
with requests inside one interpreter. Every process is pointed at one database
URL resolved here: the embedded server is started (or joined) once, by this
parent, before any child starts.

uvicorn starts each HTTP process itself and builds its app from an import string
(``app_from_environment``, an edge like every CLI command), so what serve decided
(keys required or not) travels in the environment.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from fastapi import FastAPI

from mediaflow.api.app import create_app
from mediaflow.config import Settings, get_settings
from mediaflow.db.session import resolve_url
from mediaflow.runtime import Runtime

__all__ = ["app_from_environment", "serve_processes"]

# Not MEDIAFLOW_*: it is no setting, only the parent's word to its HTTP processes.
OPTIONS_ENV = "_MEDIAFLOW_HTTP_PROCESS"
FACTORY = f"{__name__}:app_from_environment"


def app_from_environment() -> FastAPI:
    """One HTTP process's app: settings from MEDIAFLOW_*, serve's options from OPTIONS_ENV.

    No queue work here: serve runs one ``mediaflow worker`` beside the HTTP processes.
    """
    options = json.loads(os.environ.get(OPTIONS_ENV, "{}"))
    return create_app(
        Runtime(get_settings()),
        require_key=bool(options.get("require_key", True)),
        worker_concurrency=0,
    )


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
    os.environ[OPTIONS_ENV] = json.dumps({"require_key": require_key})
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
