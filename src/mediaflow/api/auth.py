"""API keys on the wire: ``Authorization: Bearer <key>``, or the web page's session cookie.

Keys are required when the app says so (``mediaflow serve`` bound to anything but
loopback, or MEDIAFLOW_REQUIRE_API_KEY=true). The web page sends its key once to
``POST /session`` (``api.routes.session``) and gets it back as an HttpOnly,
SameSite=Strict cookie: the browser's <video> element cannot send an Authorization
header. Authentication lives in this package only; the web page is its client.
"""

from __future__ import annotations

from fastapi import Request

__all__ = ["COOKIE", "bearer_token"]

COOKIE = "mediaflow_key"


def bearer_token(request: Request) -> str | None:
    """The key a request carries, from its Authorization header or its cookie."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.cookies.get(COOKIE)
