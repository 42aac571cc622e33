"""Speech to text with Azure AI Speech fast transcription (synchronous REST).

Wire format (https://learn.microsoft.com/azure/ai-services/speech-service/fast-transcription-create,
https://learn.microsoft.com/rest/api/speechtotext/transcriptions/transcribe):
``POST {endpoint}/speechtotext/transcriptions:transcribe?api-version=2024-11-15``,
``multipart/form-data`` with an ``audio`` file part and a ``definition`` part (JSON:
``{"locales": [...], "diarization": {"enabled": true, "maxSpeakers": 4}}``); the key
goes in ``Ocp-Apim-Subscription-Key``. The answer has ``durationMilliseconds``,
``combinedPhrases[].text`` and ``phrases[]`` (``offsetMilliseconds``,
``durationMilliseconds``, ``text``, ``words[]`` with the same times, ``locale``,
``confidence``, ``speaker``). Errors are ``{"error": {"code", "message"}}``. The
endpoint is ``https://{region}.api.cognitive.microsoft.com`` unless
``MEDIAFLOW_AZURE_SPEECH_BASE_URL`` names another.

Fast transcription takes up to 2 hours / 300 MB per request; longer audio is split.
Plain httpx: the Speech SDK is a native library built for streaming, not this call.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from mediaflow.db.enums import TranscriptionProvider
from mediaflow.errors import ProviderError
from mediaflow.providers.base import Segment, TranscriptOutput, Word
from mediaflow.providers.cloud.base import CloudTranscriber
from mediaflow.providers.cloud.transcript import mean_confidence

API_VERSION = "2024-11-15"


class AzureSpeechProvider(CloudTranscriber):
    """Azure AI Speech fast transcription with diarization."""

    name: ClassVar[str] = TranscriptionProvider.AZURE_SPEECH.value
    vendor: ClassVar[str] = "Azure AI Speech"
    max_seconds: ClassVar[float | None] = 2 * 3600 - 60
    max_bytes: ClassVar[int | None] = 300 * 1024 * 1024

    def credentials(self) -> tuple[dict[str, str], str | None]:
        """The Speech resource key."""
        return self._key_from("azure_speech_api_key", "Azure Speech key")

    def endpoint(self) -> str:
        """The Speech resource's endpoint (from the region unless set)."""
        base = self.settings.azure_speech_base_url
        region = self.settings.azure_speech_region
        return (base or f"https://{region}.api.cognitive.microsoft.com").rstrip("/")

    def _recognize(self, audio: Path, credentials: dict[str, str]) -> TranscriptOutput:
        settings = self.settings
        key = credentials["key"]
        http = self._http(key)
        definition = {
            "locales": list(settings.azure_speech_locales),
            "diarization": {"enabled": True, "maxSpeakers": 4},
        }
        body = http.json(
            "POST",
            f"{self.endpoint()}/speechtotext/transcriptions:transcribe",
            params={"api-version": API_VERSION},
            headers={"Ocp-Apim-Subscription-Key": key},
            files={
                "audio": (audio.name, audio.read_bytes(), "audio/wav"),
                "definition": (None, json.dumps(definition), "application/json"),
            },
        )
        try:
            return parse_transcribe(body, model=f"fast-transcription-{API_VERSION}")
        except (KeyError, TypeError, ValueError) as exc:
            raise ProviderError(
                f"Azure AI Speech: malformed answer ({type(exc).__name__}: {exc})"
            ) from exc


def _seconds(ms: Any) -> float:
    return round(float(ms) / 1000, 3)


def parse_transcribe(body: dict[str, Any], *, model: str) -> TranscriptOutput:
    """A fast-transcription answer as a ``TranscriptOutput``."""
    phrases = body["phrases"]
    segments = []
    for phrase in phrases:
        start = _seconds(phrase["offsetMilliseconds"])
        words = [
            Word(
                start=_seconds(w["offsetMilliseconds"]),
                end=_seconds(float(w["offsetMilliseconds"]) + float(w["durationMilliseconds"])),
                word=str(w["text"]),
            )
            for w in phrase.get("words") or []
        ]
        speaker = phrase.get("speaker")
        segments.append(
            Segment(
                start=start,
                end=_seconds(
                    float(phrase["offsetMilliseconds"]) + float(phrase["durationMilliseconds"])
                ),
                text=str(phrase["text"]).strip(),
                words=words,
                confidence=round(float(phrase["confidence"]), 4)
                if phrase.get("confidence") is not None
                else None,
                speaker=None if speaker is None else f"speaker_{speaker}",
            )
        )
    combined = body.get("combinedPhrases") or []
    text = " ".join(str(c.get("text") or "").strip() for c in combined) or " ".join(
        s.text for s in segments
    )
    locale = next((p.get("locale") for p in phrases if p.get("locale")), None)
    details: dict[str, Any] = {"engine": "azure-fast-transcription"}
    if body.get("durationMilliseconds") is not None:
        details["billing"] = {"audio_seconds": _seconds(body["durationMilliseconds"])}
    return TranscriptOutput(
        text=text.strip(),
        segments=segments,
        language=locale.split("-")[0].lower() if isinstance(locale, str) else None,
        confidence=mean_confidence([s.confidence for s in segments]),
        model=model,
        details=details,
    )
