"""What cloud providers cost: per provider, for one job or for all of them.

The numbers come from the processing_log (``pipeline.costs``): billed units and the
estimate from the dated price table (``providers.cloud.pricing``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from mediaflow.db.models import AnalysisJob
from mediaflow.errors import NotFound
from mediaflow.pipeline.costs import CostLine, cost_lines, job_budget
from mediaflow.providers.cloud.pricing import PRICES_DATE
from mediaflow.runtime import Runtime

__all__ = ["CostReport", "costs"]


@dataclass
class CostReport:
    """Costs per provider, their total, and the job's budget when one job was asked."""

    job_id: uuid.UUID | None
    lines: list[CostLine]
    max_cost: float | None = None

    @property
    def total_usd(self) -> float:
        """The sum over providers."""
        return round(sum(line.usd for line in self.lines), 6)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON (the API's and ``--json``'s shape)."""
        return {
            "job_id": str(self.job_id) if self.job_id else None,
            "currency": "USD",
            "prices_date": PRICES_DATE,
            "total_usd": self.total_usd,
            "max_cost": self.max_cost,
            "providers": [line.as_dict() for line in self.lines],
        }


def costs(runtime: Runtime, job_id: uuid.UUID | None = None) -> CostReport:
    """The cost report of one job (``NotFound`` if there is no such job) or of all jobs."""
    with runtime.db.session() as session:
        if job_id is None:
            return CostReport(None, cost_lines(session))
        if session.get(AnalysisJob, job_id) is None:
            raise NotFound(f"job {job_id} does not exist")
        budget = job_budget(session, job_id)
        return CostReport(job_id, cost_lines(session, job_id), budget.max_cost)
