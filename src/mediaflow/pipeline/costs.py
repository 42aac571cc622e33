"""What cloud calls cost, read back from the processing_log, and a job's budget.

Each completed cloud step's ``processing_log`` row carries ``details.cost`` (its
billed ``units``, the estimated ``usd`` and the ``prices_date`` of the table used:
``providers.cloud.pricing``). No column or table of its own: the log is the ledger,
and a re-run adds its own rows, so costs are what was really spent, superseded
results included. A job's budget is ``options.max_cost`` (USD).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from mediaflow.db.enums import ProcessingLogStatus
from mediaflow.db.models import AnalysisJob, ProcessingLog

__all__ = ["Budget", "CostLine", "cost_lines", "job_budget"]


@dataclass(frozen=True)
class Budget:
    """A job's budget and what it has spent so far (USD)."""

    max_cost: float | None
    spent: float

    def allows(self, estimate: float) -> bool:
        """Whether a call estimated at ``estimate`` stays within the budget."""
        return self.max_cost is None or self.spent + estimate <= self.max_cost + 1e-12


@dataclass
class CostLine:
    """The summed cost of one provider (of one kind) over the rows asked for."""

    kind: str
    provider: str
    calls: int = 0
    usd: float = 0.0
    units: dict[str, float] = field(default_factory=dict)
    prices_date: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON."""
        return {"kind": self.kind, "provider": self.provider, "calls": self.calls,
                "usd": round(self.usd, 6), "units": {k: round(v, 3) for k, v in self.units.items()},
                "prices_date": self.prices_date}  # fmt: skip


def _cost_rows(job_id: uuid.UUID | None, media_file_id: uuid.UUID | None) -> sa.Select[Any]:
    query = sa.select(ProcessingLog.stage, ProcessingLog.details).where(
        ProcessingLog.status == ProcessingLogStatus.COMPLETED,
        ProcessingLog.details.has_key("cost"),
    )
    if job_id is not None:
        query = query.where(ProcessingLog.job_id == job_id)
    if media_file_id is not None:
        query = query.where(ProcessingLog.media_file_id == media_file_id)
    return query.order_by(ProcessingLog.id)


def cost_lines(
    session: Session, job_id: uuid.UUID | None = None, *, media_file_id: uuid.UUID | None = None
) -> list[CostLine]:
    """Cost per (kind, provider) of one job (or file, or all); the costliest first."""
    lines: dict[tuple[str, str], CostLine] = {}
    for stage, details in session.execute(_cost_rows(job_id, media_file_id)):
        cost = details.get("cost") or {}
        key = (str(stage.value if hasattr(stage, "value") else stage),
               str(details.get("provider") or "?"))  # fmt: skip
        line = lines.setdefault(key, CostLine(*key))
        line.calls += 1
        line.usd += float(cost.get("usd") or 0.0)
        for unit, amount in (cost.get("units") or {}).items():
            line.units[unit] = line.units.get(unit, 0.0) + float(amount)
        line.prices_date = cost.get("prices_date") or line.prices_date
    return sorted(lines.values(), key=lambda line: (-line.usd, line.kind, line.provider))


def job_budget(session: Session, job_id: uuid.UUID) -> Budget:
    """``options.max_cost`` of the job and the cost of its completed cloud steps."""
    options = session.scalar(sa.select(AnalysisJob.options).where(AnalysisJob.id == job_id))
    raw = (options or {}).get("max_cost")
    max_cost = float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None
    spent = sum(line.usd for line in cost_lines(session, job_id))
    return Budget(max_cost=max_cost, spent=round(spent, 6))
