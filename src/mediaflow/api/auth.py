"""API key check: ``Authorization: Bearer <key>``, or the web page's session cookie.

Keys are required when the app says so (``mediaflow serve`` bound to anything but
loopback, or MEDIAFLOW_REQUIRE_API_KEY=true). The web page sends its key once to
``POST /session`` and gets it back as an HttpOnly, SameSite=Strict cookie: the
browser's <video> element cannot send an Authorization header.
"""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from mediaflow import keys

COOKIE = "mediaflow_key"


def bearer_token(request: Request) -> str | None:
    """The key a request carries, from its Authorization header or its cookie."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.cookies.get(COOKIE)


async def require_api_key(request: Request) -> None:
    """Dependency of every protected route: raises AuthError (401) unless the key is good."""
    if not request.app.state.require_key:
        return
    token = bearer_token(request)
    request.state.api_key = await run_in_threadpool(
        keys.authenticate, token, url=request.app.state.url
    )
