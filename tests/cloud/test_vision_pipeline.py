"""Cloud vision results through the real pipeline: stored as the local analysis types,
searchable like them, with their cost in the log (PostgreSQL, Google and Azure fakes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediaflow.db.enums import JobStatus
from mediaflow.pipeline.ingest import ingest
from mediaflow.pipeline.runner import run_job
from mediaflow.search import search
from tests.conftest import make_runtime
from tests.fakes.azure_server import FakeAzure
from tests.fakes.google_server import FakeGoogle
from tests.migration.helpers import query

pytestmark = pytest.mark.slow


def test_cloud_vision_results_are_stored_and_found_like_local_ones(
    head_db: str, tmp_path: Path, red_image: Path
) -> None:
    with FakeGoogle() as google, FakeAzure() as azure:
        settings = {
            "google_vision_api_key": google.api_key, "google_vision_base_url": google.base_url,
            "azure_vision_api_key": azure.api_key, "azure_vision_base_url": azure.base_url,
        }  # fmt: skip
        with make_runtime(head_db, tmp_path, **settings) as runtime:
            created = ingest(runtime, [red_image], providers=["google_vision", "azure_vision",
                                                               "image_features"])  # fmt: skip
            outcome = run_job(runtime, created.job_id)
            assert outcome.status is JobStatus.COMPLETED, outcome
            assert outcome.files[0].provider_failures == []
            hits = search("red", mode="lexical", runtime=runtime, provider="google_vision")
            caption_hits = search("picture", mode="lexical", runtime=runtime,
                                  provider="azure_vision")  # fmt: skip

    rows = {
        (provider, kind): result
        for provider, kind, result in query(
            head_db, "SELECT provider::text, analysis_type, result FROM analysis_result "
            "WHERE is_active",
        )
    }  # fmt: skip
    assert {k for p, k in rows if p == "google_vision"} == {"labels", "ocr", "faces", "moderation"}
    assert {k for p, k in rows if p == "azure_vision"} == {"caption", "labels", "ocr", "people"}
    ocr = rows[("google_vision", "ocr")]
    assert ocr["text"] == "320x200"  # what the fake "read" from the very image it got
    (line,) = ocr["frames"][0]["lines"]
    assert len(line["box"]) == 4 and all(len(corner) == 2 for corner in line["box"])
    faces = rows[("google_vision", "faces")]
    assert faces["count"] == 1 and {"x", "y", "w", "h"} <= set(faces["frames"][0]["boxes"][0])
    assert rows[("google_vision", "moderation")]["flagged"] is False
    assert rows[("azure_vision", "caption")]["caption"][0]["text"] == "a red picture"
    assert [h.analysis_type for h in hits] and {h.analysis_type for h in hits} <= {"labels", "ocr"}
    assert any(h.analysis_type == "caption" for h in caption_hits)
    costs = query(head_db, "SELECT details->>'provider', details->'cost' FROM processing_log "
                           "WHERE details ? 'cost' ORDER BY 1")  # fmt: skip
    assert [(p, c["units"]) for p, c in costs] == [
        ("azure_vision", {"feature_units": 4.0}), ("google_vision", {"feature_units": 4.0})]  # fmt: skip
