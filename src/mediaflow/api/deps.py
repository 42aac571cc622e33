"""FastAPI dependencies: the runtime the app was built with, and the API key check.

Routes read like their signatures (``runtime: RuntimeDep``); nothing in a route
reaches for global settings or a database URL.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from mediaflow.api.auth import bearer_token
from mediaflow.runtime import Runtime
from mediaflow.services import keys

__all__ = ["RuntimeDep", "get_runtime", "require_api_key"]


def get_runtime(request: Request) -> Runtime:
    """The runtime ``create_app`` was given."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def require_api_key(request: Request, runtime: RuntimeDep) -> None:
    """Dependency of every protected route: raises AuthError (401) unless the key is good."""
    if not request.app.state.require_key:
        return
    token = bearer_token(request)
    request.state.api_key = await run_in_threadpool(keys.authenticate, runtime, token)
