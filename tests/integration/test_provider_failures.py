"""A provider that crashes from the inside fails only its own step of the file.

No fake here: the real faster-whisper provider is pointed (MEDIAFLOW_WHISPER_MODEL)
at a model directory holding every file it checks for, filled with garbage, so it
reports itself available and then fails inside CTranslate2 when it loads.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mediaflow.config import get_settings
from mediaflow.db.enums import JobStatus, MediaFileStatus
from mediaflow.ingest import ingest
from mediaflow.pipeline.runner import run_job
from mediaflow.providers import registry
from mediaflow.providers.transcription.faster_whisper import ENV_VAR, REQUIRED_FILES
from mediaflow.storage import ContentStore
from tests import media_factory as mf
from tests.migration.helpers import query

pytestmark = pytest.mark.slow


@pytest.fixture
def broken_whisper_model(tmp_path: Path) -> Iterator[Path]:
    """MEDIAFLOW_WHISPER_MODEL -> a directory of garbage model files; undone afterwards."""
    model = tmp_path / "broken-model"
    model.mkdir()
    for name in REQUIRED_FILES:
        (model / name).write_bytes(b"\x00garbage, not a CTranslate2 model\xff" * 64)
    old = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = str(model)
    # Settings are read once per process and providers (with their loaded model) are
    # cached: both must be forgotten, before and after, or the good model is reused.
    get_settings.cache_clear()
    registry.clear_provider_cache()
    try:
        yield model
    finally:
        if old is None:
            os.environ.pop(ENV_VAR, None)
        else:
            os.environ[ENV_VAR] = old
        get_settings.cache_clear()
        registry.clear_provider_cache()


def test_a_crashing_provider_fails_only_its_step(
    head_db: str, tmp_path: Path, broken_whisper_model: Path
) -> None:
    speech = mf.speak_wav(mf.SPEECH_SENTENCE, tmp_path / "hello.wav")
    store = ContentStore(tmp_path / "store")
    # providers=None: the defaults, and the broken model still counts as available
    result = ingest([speech], name="crash", providers=None, options=None, url=head_db, store=store)
    assert "faster_whisper" in registry.default_transcription_providers()

    outcome = run_job(result.job_id, store=store, url=head_db)

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
