"""Speech to text with Google Cloud Speech-to-Text v2 (synchronous ``recognize``).

Wire format (https://cloud.google.com/speech-to-text/v2/docs/reference/rest/v2/projects.locations.recognizers/recognize):
``POST {base}/v2/projects/{project}/locations/{location}/recognizers/_:recognize`` (the
``_`` recognizer is the documented empty implicit one) with ``{"config":
{"autoDecodingConfig": {}, "languageCodes", "model", "features":
{"enableWordTimeOffsets", "enableWordConfidence", "enableAutomaticPunctuation"}},
"content": <base64 audio>}``; the key goes in ``x-goog-api-key``. The answer's
``results[]`` hold ``alternatives[0]`` (``transcript``, ``confidence``, ``words`` with
``startOffset``/``endOffset`` as Duration strings such as ``"1.500s"``),
``resultEndOffset`` and ``languageCode``; ``metadata.totalBilledDuration`` is billed.
Errors are ``{"error": {"code", "message", "status"}}``.

Synchronous recognize accepts at most 60 s of audio (and 10 MB): longer audio is sent
in overlapping 55 s chunks and stitched (``cloud.split``) rather than refused.
Plain httpx: google-cloud-speech pulls in gRPC and protobuf for one JSON call.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any, ClassVar

from mediaflow.db.enums import TranscriptionProvider
from mediaflow.errors import ProviderError
from mediaflow.providers.base import TranscriptOutput, Word
from mediaflow.providers.cloud.base import CloudTranscriber
from mediaflow.providers.cloud.transcript import mean_confidence, segments_from_words


def duration_seconds(value: Any) -> float:
    """A protobuf Duration in JSON (``"1.5s"``) as seconds."""
    if isinstance(value, int | float):
        return float(value)
    text = str(value)
    if not text.endswith("s"):
        raise ValueError(f"not a Duration: {text!r}")
    return float(text[:-1])


class GoogleSpeechProvider(CloudTranscriber):
    """Google Speech-to-Text v2 recognize with word offsets and confidences."""

    name: ClassVar[str] = TranscriptionProvider.GOOGLE_SPEECH.value
    vendor: ClassVar[str] = "Google Speech-to-Text"
    max_seconds: ClassVar[float | None] = 55.0  # documented limit 60 s, a margin kept
    max_bytes: ClassVar[int | None] = 7 * 1024 * 1024  # 10 MB request, base64 adds 4/3

    def credentials(self) -> tuple[dict[str, str], str | None]:
        """The API key and the project the recognizer lives in."""
        found, missing = self._key_from("google_speech_api_key", "Google Speech API key")
        if missing:
            return found, missing
        if not self.settings.google_speech_project:
            return {}, "no Google Cloud project: set MEDIAFLOW_GOOGLE_SPEECH_PROJECT"
        return found, None

    def _recognize(self, audio: Path, credentials: dict[str, str]) -> TranscriptOutput:
        settings = self.settings
        http = self._http(credentials["key"])
        recognizer = (
            f"projects/{settings.google_speech_project}/locations/"
            f"{settings.google_speech_location}/recognizers/_"
        )
        request = {
            "config": {
                "autoDecodingConfig": {},
                "languageCodes": [settings.google_speech_language],
                "model": settings.google_speech_model,
                "features": {
                    "enableWordTimeOffsets": True,
                    "enableWordConfidence": True,
                    "enableAutomaticPunctuation": True,
                },
            },
            "content": base64.b64encode(audio.read_bytes()).decode("ascii"),
        }
        body = http.json(
            "POST",
            f"{settings.google_speech_base_url.rstrip('/')}/v2/{recognizer}:recognize",
            headers={"x-goog-api-key": credentials["key"]},
            json=request,
        )
        try:
            return parse_recognize(body, model=settings.google_speech_model)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise ProviderError(
                f"Google Speech-to-Text: malformed answer ({type(exc).__name__}: {exc})"
            ) from exc


def parse_recognize(body: dict[str, Any], *, model: str) -> TranscriptOutput:
    """A v2 ``RecognizeResponse`` as a ``TranscriptOutput``."""
    results = body.get("results")
    if results is None and "metadata" not in body:
        raise KeyError("results")
    words: list[Word] = []
    texts: list[str] = []
    confidences: list[float | None] = []
    language = None
    for result in results or []:
        alternatives = result.get("alternatives") or []
        if not alternatives:
            continue
        best = alternatives[0]
        texts.append(str(best.get("transcript") or "").strip())
        confidences.append(best.get("confidence"))
        language = language or result.get("languageCode")
        for w in best.get("words") or []:
            confidence = w.get("confidence")
            words.append(
                Word(
                    start=round(duration_seconds(w.get("startOffset", "0s")), 3),
                    end=round(duration_seconds(w.get("endOffset", "0s")), 3),
                    word=str(w["word"]),
                    probability=round(float(confidence), 4) if confidence is not None else None,
                )
            )
    details: dict[str, Any] = {"engine": "google-speech-v2"}
    billed = (body.get("metadata") or {}).get("totalBilledDuration")
    if billed is not None:
        details["billing"] = {"audio_seconds": round(duration_seconds(billed), 3)}
    return TranscriptOutput(
        text=" ".join(t for t in texts if t),
        segments=segments_from_words(words),
        language=language.lower() if isinstance(language, str) else None,
        confidence=mean_confidence(confidences),
        model=model,
        details=details,
    )
