"""The ``openai`` transcription provider through the real pipeline, against a local fake.

The fake (tests/fakes/openai_server.py) is a real HTTP server speaking the audio
API's documented wire format and transcribing the upload with the local tiny.en
model. Everything else is real: ingest, the stages, the retry loop, PostgreSQL
(service and embedded), a local analysis provider running next to the cloud one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import wave
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from io import BytesIO
from pathlib import Path
from typing import Any

import jiwer
import pytest

from mediaflow.config import Settings
from mediaflow.db.enums import JobStatus, MediaType
from mediaflow.errors import ProviderError, TransientProviderError
from mediaflow.pipeline.ingest import ingest
from mediaflow.pipeline.runner import JobOutcome, run_job
from mediaflow.providers.base import MediaInput
from mediaflow.providers.transcription.openai import (
    OpenAITranscriptionProvider,
    RetryLater,
    language_code,
    parse_verbose_json,
)
from mediaflow.runtime import Runtime
from tests import media_factory as mf
from tests.conftest import make_runtime
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.migration.helpers import query

pytestmark = pytest.mark.slow

KEY_ENV = "MEDIAFLOW_OPENAI_API_KEY"
WRONG_KEY = "sk-wrong-secret-key-424242"
# a hand-written verbose_json answer, as the audio API documents it
VERBOSE_JSON: dict[str, Any] = {
    "task": "transcribe",
    "language": "english",
    "duration": 2.5,
    "text": "An answer that came in time.",
    "segments": [
        {
            "id": 0, "seek": 0, "start": 0.0, "end": 2.5, "text": " An answer that came in time.",
            "tokens": [], "temperature": 0.0, "avg_logprob": -0.2, "compression_ratio": 1.0,
            "no_speech_prob": 0.01,
        }
    ],
}  # fmt: skip
MakeRuntime = Callable[..., Runtime]


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    """A running fake audio API on a free loopback port."""
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def openai_settings(fake: FakeOpenAI) -> dict[str, object]:
    """Settings pointing the provider at the fake with its key, and retries that wait 50 ms."""
    return {
        "openai_api_key": fake.api_key,
        "openai_base_url": fake.base_url,
        "provider_retry_max_wait_s": 0.05,
    }


@pytest.fixture
def cloud_runtime(
    head_db: str, tmp_path: Path, openai_settings: dict[str, object]
) -> Iterator[MakeRuntime]:
    """Make a runtime on ``head_db`` with ``openai_settings`` (keywords override them,
    None unsets one); every runtime made is closed afterwards."""
    with ExitStack() as stack:

        def make(**overrides: object) -> Runtime:
            settings = {**openai_settings, **overrides}
            return stack.enter_context(make_runtime(head_db, tmp_path, **settings))

        yield make


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """espeak-ng saying the known sentence (22.05 kHz WAV, as a user would drop it in)."""
    return mf.speak_wav(mf.SPEECH_SENTENCE, tmp_path_factory.mktemp("speech") / "hello.wav")


def _run(runtime: Runtime, media: Path, providers: list[str]) -> JobOutcome:
    result = ingest(runtime, [media], name="cloud", providers=providers)
    return run_job(runtime, result.job_id)


def _transcription_log(url: str) -> list[tuple[str, int, str | None, dict[str, Any]]]:
    return [
        (status, attempt, message, details)
        for status, attempt, message, details in query(
            url,
            "SELECT status::text, attempt, message, details FROM processing_log "
            "WHERE stage = 'transcription' ORDER BY id",
        )
    ]


def _analysis_completed(url: str) -> list[str]:
    return [
        provider
        for (provider,) in query(
            url,
            "SELECT details->>'provider' FROM processing_log "
            "WHERE stage = 'analysis' AND status = 'completed' ORDER BY id",
        )
    ]


def _normalise(text: str) -> str:
    return jiwer.RemovePunctuation()(text.lower()).replace("mediaflow", "media flow").strip()


# ----------------------------------------------------------------------------- pipeline


def test_transcribes_through_the_pipeline(
    head_db: str, speech: Path, fake: FakeOpenAI, cloud_runtime: MakeRuntime
) -> None:
    runtime = cloud_runtime()
    outcome = _run(runtime, speech, ["openai", "audio_features"])

    assert outcome.status is JobStatus.COMPLETED
    assert outcome.files[0].provider_failures == []
    rows = query(
        head_db,
        "SELECT provider::text, model, language, text, segments, confidence, is_active "
        "FROM transcription",
    )
    assert len(rows) == 1
    provider, model, language, text, segments, confidence, active = rows[0]
    assert (provider, model, language, active) == ("openai", "whisper-1", "en", True)
    assert jiwer.wer(_normalise(mf.SPEECH_SENTENCE), _normalise(text)) < 0.3
    assert 0 < confidence <= 1
    words = [w for s in segments for w in s["words"]]
    assert len(words) >= 6
    for segment in segments:  # every word sits inside the segment it was attached to
        assert segment["confidence"] is not None
        for word in segment["words"]:
            middle = (word["start"] + word["end"]) / 2
            assert segment["start"] - 0.5 <= middle <= segment["end"] + 0.5
    assert _analysis_completed(head_db) == ["audio_features"]

    # the request was the documented one, carrying the pipeline's 16 kHz mono WAV
    (request,) = fake.requests
    assert request.authorized
    assert request.fields == {
        "model": ["whisper-1"],
        "response_format": ["verbose_json"],
        "timestamp_granularities[]": ["segment", "word"],
    }
    assert request.file_name is not None and request.file_name.endswith(".wav")
    assert request.file_bytes is not None
    with wave.open(BytesIO(request.file_bytes)) as uploaded:
        assert (uploaded.getframerate(), uploaded.getnchannels()) == (16000, 1)

    # openai is never a default, even with its key set
    assert runtime.providers.transcriber("openai").availability().available
    assert "openai" not in runtime.providers.defaults("transcription")


def test_two_rate_limits_then_success(
    head_db: str, speech: Path, fake: FakeOpenAI, cloud_runtime: MakeRuntime
) -> None:
    fake.script(Reply(429, headers={"Retry-After": "0"}), Reply(429, headers={"Retry-After": "0"}))
    outcome = _run(cloud_runtime(), speech, ["openai"])

    assert outcome.status is JobStatus.COMPLETED
    log = _transcription_log(head_db)
    assert [(status, attempt) for status, attempt, _, _ in log] == [
        ("started", 1),
        ("retrying", 1),
        ("retrying", 2),
        ("completed", 3),
    ]
    for _, _, message, details in log[1:3]:
        assert message is not None and "HTTP 429" in message and "Rate limit" in message
        assert details == {"provider": "openai"}
    assert query(
        head_db, "SELECT provider::text, count(*) FROM transcription WHERE is_active GROUP BY 1"
    ) == [("openai", 1)]
    assert [r.answered for r in fake.requests] == [429, 429, 200]


def test_persistent_server_errors_fail_only_the_openai_step(
    head_db: str, speech: Path, fake: FakeOpenAI, cloud_runtime: MakeRuntime
) -> None:
    fake.script(*[Reply(500) for _ in range(10)])
    outcome = _run(cloud_runtime(), speech, ["openai", "audio_features"])

    assert len(fake.requests) == 3  # provider_retry_attempts (default 3), then it gives up
    assert outcome.status is JobStatus.COMPLETED
    log = _transcription_log(head_db)
    assert [(status, attempt) for status, attempt, _, _ in log] == [
        ("started", 1),
        ("retrying", 1),
        ("retrying", 2),
        ("failed", 3),
    ]
    _, _, message, details = log[-1]
    assert message is not None
    assert "HTTP 500" in message and "The server had an error" in message
    assert details["provider"] == "openai" and details["error_code"] == "provider_transient"
    assert query(head_db, "SELECT count(*) FROM transcription") == [(0,)]
    # the local provider on the same file still ran, and the file and job completed
    assert _analysis_completed(head_db) == ["audio_features"]
    assert (
        query(head_db, "SELECT count(*) FROM analysis_result WHERE provider = 'audio_features'")[0][
            0
        ]
        >= 1
    )
    status, error = query(head_db, "SELECT status::text, error FROM media_file")[0]
    assert status == "completed" and error.startswith("openai: OpenAI audio API answered HTTP 500")
    assert query(head_db, "SELECT status::text FROM analysis_job") == [("completed",)]


def test_wrong_key_fails_at_once_and_never_shows_the_key(
    head_db: str, speech: Path, fake: FakeOpenAI, cloud_runtime: MakeRuntime
) -> None:
    outcome = _run(cloud_runtime(openai_api_key=WRONG_KEY), speech, ["openai", "audio_features"])

    assert len(fake.requests) == 1 and not fake.requests[0].authorized  # no retries
    assert outcome.status is JobStatus.COMPLETED
    log = _transcription_log(head_db)
    assert [(status, attempt) for status, attempt, _, _ in log] == [("started", 1), ("failed", 1)]
    message = log[-1][2]
    assert message is not None and "HTTP 401" in message and "Incorrect API key" in message
    assert log[-1][3]["error_code"] == "provider"
    # The fake echoes the whole key in its 401 message; none of it reaches the database.
    pattern = f"%{WRONG_KEY}%"
    leaks = query(
        head_db,
        "SELECT (SELECT count(*) FROM processing_log WHERE message LIKE :p OR details::text LIKE :p)"
        " + (SELECT count(*) FROM media_file WHERE error LIKE :p)"
        " + (SELECT count(*) FROM analysis_job WHERE coalesce(error, '') LIKE :p "
        "    OR options::text LIKE :p OR metadata::text LIKE :p)",
        p=pattern,
    )
    assert leaks == [(0,)]
    assert "***" in message
    assert _analysis_completed(head_db) == ["audio_features"]


def test_a_client_timeout_is_retried(
    head_db: str, speech: Path, fake: FakeOpenAI, cloud_runtime: MakeRuntime
) -> None:
    # the first request stalls until the test ends (however fast or slow this machine
    # is, the client's timeout fires first); the retry gets an answer at once
    # the held request always times out, so a generous timeout costs only test time,
    # while the retry still gets that long to be answered on a loaded machine
    runtime = cloud_runtime(provider_timeout_s=15)
    fake.script(
        Reply(200, body={"text": "too late"}, hold=True),
        Reply(200, body=VERBOSE_JSON),
    )
    outcome = _run(runtime, speech, ["openai"])

    assert outcome.status is JobStatus.COMPLETED
    log = _transcription_log(head_db)
    assert [(status, attempt) for status, attempt, _, _ in log] == [
        ("started", 1),
        ("retrying", 1),
        ("completed", 2),
    ]
    assert log[1][2] is not None and "no answer from the OpenAI audio API within 15 s" in log[1][2]
    (text,) = query(head_db, "SELECT text FROM transcription WHERE is_active")[0]
    assert text == VERBOSE_JSON["text"]


def test_missing_key_is_refused_up_front_and_fails_only_its_step_later(
    head_db: str, tmp_path: Path, speech: Path, fake: FakeOpenAI, cloud_runtime: MakeRuntime
) -> None:
    runtime = cloud_runtime(openai_api_key=None)

    (info,) = [i for i in runtime.providers.infos("transcription") if i.name == "openai"]
    assert not info.available and info.needs_key
    assert KEY_ENV in info.reason

    # `mediaflow providers` shows it unavailable, with the setting to set
    env = {k: v for k, v in os.environ.items() if k != KEY_ENV}
    shown = subprocess.run(
        [sys.executable, "-m", "mediaflow", "providers"],
        env={**env, "COLUMNS": "250"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    # (the openai name has an analysis provider too since issue 13: vision chat)
    (line,) = [
        line for line in shown.stdout.splitlines() if " openai " in line and "transcription" in line
    ]
    assert "no: no OpenAI API key" in line and KEY_ENV in line

    # Asked for by name in a request, it is refused before anything is stored
    mediaflow_env = {
        **env,
        "MEDIAFLOW_DATABASE_URL": head_db,
        "MEDIAFLOW_DATA_DIR": str(tmp_path),
        "MEDIAFLOW_OPENAI_BASE_URL": fake.base_url,  # were it asked, the fake would see it
    }
    refused = subprocess.run(
        [sys.executable, "-m", "mediaflow", "analyze", str(speech), "--providers", "openai"],
        env=mediaflow_env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert refused.returncode == 65, refused.stderr
    assert "provider 'openai' cannot run here" in refused.stderr and KEY_ENV in refused.stderr
    assert query(head_db, "SELECT count(*) FROM analysis_job") == [(0,)]

    # A job that already names it (queued before the key was removed) fails only that
    # step, with the reason, without retries or a request; the other providers still run.
    outcome = _run(runtime, speech, ["openai", "audio_features"])
    assert fake.requests == []
    assert outcome.status is JobStatus.COMPLETED
    log = _transcription_log(head_db)
    assert [(status, attempt) for status, attempt, _, _ in log] == [("started", 1), ("failed", 1)]
    assert log[-1][2] is not None and KEY_ENV in log[-1][2]
    assert log[-1][3]["error_code"] == "provider_unavailable"
    assert query(head_db, "SELECT count(*) FROM transcription") == [(0,)]
    assert _analysis_completed(head_db) == ["audio_features"]


# ----------------------------------------------------------------------------- provider alone


def test_bad_requests_carry_the_api_message(
    tmp_path: Path, speech: Path, fake: FakeOpenAI, openai_settings: dict[str, object]
) -> None:
    media = MediaInput(path=speech, media_type=MediaType.AUDIO, audio_path=speech)

    def provider_with(**overrides: object) -> OpenAITranscriptionProvider:
        settings = {**openai_settings, **overrides}
        return OpenAITranscriptionProvider(Settings(data_dir=tmp_path, **settings))  # type: ignore[arg-type]

    provider = provider_with(openai_transcription_model="whisper-9")
    with pytest.raises(ProviderError, match=r"HTTP 400: The model `whisper-9` does not exist"):
        provider.transcribe(media)

    provider = provider_with(openai_transcription_model="whisper-1")
    fake.script(Reply(413, body={"error": {"message": "Maximum content size limit exceeded"}}))
    with pytest.raises(ProviderError, match="HTTP 413: Maximum content size") as raised:
        provider.transcribe(media)
    assert not raised.value.retryable

    fake.script(Reply(503, headers={"Retry-After": "7"}))
    with pytest.raises(RetryLater) as later:
        provider.transcribe(media)
    assert later.value.retryable and later.value.retry_after_s == 7.0

    garbage = tmp_path / "noise.wav"
    garbage.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio at all")
    with pytest.raises(ProviderError, match="HTTP 400: Invalid file format"):
        provider.transcribe(
            MediaInput(path=garbage, media_type=MediaType.AUDIO, audio_path=garbage)
        )

    # the discard port: nothing listens
    provider = provider_with(openai_base_url="http://127.0.0.1:9/v1")
    with pytest.raises(
        TransientProviderError, match=r"cannot reach the OpenAI audio API at 127\.0\.0\.1"
    ):
        provider.transcribe(media)


def test_words_go_to_the_segment_they_fall_in() -> None:
    body = {
        "task": "transcribe",
        "language": "german",
        "duration": 4.0,
        "text": "eins zwei drei vier",
        "segments": [
            {"id": 0, "start": 0.0, "end": 1.5, "text": " eins zwei", "avg_logprob": -0.1},
            {"id": 1, "start": 2.0, "end": 4.0, "text": " drei vier", "avg_logprob": -0.5},
        ],
        "words": [
            {"word": "eins", "start": 0.1, "end": 0.6},
            {"word": "zwei", "start": 1.2, "end": 1.7},  # straddles the end of segment 0
            {"word": "drei", "start": 1.8, "end": 2.4},  # in the gap, nearer segment 1
            {"word": "vier", "start": 3.0, "end": 3.6},
        ],
    }
    output = parse_verbose_json(body, model="whisper-1")
    assert [[w.word for w in s.words] for s in output.segments] == [
        ["eins", "zwei"],
        ["drei", "vier"],
    ]
    assert output.language == "de"
    assert [s.confidence for s in output.segments] == [0.9048, 0.6065]
    assert output.confidence == pytest.approx((0.9048 * 2 + 0.6065 * 2) / 4, abs=1e-4)
    assert language_code("en") == "en" and language_code(None) is None
