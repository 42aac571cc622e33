"""``POST /session`` / ``DELETE /session``: the web page's login, kept as a cookie.

A good key comes back as an HttpOnly, SameSite=Strict cookie (``api.auth.COOKIE``),
which the page's fetches and its <video>/<audio> elements then send. A bad key
answers 401 in the API's error shape and sets nothing.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from mediaflow.api.auth import COOKIE
from mediaflow.api.deps import RuntimeDep
from mediaflow.api.uploads import read_small_body
from mediaflow.errors import InvalidInput
from mediaflow.services import keys

router = APIRouter(include_in_schema=False)


async def _key_of(request: Request, limit: int) -> tuple[str, bool]:
    """The key a login request carries (JSON ``{"key"}`` or a form field) and if it was a form.

    Nobody is authenticated yet: the body is read only up to ``limit`` bytes (413
    past it), never spooled to disk, and parsed without recursion.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await read_small_body(request, limit)
    key: object
    if content_type == "application/json":
        try:
            value = json.loads(body)
        except (ValueError, RecursionError):
            raise InvalidInput("the body is not valid JSON") from None
        key = value.get("key") if isinstance(value, dict) else None
        is_form = False
    elif content_type in ("", "application/x-www-form-urlencoded"):
        fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        values = fields.get("key")
        key = values[0] if values else None
        is_form = True
    else:
        raise InvalidInput("send the key as JSON or as an urlencoded form")
    if not isinstance(key, str) or not key.strip():
        raise InvalidInput("send the API key as 'key' (JSON or form field)")
    return key.strip(), is_form


@router.post("/session", response_model=None)
async def login(request: Request, runtime: RuntimeDep) -> Response:
    """Check a key and keep it as the session cookie (HttpOnly, SameSite=Strict)."""
    key, is_form = await _key_of(request, runtime.settings.unauthenticated_body_max_bytes)
    info = await run_in_threadpool(keys.authenticate, runtime, key)
    response: Response
    if is_form:
        response = RedirectResponse("/", status_code=303)
    else:
        response = JSONResponse({"name": info.name, "prefix": info.prefix})
    response.set_cookie(
        COOKIE,
        key,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.delete("/session", status_code=204, response_model=None)
def logout() -> Response:
    """Forget the session cookie."""
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response
