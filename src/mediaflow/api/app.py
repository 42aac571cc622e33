"""The FastAPI application of ``mediaflow serve``: routers, errors, auth, its own worker.

``create_app`` takes the ``Runtime`` its edge built (``mediaflow serve``, or a test)
and hands it to every route through ``api.deps.RuntimeDep``. The server turns
uploads into jobs and queues their files; unless told not to, it also runs a queue
worker in its own event loop on the same runtime, so that one ``mediaflow serve`` on
the embedded database is a complete system. Any number of ``mediaflow worker``
processes may share the queue as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from mediaflow.api.deps import require_api_key
from mediaflow.api.docs import install_docs
from mediaflow.api.errors import ERROR_RESPONSES, install_error_handlers
from mediaflow.api.fast_reads import FastJobReads
from mediaflow.api.lifecycle import InProcessWorker, release_embedded, watch_embedded
from mediaflow.api.routes import (
    cloud,
    health,
    jobs,
    media,
    people,
    search,
    session,
    speakers,
    workers,
)
from mediaflow.runtime import Runtime
from mediaflow.version import __version__
from mediaflow.web import STATIC_DIR
from mediaflow.web import routes as web

__all__ = ["create_app"]

logger = logging.getLogger("mediaflow.api")


def create_app(
    runtime: Runtime,
    *,
    require_key: bool = False,
    worker_concurrency: int = 1,
) -> FastAPI:
    """Build the app on ``runtime``. ``worker_concurrency`` 0: no in-process worker."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # uvicorn owns the process's signals: SIGTERM must stop the server (and
        # through this lifespan the worker, in a bounded time), not only the worker
        worker = InProcessWorker(runtime, worker_concurrency)
        app.state.worker = worker
        if worker_concurrency > 0:
            worker.start()
        watch = (
            asyncio.create_task(watch_embedded(runtime))
            if runtime.settings.uses_embedded_database
            else None
        )
        try:
            yield
        finally:
            if watch is not None:
                watch.cancel()
            await worker.stop()
            reads = getattr(app.state, "reads", None)  # api.deps.get_reads builds it
            if reads is not None:
                await reads.close()
            if not worker.abandoned:  # abandoned files' threads may still use it
                runtime.close()
                await asyncio.to_thread(release_embedded, runtime)

    app = FastAPI(
        title="mediaflow",
        version=__version__,
        description="Analyze video, audio and images; every result kept in PostgreSQL.",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
        docs_url=None,  # served with local assets by install_docs
        redoc_url=None,  # ReDoc only exists on a CDN; /docs covers it
    )
    app.state.runtime = runtime
    app.state.require_key = require_key
    install_error_handlers(app)
    install_docs(app)

    protected = [Depends(require_api_key)]
    app.include_router(health.router)  # /healthz stays open: load balancers probe it
    app.include_router(jobs.router, dependencies=protected)
    app.include_router(cloud.router, dependencies=protected)  # costs, compare (issue 13)
    app.include_router(media.router, dependencies=protected)
    app.include_router(search.router, dependencies=protected)
    app.include_router(workers.router, dependencies=protected)
    app.include_router(people.router, dependencies=protected)
    app.include_router(speakers.router, dependencies=protected)
    app.include_router(health.metrics_router, dependencies=protected)
    app.include_router(session.router)  # the login itself needs no key
    app.include_router(web.router)  # pages hold no data; their API calls need the key
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(FastJobReads)  # GET /jobs/{id} before routing (api.fast_reads)
    return app
