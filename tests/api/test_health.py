"""``GET /healthz`` and ``GET /metrics`` over real HTTP against real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mediaflow.db import migrate
from mediaflow.runtime import Runtime
from tests.api.server import LiveServer, live_server
from tests.pg import SERVICE_URL, execute_autocommit, head_database, service_reachable


@pytest.fixture(scope="module")
def client(api: LiveServer) -> Iterator[httpx.Client]:
    with api.client() as http:
        yield http


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a metrics page: (name, sorted labels) -> value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_healthz_at_head(client: httpx.Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200, response.text
    head = migrate.head_revision()
    assert response.json() == {
        "status": "ok", "database": "ok", "revision": head, "head": head, "message": None,
    }  # fmt: skip


def test_healthz_behind_head_is_503(data_dir: Path) -> None:
    if not service_reachable():
        pytest.skip("no PostgreSQL service on 127.0.0.1:5432")
    with head_database() as url:
        # pretend the migrations after revision 4 never ran
        execute_autocommit(url, "UPDATE alembic_version SET version_num = '000000000004'")
        with (
            live_server(database_url=url, data_dir=data_dir, args=("--workers", "0")) as server,
            server.client() as http,
        ):
            response = http.get("/healthz")
            assert response.status_code == 503, response.text
            body = response.json()
            assert body["status"] == "degraded" and body["database"] == "ok"
            assert body["revision"] == "000000000004"
            assert body["head"] == migrate.head_revision() != "000000000004"
            assert "migrate" in body["message"]

            # the database gone: unavailable, still the same shape, still no key needed
            execute_autocommit(
                SERVICE_URL,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{url.rsplit('/', 1)[1]}'",
                f'ALTER DATABASE "{url.rsplit("/", 1)[1]}" WITH ALLOW_CONNECTIONS false',
            )
            down = http.get("/healthz")
            assert down.status_code == 503, down.text
            assert down.json()["status"] == "unavailable"
            assert down.json()["database"] == "unavailable"
            assert down.json()["revision"] is None
            # an open endpoint shows no user, host, port or database name (issue 9)
            name = url.rsplit("/", 1)[1]
            for secret in ("postgres@", "127.0.0.1", "5432", name):
                assert secret not in down.text, down.text
            # metrics say the same without failing the scrape
            metrics = _samples(http.get("/metrics").text)
            assert metrics[("mediaflow_up", ())] == 0


@pytest.mark.slow
def test_metrics_after_a_processed_job(
    client: httpx.Client, processed_media: dict[str, Any]
) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples = _samples(response.text)
    assert samples[("mediaflow_up", ())] == 1
    assert samples[("mediaflow_jobs", (("status", "completed"),))] >= 1
    assert samples[("mediaflow_jobs", (("status", "failed"),))] == 0
    assert samples[("mediaflow_media_files", (("status", "completed"),))] == 2
    stage = (("stage", "transcription"),)
    assert samples[("mediaflow_stage_duration_seconds_count", stage)] >= 1
    assert samples[("mediaflow_stage_duration_seconds_sum", stage)] > 0
    assert samples[("mediaflow_stage_duration_seconds_count", (("stage", "analysis"),))] >= 2
    # no provider failed in this job
    assert not any(name == "mediaflow_provider_errors_total" for name, _ in samples)


def test_metrics_count_provider_errors(
    client: httpx.Client, processed_media: dict[str, Any], api_runtime: Runtime
) -> None:
    # a failed provider call, as the pipeline's stage_timer logs it (Pipeline._call)
    from mediaflow.db.enums import ProcessingLogStatus, ProcessingStage
    from mediaflow.pipeline.log import LogEvent
    from mediaflow.pipeline.records import DatabaseRecords

    records = DatabaseRecords(api_runtime.db)
    records.log(
        LogEvent(
            job_id=processed_media["job_id"], media_file_id=processed_media["image"],
            stage=ProcessingStage.ANALYSIS, status=ProcessingLogStatus.FAILED,
            message="boom", details={"provider": "opennsfw"}, duration_ms=1500,
        )
    )  # fmt: skip
    records.flush()  # a closing row waits for the next write; nothing else follows here
    samples = _samples(client.get("/metrics").text)
    assert samples[("mediaflow_provider_errors_total", (("provider", "opennsfw"),))] == 1


def test_every_error_is_json(client: httpx.Client) -> None:
    response = client.get("/no/such/route")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
