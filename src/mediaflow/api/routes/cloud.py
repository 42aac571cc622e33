"""``GET /jobs/{id}/costs`` and ``GET /media/{id}/compare``: cloud costs and two
providers' transcripts side by side. Thin: ``services.costs`` and ``services.compare``
do the work."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from mediaflow.api.deps import RuntimeDep
from mediaflow.api.errors import ERROR_RESPONSES
from mediaflow.services import compare as compare_service
from mediaflow.services import costs as cost_service

router = APIRouter(tags=["cloud"])


class CostLineOut(BaseModel):
    """One provider's summed cost."""

    kind: str
    provider: str
    calls: int
    usd: float
    units: dict[str, float]
    prices_date: str | None


class CostReportOut(BaseModel):
    """A job's cloud costs per provider (estimates from the dated price table)."""

    job_id: str | None
    currency: str
    prices_date: str
    total_usd: float
    max_cost: float | None
    providers: list[CostLineOut]


class DiffRunOut(BaseModel):
    """A run of aligned words: equal, replace, delete (only in a), insert (only in b)."""

    op: str
    a: list[str]
    b: list[str]


class ComparisonOut(BaseModel):
    """Two transcripts of one file, their word diff, and b's WER against a."""

    media_id: str
    # the service's dataclass is the schema: one declaration of a side's fields
    a: compare_service.Side
    b: compare_service.Side
    wer: float
    diff: list[DiffRunOut]
    available: list[str]


def _responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: ERROR_RESPONSES[status] for status in statuses if status in ERROR_RESPONSES}


@router.get(
    "/jobs/{job_id}/costs",
    response_model=CostReportOut,
    summary="A job's cloud costs per provider",
    responses=_responses(404),
)
async def job_costs(job_id: uuid.UUID, runtime: RuntimeDep) -> dict[str, Any]:
    """Billed units and estimated USD per cloud provider, the total and the budget."""
    report = await run_in_threadpool(cost_service.costs, runtime, job_id)
    return report.as_dict()


@router.get(
    "/media/{media_id}/compare",
    response_model=ComparisonOut,
    summary="Two providers' transcripts side by side",
    responses=_responses(404, 422),
)
async def compare_transcripts(
    media_id: uuid.UUID,
    runtime: RuntimeDep,
    a: str | None = Query(None, max_length=64, description="Reference provider"),
    b: str | None = Query(None, max_length=64, description="Provider compared to it"),
) -> dict[str, Any]:
    """Word-level differences, WER of b against a, latency and cost of each."""
    result = await run_in_threadpool(compare_service.compare, runtime, media_id, a, b)
    return result.as_dict()
