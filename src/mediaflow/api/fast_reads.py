"""The hottest read, ``GET /jobs/{id}``, answered before FastAPI's routing.

A client watching a job polls it; each poll through FastAPI pays for matching the
route list, solving the dependencies and building a response object, which costs
more CPU than the statement that answers it. This ASGI middleware answers the one
canonical form of that request (``GET /jobs/<uuid>`` with hyphens, on a server
that needs no API key) with ``services.job_reads`` directly. Anything else (a key
to check, another spelling of the id, an unknown job, a database error) goes on to
FastAPI, whose route is the same read with the usual errors and the OpenAPI entry.
"""

from __future__ import annotations

import re
import uuid

from starlette.types import ASGIApp, Receive, Scope, Send

from mediaflow.api.deps import reads_of
from mediaflow.errors import MediaflowError
from mediaflow.services.job_reads import job_detail_json

__all__ = ["FastJobReads"]

_JOB = re.compile(r"/jobs/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")
_HEADERS = [(b"content-type", b"application/json")]


class FastJobReads:
    """ASGI middleware: ``GET /jobs/<uuid>`` without FastAPI when no key is required."""

    def __init__(self, app: ASGIApp) -> None:
        """Wrap ``app`` (the rest of the stack)."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer the fast case; hand everything else to the wrapped app."""
        match = (
            _JOB.fullmatch(scope["path"])
            if scope["type"] == "http" and scope["method"] == "GET"
            else None
        )
        state = scope["app"].state if match else None
        if match is None or state is None or state.require_key:
            await self.app(scope, receive, send)
            return
        try:
            body = await job_detail_json(await reads_of(state), uuid.UUID(match.group(1)))
        except MediaflowError:  # not found, database down: FastAPI's errors say it
            await self.app(scope, receive, send)
            return
        headers = [*_HEADERS, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
