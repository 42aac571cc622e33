"""Every error the API answers is JSON ``{"error": {"code", "message"}}``, never a trace.

MediaflowErrors carry their own status (errors.py); FastAPI's validation errors become
422 ``invalid_input``; anything else is a bug: logged with its traceback on the server,
answered as a plain 500 ``internal``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from mediaflow.errors import MediaflowError

logger = logging.getLogger("mediaflow.api")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media",
    416: "range_not_satisfiable",
    422: "invalid_input",
}


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The one JSON shape of an error."""
    return {"error": {"code": code, "message": message, **extra}}


def error_response(
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A JSON error response."""
    return JSONResponse(
        jsonable_encoder(error_body(code, message, **extra)), status_code=status, headers=headers
    )


async def _mediaflow_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MediaflowError)
    extra = {"hint": exc.hint} if exc.hint else {}
    headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
    if exc.http_status >= 500:
        logger.warning("%s %s: %s", request.method, request.url.path, exc)
    return error_response(exc.http_status, exc.code, exc.message, headers=headers, **extra)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    headers = exc.headers
    if exc.status_code == 405:
        # Starlette names only the first matching route's methods: every route of
        # the path counts (GET and POST /jobs are two routes)
        headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
    return error_response(exc.status_code, code, str(exc.detail), headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    from starlette.routing import Match

    # A literal path (/people/recluster) is its own resource even where a templated
    # one (/people/{person}) would also match it: its own routes' methods, then.
    exact = {
        method
        for path, route in _flat_routes(request.app.router.routes)
        if path == request.url.path
        for method in getattr(route, "methods", None) or ()
    }
    if exact:
        return [m for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE") if m in exact]
    # otherwise ask the router itself, method by method
    allowed = []
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
        scope = {**request.scope, "method": method, "type": "http"}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


def _flat_routes(routes: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(full path, route) of every route, through included routers (FastAPI keeps them
    nested, each with its include prefix)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            inner = prefix + getattr(getattr(route, "include_context", None), "prefix", "")
            yield from _flat_routes(included.routes, inner)
        else:
            yield prefix + getattr(route, "path", ""), route


def _where(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or "request"


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [f"{_where(e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in exc.errors()]
    return error_response(422, "invalid_input", "; ".join(problems) or "invalid request")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "internal", "internal error (logged on the server)")


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` in the JSON error shape."""
    app.add_exception_handler(MediaflowError, _mediaflow_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "description": description,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "hint": {"type": "string"},
                            },
                        }
                    },
                }
            }
        },
    }
    for status, description in [
        (401, "Missing, wrong or revoked API key"),
        (404, "Not found"),
        (422, "Invalid input"),
    ]
}
"""Error responses every route may give, for the OpenAPI document (schemathesis checks it)."""


def documented_error(description: str) -> dict[str, Any]:
    """One route's error response for the OpenAPI document: its own ``description``,
    the one JSON error body."""
    return {"description": description, "content": ERROR_RESPONSES[404]["content"]}
