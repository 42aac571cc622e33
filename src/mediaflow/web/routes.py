"""The web page: server-rendered shells whose data the page's own JS fetches from the API.

Pages hold no data of their own (so they need no key): each one loads its JS module,
which calls the JSON API with the browser's session cookie. When the API answers 401
the page shows a login form, sends the key to ``POST /session`` and retries; the key
comes back as an HttpOnly, SameSite=Strict cookie, which the <video>/<audio>
elements send too (they cannot send an Authorization header).

The API owns ``/jobs/{id}``, ``/media/{id}``, ``/search`` (JSON) and ``/session``
(the login), so the pages other than the job list live under ``/ui``. The web page is
a client of the API: nothing here reads the database or checks keys.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from mediaflow.version import __version__
from mediaflow.web import TEMPLATE_DIR

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
    return _page(request, "media.html", title="Media", media_id=str(media_id))


@router.get(PAGE_PREFIX + "/media/{media_id}/compare", response_class=HTMLResponse)
def compare_page(request: Request, media_id: uuid.UUID) -> HTMLResponse:
    """Two providers' transcripts side by side: word diff, WER, latency and cost."""
    return _page(request, "compare.html", title="Compare", media_id=str(media_id))


@router.get(PAGE_PREFIX + "/search", response_class=HTMLResponse)
def search_page(request: Request) -> HTMLResponse:
    """Search over transcripts and results; hits open the media at their moment."""
    return _page(request, "search.html", title="Search")


@router.get(PAGE_PREFIX + "/workers", response_class=HTMLResponse)
def workers_page(request: Request) -> HTMLResponse:
    """The workers: host, pid, heartbeat and current files of each, live."""
    return _page(request, "workers.html", title="Workers")


@router.get(PAGE_PREFIX + "/people", response_class=HTMLResponse)
def people_page(request: Request) -> HTMLResponse:
    """Every person found by their faces, with a face each."""
    return _page(request, "people.html", title="People")


@router.get(PAGE_PREFIX + "/people/{person_id}", response_class=HTMLResponse)
def person_page(request: Request, person_id: uuid.UUID) -> HTMLResponse:
    """One person: face crops, naming, merging, and every appearance with its time."""
    return _page(request, "person.html", title="Person", person_id=str(person_id))
