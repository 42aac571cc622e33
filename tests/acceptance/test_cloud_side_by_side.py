"""A local and two cloud speech providers (fakes) on the same file in one job, then the
costs and the comparison through the CLI (real subprocesses), the API and the web page.

Nothing talks to a real vendor: Deepgram and Azure AI Speech are local fakes speaking
their documented wire formats and really transcribing the audio.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mediaflow.api.app import create_app
from mediaflow.db.enums import JobStatus
from mediaflow.pipeline.ingest import ingest
from mediaflow.pipeline.runner import run_job
from tests import media_factory as mf
from tests.conftest import make_runtime
from tests.fakes.azure_server import FakeAzure
from tests.fakes.deepgram_server import FakeDeepgram
from tests.migration.helpers import query

pytestmark = pytest.mark.slow


@pytest.fixture
def fakes() -> Iterator[tuple[FakeDeepgram, FakeAzure]]:
    """Deepgram and Azure fakes, running."""
    with FakeDeepgram() as deepgram, FakeAzure() as azure:
        yield deepgram, azure


def _cli(
    head_db: str, data_dir: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **env, "MEDIAFLOW_DATABASE_URL": head_db,
                   "MEDIAFLOW_DATA_DIR": str(data_dir), "PYTHONPATH": "src:."}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-c", "from mediaflow.cli.app import main; main()", *args],
        capture_output=True, text=True, env=environment, timeout=120, check=False,
    )  # fmt: skip


def test_local_and_two_cloud_providers_in_one_job(
    head_db: str, tmp_path: Path, fakes: tuple[FakeDeepgram, FakeAzure]
) -> None:
    deepgram, azure = fakes
    settings = {
        "deepgram_api_key": deepgram.api_key, "deepgram_base_url": deepgram.base_url,
        "azure_speech_api_key": azure.api_key, "azure_speech_base_url": azure.base_url,
    }  # fmt: skip
    speech = mf.speak_wav(mf.SPEECH_SENTENCE, tmp_path / "hello.wav")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with make_runtime(head_db, data_dir, **settings) as runtime:
        created = ingest(runtime, [speech], name="side by side",
                         providers=["faster_whisper", "deepgram", "azure_speech"])  # fmt: skip
        outcome = run_job(runtime, created.job_id)
        assert outcome.status is JobStatus.COMPLETED
        assert outcome.files[0].provider_failures == []
        (media_id,) = created.media_file_ids

        rows = query(head_db, "SELECT provider::text, text FROM transcription WHERE is_active")
        assert sorted(p for p, _ in rows) == ["azure_speech", "deepgram", "faster_whisper"]
        assert all(text for _, text in rows)
        # each cloud call was really made, with its own auth, once
        assert [r.path for r in deepgram.requests] == ["/v1/listen"]
        assert [r.path for r in azure.requests] == ["/speechtotext/transcriptions:transcribe"]

        # the keys are nowhere in the database
        for table in ("processing_log", "transcription", "analysis_result", "analysis_job"):
            (dump,) = query(
                head_db, f"SELECT coalesce(string_agg(t::text, ' '), '') FROM {table} t"
            )[0]
            assert deepgram.api_key not in dump and azure.api_key not in dump, table

        # the API: costs of the job and the comparison
        client = TestClient(create_app(runtime, worker_concurrency=0))
        costs = client.get(f"/jobs/{created.job_id}/costs").json()
        by_provider = {line["provider"]: line for line in costs["providers"]}
        assert set(by_provider) == {"deepgram", "azure_speech"}  # local costs nothing
        for line in by_provider.values():
            assert line["calls"] == 1 and line["usd"] > 0
            assert 2 < line["units"]["audio_seconds"] < 10
        assert costs["total_usd"] == pytest.approx(sum(x["usd"] for x in by_provider.values()))
        compared = client.get(f"/media/{media_id}/compare",
                              params={"a": "faster_whisper", "b": "deepgram"}).json()  # fmt: skip
        assert compared["a"]["provider"] == "faster_whisper"
        assert compared["b"]["cost_usd"] == by_provider["deepgram"]["usd"]
        assert compared["a"]["latency_ms"] is not None and compared["a"]["cost_usd"] is None
        assert 0 <= compared["wer"] < 0.3  # both fakes run the same local model
        assert {run["op"] for run in compared["diff"]} <= {"equal", "replace", "delete", "insert"}
        page = client.get(f"/ui/media/{media_id}/compare")
        assert page.status_code == 200 and "compare.js" in page.text
        assert (
            client.get(f"/media/{media_id}/compare", params={"a": "assemblyai"}).status_code == 404
        )

    # the CLI, as a user runs it
    shown = _cli(head_db, data_dir, {}, "costs", "--job", str(created.job_id), "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["total_usd"] == costs["total_usd"]
    table = _cli(
        head_db, data_dir, {}, "compare", str(media_id), "--a", "deepgram", "--b", "azure_speech"
    )
    assert table.returncode == 0, table.stderr
    assert "WER of azure_speech against deepgram" in table.stdout


def test_unavailable_cloud_provider_is_refused_before_anything_is_stored(
    head_db: str, tmp_path: Path
) -> None:
    speech = mf.speak_wav("refused", tmp_path / "refused.wav")
    done = _cli(head_db, tmp_path, {"MEDIAFLOW_DEEPGRAM_API_KEY": ""}, "analyze", str(speech),
                "--providers", "faster_whisper,deepgram", "--quiet")  # fmt: skip
    assert done.returncode == 65, done.stderr  # InvalidInput
    assert "MEDIAFLOW_DEEPGRAM_API_KEY" in done.stderr
    assert query(head_db, "SELECT count(*) FROM analysis_job") == [(0,)]
    listed = _cli(head_db, tmp_path, {"COLUMNS": "400"}, "providers")  # one row per line
    assert "no: no Deepgram API key: set MEDIAFLOW_DEEPGRAM_API_KEY" in " ".join(
        listed.stdout.split()
    )
