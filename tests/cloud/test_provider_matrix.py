"""Every cloud provider against its fake: success, a wrong key, the vendor's 400, a
429 with Retry-After, a 5xx then success, a timeout, a malformed body.

Each provider is called directly (no database): the pipeline's own retry loop
(``with_retries``) drives the 5xx case. Every failure must be the right branch of the
error tree (transient or not), carry the vendor's message, and never contain a key;
the fakes echo a wrong key in their 401 text to catch a provider that does not scrub.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jiwer
import pytest

from mediaflow.config import Settings
from mediaflow.db.enums import MediaType
from mediaflow.errors import ProviderError, TransientProviderError
from mediaflow.pipeline.stages import with_retries
from mediaflow.providers.base import AnalysisOutput, MediaInput, TranscriptOutput
from mediaflow.providers.registry import ProviderRegistry
from tests import media_factory as mf
from tests.cloud.cases import SPEECH_CASES, VISION_CASES, Case
from tests.fakes.cloud import PASS, FakeVendor, Reply

pytestmark = pytest.mark.slow

ALL = [*SPEECH_CASES, *VISION_CASES]
WRONG_KEY = "wrong-secret-key-9f8e7d6c5b4a"
DIARIZING = {"deepgram", "assemblyai", "aws_transcribe", "azure_speech"}
VENDOR_MESSAGE = "mediaflow test: parameter 'x' is not valid"


@pytest.fixture(params=ALL, ids=[c.id for c in ALL])
def cloud_case(request: pytest.FixtureRequest) -> Iterator[tuple[Case, FakeVendor]]:
    """A case and its running fake."""
    case: Case = request.param
    with case.fake() as fake:
        yield case, fake


def _media(case: Case, speech: Path, image: Path) -> MediaInput:
    if case.kind == "transcription":
        return MediaInput(path=speech, media_type=MediaType.AUDIO, audio_path=speech, name="s.wav")
    return MediaInput(path=image, media_type=MediaType.IMAGE, name="red.png")


def _call(case: Case, fake: FakeVendor, media: MediaInput, key: str | None = None,
          **overrides: Any) -> TranscriptOutput | list[AnalysisOutput]:  # fmt: skip
    settings = Settings(**{**case.settings(fake, key or fake.api_key), **overrides})
    registry = ProviderRegistry(settings)
    provider = registry.get(case.kind, case.name)  # type: ignore[arg-type]
    assert provider.availability().available, provider.availability().reason
    if case.kind == "transcription":
        return registry.transcriber(case.name).transcribe(media)
    return registry.analyzer(case.name).analyze(media)


def _normalise(text: str) -> str:
    return jiwer.RemovePunctuation()(text.lower()).replace("mediaflow", "media flow").strip()


def _check_success(case: Case, output: TranscriptOutput | list[AnalysisOutput]) -> None:
    if isinstance(output, TranscriptOutput):
        assert jiwer.wer(_normalise(mf.SPEECH_SENTENCE), _normalise(output.text)) < 0.35
        words = [w for s in output.segments for w in s.words]
        assert len(words) >= 6
        assert all(0 <= w.start <= w.end for w in words)
        assert output.language is not None and output.language.startswith("en")
        assert output.details["billing"]["audio_seconds"] > 0
        assert output.confidence is not None and 0 < output.confidence <= 1
        if case.name in DIARIZING:  # speakers where the vendor gives them
            assert all(s.speaker for s in output.segments), [s.speaker for s in output.segments]
    else:
        types = {o.analysis_type for o in output}
        assert types & {"labels", "caption"}, types
        assert output[0].billing, "billed units are reported"
        labels = next((o for o in output if o.analysis_type == "labels"), None)
        if labels is not None:
            names = " ".join(str(x.get("name", "")) for x in labels.result["labels"]).lower()
            assert "red" in names  # the fakes see the picture really sent


def test_success(cloud_case: tuple[Case, FakeVendor], speech_16k: Path, red_image: Path) -> None:
    case, fake = cloud_case
    output = _call(case, fake, _media(case, speech_16k, red_image))
    _check_success(case, output)
    assert all(r.answered < 400 for r in fake.requests)


def test_wrong_key(cloud_case: tuple[Case, FakeVendor], speech_16k: Path, red_image: Path) -> None:
    case, fake = cloud_case
    with pytest.raises(ProviderError) as caught:
        _call(case, fake, _media(case, speech_16k, red_image), key=WRONG_KEY)
    assert not isinstance(caught.value, TransientProviderError)
    assert WRONG_KEY not in str(caught.value) and fake.api_key not in str(caught.value)
    assert fake.requests[-1].answered in (400, 401, 403)


def test_vendor_400(cloud_case: tuple[Case, FakeVendor], speech_16k: Path, red_image: Path) -> None:
    case, fake = cloud_case
    fake.script(*[PASS] * case.lead, Reply(400, fake.error_body(400, VENDOR_MESSAGE)))
    with pytest.raises(ProviderError) as caught:
        _call(case, fake, _media(case, speech_16k, red_image))
    assert not isinstance(caught.value, TransientProviderError)
    assert VENDOR_MESSAGE in str(caught.value) and "400" in str(caught.value)


def test_rate_limited(
    cloud_case: tuple[Case, FakeVendor], speech_16k: Path, red_image: Path
) -> None:
    case, fake = cloud_case
    fake.script(*[PASS] * case.lead, Reply(429, headers={"Retry-After": "7"}))
    with pytest.raises(TransientProviderError) as caught:
        _call(case, fake, _media(case, speech_16k, red_image))
    assert getattr(caught.value, "retry_after_s", None) == 7.0
    assert fake.api_key not in str(caught.value)


def test_server_error_then_success(
    cloud_case: tuple[Case, FakeVendor], speech_16k: Path, red_image: Path
) -> None:
    case, fake = cloud_case
    fake.script(*[PASS] * case.lead, Reply(503))
    retries: list[str] = []
    media = _media(case, speech_16k, red_image)
    output = with_retries(
        lambda: _call(case, fake, media),
        lambda attempt, exc: retries.append(str(exc)),
        attempts=3, max_wait_s=0.0,
    )  # fmt: skip
    _check_success(case, output)
    assert len(retries) == 1 and "503" in retries[0]
    assert any(r.answered == 503 for r in fake.requests)


def test_timeout(cloud_case: tuple[Case, FakeVendor], speech_16k: Path, red_image: Path) -> None:
    case, fake = cloud_case
    fake.script(*[PASS] * case.lead, Reply(hold=True))
    with pytest.raises(TransientProviderError):
        _call(case, fake, _media(case, speech_16k, red_image), provider_timeout_s=0.5)


def test_malformed_body(
    cloud_case: tuple[Case, FakeVendor], speech_16k: Path, red_image: Path
) -> None:
    case, fake = cloud_case
    fake.script(*[PASS] * case.malformed_lead,
                Reply(200, b"<html><body>gateway says hi</body></html>", content_type="text/html"))  # fmt: skip
    with pytest.raises(ProviderError) as caught:
        _call(case, fake, _media(case, speech_16k, red_image))
    assert not isinstance(caught.value, TransientProviderError)
    assert "malformed" in str(caught.value).lower()
