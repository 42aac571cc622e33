"""``GET /workers``: the queue's workers, where they run, their heartbeat and files."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from mediaflow.api.deps import RuntimeDep
from mediaflow.services.workers import WorkerOut, list_workers

router = APIRouter(tags=["workers"])


class WorkerList(BaseModel):
    """Every registered worker, oldest first."""

    items: list[WorkerOut]


@router.get(
    "/workers",
    response_model=WorkerList,
    summary="Workers: host, pid, queues, last heartbeat and the files they process",
)
def get_workers(runtime: RuntimeDep) -> WorkerList:
    """Alive workers and those not yet pruned (``alive`` false, ``host`` None once gone)."""
    return WorkerList(items=list_workers(runtime))
