"""FastAPI dependencies: the runtime the app was built with, and the API key check.

Routes read like their signatures (``runtime: RuntimeDep``); nothing in a route
reaches for global settings or a database URL.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import State

from mediaflow.api.auth import bearer_token
from mediaflow.db.pools import ReadPool
from mediaflow.runtime import Runtime
from mediaflow.services import keys

__all__ = ["ReadsDep", "RuntimeDep", "get_reads", "get_runtime", "reads_of", "require_api_key"]


async def get_runtime(request: Request) -> Runtime:
    """The runtime ``create_app`` was given (async: FastAPI runs a plain def in a thread)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def reads_of(state: State) -> ReadPool:
    """The app's pool for single-query reads, built on first use (closed by the lifespan)."""
    reads: ReadPool | None = getattr(state, "reads", None)
    if reads is None:
        runtime: Runtime = state.runtime
        db = await run_in_threadpool(lambda: runtime.db)  # may start the embedded server
        reads = getattr(state, "reads", None)  # another request may have built it meanwhile
        if reads is None:
            reads = state.reads = ReadPool(
                db.libpq_url(),
                max_size=runtime.settings.api_read_pool_size,
                describe=f"the database at {db.describe()}",
            )
    return reads


async def get_reads(request: Request) -> ReadPool:
    """``reads_of`` the request's app."""
    return await reads_of(request.app.state)


ReadsDep = Annotated[ReadPool, Depends(get_reads)]


async def require_api_key(request: Request, runtime: RuntimeDep) -> None:
    """Dependency of every protected route: raises AuthError (401) unless the key is good."""
    if not request.app.state.require_key:
        return
    token = bearer_token(request)
    request.state.api_key = await run_in_threadpool(keys.authenticate, runtime, token)
