"""``GET /healthz`` (open: load balancers probe it) and ``GET /metrics`` (Prometheus)."""

from __future__ import annotations

import logging
import threading
from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from mediaflow.api.deps import RuntimeDep
from mediaflow.db import migrate
from mediaflow.errors import MediaflowError
from mediaflow.metrics import CONTENT_TYPE, make_registry, render
from mediaflow.runtime import Runtime

logger = logging.getLogger("mediaflow.api")

router = APIRouter(tags=["health"])
metrics_router = APIRouter(tags=["health"])

_registry_lock = threading.Lock()


class HealthOut(BaseModel):
    """Whether the server can do its work: database reachable and migrated to head."""

    status: Literal["ok", "degraded", "unavailable"]
    database: Literal["ok", "unavailable"]
    revision: str | None
    head: str
    message: str | None = None


def check_health(runtime: Runtime) -> HealthOut:
    """Reach the database and compare its alembic revision with the code's head.

    ``ok``: reachable and at head; ``degraded``: reachable but at another revision
    (migrations behind, or a newer schema than this code); ``unavailable``: the
    database cannot be read.
    """
    head = migrate.head_revision()
    try:
        revision = migrate.current(runtime.db)  # the embedded server starts here if needed
    except MediaflowError as exc:
        # an open endpoint: say what is wrong, never where (user, host, socket path)
        logger.warning("health check: %s", exc.message)
        return HealthOut(
            status="unavailable", database="unavailable", revision=None, head=head,
            message=f"the database cannot be used ({type(exc).__name__})",
        )  # fmt: skip
    if revision != head:
        return HealthOut(
            status="degraded", database="ok", revision=revision, head=head,
            message=f"database at revision {revision}, code expects {head}: mediaflow migrate",
        )  # fmt: skip
    return HealthOut(status="ok", database="ok", revision=revision, head=head)


@router.get(
    "/healthz",
    response_model=HealthOut,
    summary="Liveness and readiness: database reachable and at the head revision",
    responses={503: {"model": HealthOut, "description": "Database down or not at head"}},
)
def healthz(runtime: RuntimeDep) -> JSONResponse:
    """200 when the database answers and is at head, 503 (same shape) otherwise."""
    health = check_health(runtime)
    return JSONResponse(
        health.model_dump(mode="json"),
        status_code=200 if health.status == "ok" else 503,
        headers={"Cache-Control": "no-store"},
    )


def _registry(request: Request) -> CollectorRegistry:
    # one registry per app (not prometheus_client's global one): two apps in one
    # process (tests) must not register the same collector twice
    state = request.app.state
    with _registry_lock:
        registry: CollectorRegistry | None = getattr(state, "metrics_registry", None)
        if registry is None:
            registry = state.metrics_registry = make_registry(state.runtime.db)
    return registry


@metrics_router.get(
    "/metrics",
    summary="Prometheus metrics, read from the database at every scrape",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition format 0.0.4",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
def metrics(request: Request) -> Response:
    """Jobs and files by status, stage durations, provider errors, ``mediaflow_up``."""
    return Response(render(_registry(request)), media_type=CONTENT_TYPE)
