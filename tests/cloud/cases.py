"""Each cloud provider with its fake: how to start the fake and point settings at it.

One ``Case`` per provider; the matrix tests (test_provider_matrix.py) and the
acceptance test use them. ``lead`` is how many requests of a call go by before the
one a scripted failure should answer (Amazon Transcribe first puts the audio in S3;
the failure should hit Transcribe itself); ``malformed_lead`` the same for a
malformed body (it must land where the provider parses the answer).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.assemblyai_server import FakeAssemblyAI
from tests.fakes.aws_server import FakeAWS
from tests.fakes.azure_server import FakeAzure
from tests.fakes.cloud import FakeVendor
from tests.fakes.deepgram_server import FakeDeepgram
from tests.fakes.google_server import FakeGoogle
from tests.fakes.openai_chat_server import FakeOpenAIChat

FAST_POLL = {"cloud_poll_interval_s": 0.01}


def _aws(fake: FakeVendor, key: str) -> dict[str, Any]:
    return {
        "aws_access_key_id": key, "aws_secret_access_key": FakeAWS.secret_key,
        "aws_region": FakeAWS.region, "aws_endpoint_url": fake.base_url,
        "aws_transcribe_bucket": "media-in", **FAST_POLL,
    }  # fmt: skip


@dataclass(frozen=True)
class Case:
    """One cloud provider and its fake."""

    kind: str
    name: str
    fake: Callable[[], FakeVendor]
    settings: Callable[[FakeVendor, str], dict[str, Any]]
    lead: int = 0
    malformed_lead: int = 0

    @property
    def id(self) -> str:
        """``kind:name``."""
        return f"{self.kind}:{self.name}"


SPEECH_CASES = [
    Case("transcription", "deepgram", FakeDeepgram,
         lambda f, k: {"deepgram_api_key": k, "deepgram_base_url": f.base_url}),
    Case("transcription", "assemblyai", FakeAssemblyAI,
         lambda f, k: {"assemblyai_api_key": k, "assemblyai_base_url": f.base_url, **FAST_POLL},
         malformed_lead=3),
    Case("transcription", "google_speech", FakeGoogle,
         lambda f, k: {"google_speech_api_key": k, "google_speech_base_url": f.base_url,
                       "google_speech_project": "demo-project"}),
    Case("transcription", "aws_transcribe", FakeAWS, _aws, lead=1, malformed_lead=4),
    Case("transcription", "azure_speech", FakeAzure,
         lambda f, k: {"azure_speech_api_key": k, "azure_speech_base_url": f.base_url}),
]  # fmt: skip

VISION_CASES = [
    Case("analysis", "openai", FakeOpenAIChat,
         lambda f, k: {"openai_api_key": k, "openai_base_url": f.base_url + "/v1"}),
    Case("analysis", "anthropic", FakeAnthropic,
         lambda f, k: {"anthropic_api_key": k, "anthropic_base_url": f.base_url}),
    Case("analysis", "google_vision", FakeGoogle,
         lambda f, k: {"google_vision_api_key": k, "google_vision_base_url": f.base_url}),
    Case("analysis", "aws_rekognition", FakeAWS, _aws),
    Case("analysis", "azure_vision", FakeAzure,
         lambda f, k: {"azure_vision_api_key": k, "azure_vision_base_url": f.base_url}),
]  # fmt: skip


def case(case_id: str) -> Case:
    """The case named ``kind:name``."""
    return next(c for c in [*SPEECH_CASES, *VISION_CASES] if c.id == case_id)
