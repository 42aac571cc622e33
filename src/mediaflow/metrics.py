"""Prometheus metrics read from the database at every scrape.

The numbers live in PostgreSQL, not in process memory: a ``DatabaseCollector`` runs a
few aggregate queries each time it is collected, so any ``mediaflow serve`` answers
for the whole system, however many worker processes share the queue, and a restart
loses nothing. Exposed metrics::

    mediaflow_up                                      1 when the database answered
    mediaflow_jobs{status}                            gauge: analysis_job rows
    mediaflow_media_files{status}                     gauge: media_file rows
    mediaflow_stage_duration_seconds_sum{stage}       summary: processing_log durations
    mediaflow_stage_duration_seconds_count{stage}       (completed and failed rows)
    mediaflow_provider_errors_total{provider}         counter: failed provider calls

Every status and stage appears, at 0 when there is none, so that a dashboard's
series exist from the first scrape.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from mediaflow.db.enums import JobStatus, MediaFileStatus, ProcessingStage
from mediaflow.db.session import Database
from mediaflow.errors import MediaflowError

__all__ = ["CONTENT_TYPE", "DatabaseCollector", "make_registry", "render"]

logger = logging.getLogger(__name__)

# The classic text format (what generate_latest writes); prometheus_client's own
# CONTENT_TYPE_LATEST names 1.0.0 in recent versions, which older scrapers reject.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_JOBS = "SELECT status::text, count(*) FROM analysis_job GROUP BY status"
_FILES = "SELECT status::text, count(*) FROM media_file GROUP BY status"
# started rows have no duration; completed and failed ones do
_STAGES = """
    SELECT stage::text, count(*), coalesce(sum(duration_ms), 0)
    FROM processing_log
    WHERE duration_ms IS NOT NULL AND status IN ('completed', 'failed')
    GROUP BY stage
"""
# _call_provider (pipeline/stages.py) puts the provider's name in details before it
# runs; a provider that failed after its retries leaves one failed row
_PROVIDER_ERRORS = """
    SELECT details ->> 'provider', count(*)
    FROM processing_log
    WHERE status = 'failed' AND stage IN ('transcription', 'analysis')
      AND details ? 'provider'
    GROUP BY 1
"""


def _by_status(rows: Iterable[Any]) -> dict[str, int]:
    return {str(status): int(count) for status, count in rows}


class DatabaseCollector(Collector):
    """Collects mediaflow's metrics from ``db`` on every scrape."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def describe(self) -> Iterable[Metric]:
        """Nothing: describing would otherwise run the queries at registration."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Query the database; when it cannot be read, only ``mediaflow_up 0``."""
        up = GaugeMetricFamily("mediaflow_up", "1 when the database answered this scrape")
        try:
            with self.db.connect() as connection:
                jobs = _by_status(connection.execute(sa.text(_JOBS)).all())
                files = _by_status(connection.execute(sa.text(_FILES)).all())
                stages = connection.execute(sa.text(_STAGES)).all()
                errors = connection.execute(sa.text(_PROVIDER_ERRORS)).all()
        except MediaflowError as exc:
            logger.warning("metrics: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up

        job_gauge = GaugeMetricFamily(
            "mediaflow_jobs", "Analysis jobs by status", labels=["status"]
        )
        for job_status in JobStatus:
            job_gauge.add_metric([job_status.value], jobs.get(job_status.value, 0))
        yield job_gauge

        file_gauge = GaugeMetricFamily(
            "mediaflow_media_files", "Media files by status", labels=["status"]
        )
        for file_status in MediaFileStatus:
            file_gauge.add_metric([file_status.value], files.get(file_status.value, 0))
        yield file_gauge

        durations = SummaryMetricFamily(
            "mediaflow_stage_duration_seconds",
            "Time spent in pipeline stages (completed and failed runs)",
            labels=["stage"],
        )
        by_stage = {stage: (count, total_ms) for stage, count, total_ms in stages}
        for stage in ProcessingStage:
            count, total_ms = by_stage.get(stage.value, (0, 0))
            durations.add_metric([stage.value], count_value=count, sum_value=total_ms / 1000)
        yield durations

        provider_errors = CounterMetricFamily(
            "mediaflow_provider_errors",
            "Provider calls that failed (after retries), from processing_log",
            labels=["provider"],
        )
        for provider, count in errors:
            provider_errors.add_metric([str(provider)], count)
        yield provider_errors


def make_registry(db: Database) -> CollectorRegistry:
    """A registry of its own (not the process-global one) holding a ``DatabaseCollector``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(db))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The registry's metrics in the Prometheus text format (version 0.0.4)."""
    return generate_latest(registry)
