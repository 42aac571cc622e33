"""A provider that crashes from the inside fails only its own step of the file.

No fake here: the real faster-whisper provider is pointed (the whisper_model setting)
at a model directory holding every file it checks for, filled with garbage, so it
reports itself available and then fails inside CTranslate2 when it loads.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mediaflow.db.enums import JobStatus, MediaFileStatus
from mediaflow.pipeline.ingest import ingest
from mediaflow.pipeline.runner import run_job
from mediaflow.providers.transcription.faster_whisper import REQUIRED_FILES
from mediaflow.runtime import Runtime
from tests import media_factory as mf
from tests.conftest import make_runtime
from tests.migration.helpers import query

pytestmark = pytest.mark.slow


@pytest.fixture
def broken_whisper_runtime(head_db: str, tmp_path: Path) -> Iterator[Runtime]:
    """A runtime whose whisper_model is a directory of garbage model files.

    Its own settings and provider registry: no other runtime (nor test) sees the broken model.
    """
    model = tmp_path / "broken-model"
    model.mkdir()
    for name in REQUIRED_FILES:
        (model / name).write_bytes(b"\x00garbage, not a CTranslate2 model\xff" * 64)
    with make_runtime(head_db, tmp_path, whisper_model=str(model)) as runtime:
        yield runtime


def test_a_crashing_provider_fails_only_its_step(
    head_db: str, tmp_path: Path, broken_whisper_runtime: Runtime
) -> None:
    runtime = broken_whisper_runtime
    speech = mf.speak_wav(mf.SPEECH_SENTENCE, tmp_path / "hello.wav")
    # providers=None: the defaults, and the broken model still counts as available
    result = ingest(runtime, [speech], name="crash")
    assert "faster_whisper" in runtime.providers.defaults("transcription")

    outcome = run_job(runtime, result.job_id)

    assert outcome.status is JobStatus.COMPLETED
    (file,) = outcome.files
    assert file.status is MediaFileStatus.COMPLETED
    assert len(file.provider_failures) == 1
    assert file.provider_failures[0].startswith("faster_whisper: could not load")

    # processing_log names the provider and the reason
    failed = query(
        head_db,
        "SELECT details->>'provider', details->>'error_code', message FROM processing_log "
        "WHERE stage = 'transcription' AND status = 'failed'",
    )
    assert len(failed) == 1
    provider, code, message = failed[0]
    assert (provider, code) == ("faster_whisper", "provider_unavailable")
    assert "could not load the faster-whisper model" in message
    assert query(head_db, "SELECT count(*) FROM processing_log WHERE status = 'retrying'") == [(0,)]
    assert query(head_db, "SELECT count(*) FROM transcription") == [(0,)]

    # the file's other providers completed and stored their results
    completed = {
        p
        for (p,) in query(
            head_db,
            "SELECT details->>'provider' FROM processing_log "
            "WHERE stage = 'analysis' AND status = 'completed'",
        )
    }
    assert "audio_features" in completed
    stored = {p for (p,) in query(head_db, "SELECT DISTINCT provider::text FROM analysis_result")}
    assert stored == completed
    status, error = query(head_db, "SELECT status::text, error FROM media_file")[0]
    assert status == "completed" and error.startswith("faster_whisper: could not load")
    finalize = query(
        head_db,
        "SELECT status::text, details->'provider_failures' FROM processing_log "
        "WHERE stage = 'finalize'",
    )
    assert finalize[0][0] == "completed" and len(finalize[0][1]) == 1
    assert query(head_db, "SELECT status::text, error FROM analysis_job") == [("completed", None)]
