"""The FastAPI application of ``mediaflow serve``: routers, errors, auth, its own worker.

The server turns uploads into jobs and queues their files (procrastinate); unless
told not to, it also runs a worker in its own event loop, so that one
``mediaflow serve`` on the embedded database is a complete system. Any number of
``mediaflow worker`` processes may share the queue as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from mediaflow import __version__
from mediaflow.api.auth import require_api_key
from mediaflow.api.errors import ERROR_RESPONSES, install_error_handlers
from mediaflow.api.routes import health, jobs, media, search
from mediaflow.config import Settings, get_settings
from mediaflow.db.session import database_url
from mediaflow.pipeline.tasks import run_worker
from mediaflow.storage import default_store
from mediaflow.web import routes as web

logger = logging.getLogger("mediaflow.api")
STATIC_DIR = Path(__file__).resolve().parents[1] / "web" / "static"


def create_app(
    *,
    url: str | None = None,
    settings: Settings | None = None,
    require_key: bool = False,
    worker_concurrency: int = 1,
) -> FastAPI:
    """Build the app. ``worker_concurrency`` 0: no in-process worker (others do the work)."""
    settings = settings or get_settings()
    url = url or database_url(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = None
        if worker_concurrency > 0:
            worker = asyncio.create_task(run_worker(worker_concurrency, url))
        try:
            yield
        finally:
            if worker is not None:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await worker

    app = FastAPI(
        title="mediaflow",
        version=__version__,
        description="Analyze video, audio and images; every result kept in PostgreSQL.",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
    )
    app.state.url = url
    app.state.settings = settings
    app.state.store = default_store(settings)
    app.state.require_key = require_key
    install_error_handlers(app)

    protected = [Depends(require_api_key)]
    app.include_router(health.router)  # /healthz stays open: load balancers probe it
    app.include_router(jobs.router, dependencies=protected)
    app.include_router(media.router, dependencies=protected)
    app.include_router(search.router, dependencies=protected)
    app.include_router(health.metrics_router, dependencies=protected)
    app.include_router(web.router)  # pages check the key themselves (login form)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
