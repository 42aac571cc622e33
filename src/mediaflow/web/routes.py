"""The web page: server-rendered shells whose data the page's own JS fetches from the API.

Pages hold no data of their own (so they need no key): each one loads its JS module,
which calls the JSON API with the browser's session cookie. When the API answers 401
the page shows a login form, sends the key to ``POST /session`` and retries; the key
comes back as an HttpOnly, SameSite=Strict cookie, which the <video>/<audio>
elements send too (they cannot send an Authorization header).

The API owns ``/jobs/{id}``, ``/media/{id}`` and ``/search`` (JSON), so the pages
other than the job list live under ``/ui``.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from mediaflow import __version__, keys
from mediaflow.api.auth import COOKIE
from mediaflow.errors import InvalidInput
from mediaflow.media.frames import DEFAULT_MAX_SIDE

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
PAGE_PREFIX = "/ui"
# Everything comes from this server; no inline script or style can run (the JS puts
# data into the page as text only, and this is the second line of defence).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

templates = Jinja2Templates(directory=str(TEMPLATE_DIR))
router = APIRouter(include_in_schema=False)


def _page(request: Request, name: str, **context: Any) -> HTMLResponse:
    """Render one page of the base layout."""
    context.setdefault("page", name.removesuffix(".html"))
    return templates.TemplateResponse(
        request,
        name,
        {
            "version": __version__,
            "prefix": PAGE_PREFIX,
            "require_key": bool(request.app.state.require_key),
            **context,
        },
        headers=PAGE_HEADERS,
    )


@router.get("/", response_class=HTMLResponse)
def jobs_page(request: Request) -> HTMLResponse:
    """The job list (live) with the upload form."""
    return _page(request, "jobs.html", title="Jobs")


@router.get(PAGE_PREFIX, response_class=RedirectResponse)
def ui_root() -> RedirectResponse:
    """``/ui`` is the job list."""
    return RedirectResponse("/", status_code=307)


@router.get(PAGE_PREFIX + "/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: uuid.UUID) -> HTMLResponse:
    """One job: its files with progress bars and its processing log, live."""
    return _page(request, "job.html", title="Job", job_id=str(job_id))


@router.get(PAGE_PREFIX + "/media/{media_id}", response_class=HTMLResponse)
def media_page(request: Request, media_id: uuid.UUID) -> HTMLResponse:
    """One media file: player, synced transcript, results with boxes, log, exports."""
    return _page(
        request, "media.html", title="Media", media_id=str(media_id), max_side=DEFAULT_MAX_SIDE
    )


@router.get(PAGE_PREFIX + "/search", response_class=HTMLResponse)
def search_page(request: Request) -> HTMLResponse:
    """Search over transcripts and results; hits open the media at their moment."""
    return _page(request, "search.html", title="Search")


async def _key_of(request: Request) -> tuple[str, bool]:
    """The key a login request carries (JSON ``{"key"}`` or a form field) and if it was a form."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise InvalidInput("the body is not valid JSON") from None
        key = body.get("key") if isinstance(body, dict) else None
        is_form = False
    else:
        form = await request.form()
        key = form.get("key")
        is_form = True
    if not isinstance(key, str) or not key.strip():
        raise InvalidInput("send the API key as 'key' (JSON or form field)")
    return key.strip(), is_form


@router.post("/session", response_model=None)
async def login(request: Request) -> Response:
    """Check a key and keep it as the session cookie (HttpOnly, SameSite=Strict).

    A bad key answers 401 in the API's error shape and sets nothing.
    """
    key, is_form = await _key_of(request)
    info = await run_in_threadpool(keys.authenticate, key, url=request.app.state.url)
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
