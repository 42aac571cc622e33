"""Edges of the shared cloud machinery: vendor error shapes, Retry-After, scrubbing,
polling deadlines, and audio a vendor cannot decode (each fake answers as its vendor)."""

from __future__ import annotations

import email.utils
import time
from pathlib import Path

import pytest

from mediaflow.config import Settings
from mediaflow.db.enums import MediaType
from mediaflow.errors import ProviderError, TransientProviderError
from mediaflow.providers.base import MediaInput
from mediaflow.providers.cloud.http import (
    RetryLater,
    poll,
    retry_after_seconds,
    scrub,
    vendor_message,
)
from mediaflow.providers.registry import ProviderRegistry
from tests.cloud.cases import SPEECH_CASES, Case

# how each vendor says it could not decode the audio (from its fake, after its docs)
UNDECODABLE = {
    "deepgram": "failed to process audio",
    "assemblyai": "does not appear to contain audio",
    "google_speech": "does not appear to be in a supported encoding",
    "aws_transcribe": "media format",
    "azure_speech": "Audio format is not supported",
}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"error": {"message": "bad model", "type": "invalid_request_error"}},
         "invalid_request_error: bad model"),  # OpenAI
        ({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}},
         "rate_limit_error: slow down"),  # Anthropic
        ({"error": {"code": 400, "message": "API key not valid.", "status": "INVALID_ARGUMENT"}},
         "INVALID_ARGUMENT: API key not valid."),  # Google
        ({"error": "Authentication error"}, "Authentication error"),  # AssemblyAI
        ({"err_code": "INVALID_AUTH", "err_msg": "Invalid credentials."},
         "INVALID_AUTH: Invalid credentials."),  # Deepgram
        ({"category": "INVALID_JSON", "message": "Invalid JSON submitted."},
         "INVALID_JSON: Invalid JSON submitted."),  # Deepgram (newer)
        ({"__type": "ThrottlingException", "message": "Rate exceeded"},
         "ThrottlingException: Rate exceeded"),  # AWS JSON
        ([1, 2], None),
        ({}, None),
    ],
)  # fmt: skip
def test_vendor_error_shapes(body: object, expected: str | None) -> None:
    assert vendor_message(body) == expected


def test_retry_after_forms() -> None:
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("-3") == 0.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (retry_after_seconds(later) or 0) <= 31


def test_scrub_replaces_every_secret_but_not_tiny_ones() -> None:
    assert scrub("key sk-123456 and sk-123456 again", ["sk-123456"]) == "key *** and *** again"
    assert scrub("a b", ["a", ""]) == "a b"  # a 1-letter "secret" would garble every message


def test_poll_gives_up_after_its_deadline_as_a_transient_error() -> None:
    calls: list[int] = []
    with pytest.raises(RetryLater, match=r"still running after 0\.05 s"):
        poll(lambda: calls.append(1) or "processing", lambda v: v == "done",
             interval_s=0.01, timeout_s=0.05, what="job x")  # fmt: skip
    assert len(calls) >= 2
    assert (
        poll(lambda: "done", lambda v: v == "done", interval_s=1, timeout_s=1, what="y") == "done"
    )


@pytest.mark.parametrize("case", SPEECH_CASES, ids=[c.id for c in SPEECH_CASES])
def test_audio_the_vendor_cannot_decode_fails_with_its_reason(case: Case, tmp_path: Path) -> None:
    noise = tmp_path / "noise.wav"
    noise.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio" * 20)
    with case.fake() as fake:
        registry = ProviderRegistry(Settings(**case.settings(fake, fake.api_key)))
        with pytest.raises(ProviderError) as caught:
            registry.transcriber(case.name).transcribe(
                MediaInput(noise, MediaType.AUDIO, audio_path=noise)
            )
    assert not isinstance(caught.value, TransientProviderError)
    assert UNDECODABLE[case.name] in str(caught.value)


def test_aws_uses_the_standard_credential_chain_and_endpoint(
    monkeypatch: pytest.MonkeyPatch, red_image: Path
) -> None:
    from tests.fakes.aws_server import FakeAWS

    with FakeAWS() as fake:
        for name, value in {
            "AWS_ACCESS_KEY_ID": fake.api_key, "AWS_SECRET_ACCESS_KEY": fake.secret_key,
            "AWS_DEFAULT_REGION": fake.region, "AWS_ENDPOINT_URL": fake.base_url,
        }.items():  # fmt: skip
            monkeypatch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION"):
            monkeypatch.delenv(name, raising=False)
        registry = ProviderRegistry(Settings())  # no MEDIAFLOW_AWS_* at all
        analyzer = registry.analyzer("aws_rekognition")
        assert analyzer.availability().available, analyzer.availability().reason
        outputs = analyzer.analyze(MediaInput(red_image, MediaType.IMAGE))
    assert {o.analysis_type for o in outputs} == {"labels", "ocr", "faces", "moderation"}
    assert all(r.answered == 200 for r in fake.requests) and len(fake.requests) == 4
