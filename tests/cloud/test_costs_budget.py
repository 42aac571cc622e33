"""Costs and the per-job budget through the real pipeline (PostgreSQL, fakes).

Prices are set in the test (``cloud_prices``) so that the budget arithmetic does not
depend on the default table: 1 cent per audio second for both providers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mediaflow.config import Settings
from mediaflow.db.enums import JobStatus
from mediaflow.errors import InvalidInput
from mediaflow.pipeline.ingest import ingest
from mediaflow.pipeline.runner import run_job
from mediaflow.providers.cloud.pricing import DEFAULT_PRICES, PRICES_DATE, cost_of
from mediaflow.providers.cloud.split import wav_duration
from mediaflow.providers.registry import ProviderRegistry
from mediaflow.services import costs as cost_service
from mediaflow.services import jobs
from tests import media_factory as mf
from tests.cloud.cases import SPEECH_CASES, VISION_CASES
from tests.conftest import make_runtime
from tests.fakes.assemblyai_server import FakeAssemblyAI
from tests.fakes.deepgram_server import FakeDeepgram
from tests.migration.helpers import query

pytestmark = pytest.mark.slow

CENT = {"audio_seconds": 0.01}


@pytest.fixture
def two_fakes() -> Iterator[tuple[FakeDeepgram, FakeAssemblyAI]]:
    """Deepgram and AssemblyAI fakes."""
    with FakeDeepgram() as deepgram, FakeAssemblyAI() as assemblyai:
        yield deepgram, assemblyai


def _settings(deepgram: FakeDeepgram, assemblyai: FakeAssemblyAI, **extra: Any) -> dict[str, Any]:
    return {
        "deepgram_api_key": deepgram.api_key, "deepgram_base_url": deepgram.base_url,
        "assemblyai_api_key": assemblyai.api_key, "assemblyai_base_url": assemblyai.base_url,
        "cloud_poll_interval_s": 0.01, "provider_retry_max_wait_s": 0.01,
        "cloud_prices": {"transcription:deepgram": CENT, "transcription:assemblyai": CENT},
        **extra,
    }  # fmt: skip


def test_budget_stops_the_cloud_step_that_would_exceed_it(
    head_db: str, tmp_path: Path, two_fakes: tuple[FakeDeepgram, FakeAssemblyAI]
) -> None:
    deepgram, assemblyai = two_fakes
    speech = mf.speak_wav(mf.SPEECH_SENTENCE, tmp_path / "hello.wav")
    seconds = wav_duration(speech)  # the pipeline's 16 kHz copy is as long
    max_cost = round(seconds * 0.01 * 1.5, 4)  # room for one call, not two
    with make_runtime(head_db, tmp_path, **_settings(deepgram, assemblyai)) as runtime:
        request = jobs.check_request(runtime, providers=["deepgram", "assemblyai"],
                                     options={"max_cost": max_cost})  # fmt: skip
        created = jobs.create_job(runtime, request, [speech])
        outcome = run_job(runtime, created.job_id)
        report = cost_service.costs(runtime, created.job_id)

    assert outcome.status is JobStatus.COMPLETED
    assert query(head_db, "SELECT provider::text FROM transcription") == [("deepgram",)]
    assert assemblyai.requests == []  # stopped before any request
    (message, details), *_ = query(
        head_db, "SELECT message, details FROM processing_log WHERE status = 'skipped' "
        "AND details->>'budget' = 'exceeded'",
    )  # fmt: skip
    assert message.startswith("budget: assemblyai would cost about $")
    assert details["provider"] == "assemblyai" and details["max_cost"] == max_cost
    assert details["spent_usd"] + details["estimated_usd"] > max_cost
    assert report.max_cost == max_cost and report.total_usd <= max_cost
    (line,) = report.lines
    assert (line.provider, line.calls) == ("deepgram", 1)
    assert line.usd == pytest.approx(line.units["audio_seconds"] * 0.01, abs=1e-6)


def test_costs_of_all_jobs_sum_per_provider(
    head_db: str, tmp_path: Path, two_fakes: tuple[FakeDeepgram, FakeAssemblyAI]
) -> None:
    deepgram, assemblyai = two_fakes
    speech = mf.speak_wav("one two three", tmp_path / "short.wav")
    with make_runtime(head_db, tmp_path, **_settings(deepgram, assemblyai)) as runtime:
        for _ in range(2):
            # force: the same content again is otherwise reused, without a (paid) call
            created = ingest(
                runtime, [speech], providers=["deepgram", "assemblyai"], options={"force": True}
            )
            assert run_job(runtime, created.job_id).status is JobStatus.COMPLETED
        report = cost_service.costs(runtime)
    assert {(line.provider, line.calls) for line in report.lines} == {
        ("deepgram", 2), ("assemblyai", 2)}  # fmt: skip
    assert report.total_usd == pytest.approx(sum(line.usd for line in report.lines))
    assert report.as_dict()["prices_date"] == PRICES_DATE


def test_wrong_key_fails_its_step_and_stays_out_of_the_log(
    head_db: str, tmp_path: Path, two_fakes: tuple[FakeDeepgram, FakeAssemblyAI]
) -> None:
    deepgram, assemblyai = two_fakes
    wrong = "dg-wrong-key-that-must-not-leak-77"
    speech = mf.speak_wav("leak check", tmp_path / "leak.wav")
    settings = _settings(deepgram, assemblyai, deepgram_api_key=wrong)
    with make_runtime(head_db, tmp_path, **settings) as runtime:
        created = ingest(runtime, [speech], providers=["deepgram", "assemblyai"])
        outcome = run_job(runtime, created.job_id)
    assert outcome.files[0].provider_failures and "401" in outcome.files[0].provider_failures[0]
    (dump,) = query(head_db, "SELECT string_agg(t::text, ' ') FROM processing_log t")[0]
    (errors,) = query(head_db, "SELECT coalesce(string_agg(error, ' '), '') FROM media_file")[0]
    assert "INVALID_AUTH" in dump  # Deepgram's own error code made it into the log...
    assert wrong not in dump and wrong not in errors  # ...its echo of the key did not
    assert query(head_db, "SELECT provider::text FROM transcription") == [("assemblyai",)]


@pytest.mark.parametrize("value", [-1, "ten", True, float("inf"), [1]])
def test_max_cost_must_be_a_number(head_db: str, tmp_path: Path, value: object) -> None:
    with make_runtime(head_db, tmp_path) as runtime, pytest.raises(InvalidInput, match="max_cost"):
        jobs.check_request(runtime, options={"max_cost": value})


def test_every_cloud_provider_has_dated_prices_and_names_its_setting() -> None:
    registry = ProviderRegistry(Settings(aws_region=None))
    for case in [*SPEECH_CASES, *VISION_CASES]:
        assert case.id in DEFAULT_PRICES, case.id
        info = registry.info(case.kind, case.name)  # type: ignore[arg-type]
        assert info.needs_key and not info.available, case.id
        assert "MEDIAFLOW_" in info.reason or "AWS" in info.reason, (case.id, info.reason)
        assert case.name not in registry.defaults(case.kind)  # type: ignore[arg-type]
    cost = cost_of(Settings(), "transcription", "deepgram", {"audio_seconds": 60})
    assert cost["usd"] == pytest.approx(0.0043) and cost["prices_date"] == PRICES_DATE


def test_costs_of_an_unknown_job_is_not_found(head_db: str, tmp_path: Path) -> None:
    import uuid

    from mediaflow.errors import NotFound

    with make_runtime(head_db, tmp_path) as runtime:
        with pytest.raises(NotFound):
            cost_service.costs(runtime, uuid.uuid4())
        assert cost_service.costs(runtime).lines == []  # no cloud call yet: nothing spent
