"""Speech to text with Deepgram's pre-recorded API (``POST {base}/v1/listen``).

Wire format (https://developers.deepgram.com/reference/speech-to-text-api/listen,
https://developers.deepgram.com/docs/getting-started-with-pre-recorded-audio): the
WAV is the raw request body (``Content-Type: audio/wav``); options are query
parameters (``model``, ``smart_format``, ``punctuate``, ``diarize``, ``utterances``,
``detect_language``); the key goes in ``Authorization: Token <key>``. The answer's
``results.channels[0].alternatives[0]`` holds ``transcript``, ``confidence`` and
``words`` (``word``, ``punctuated_word``, ``start``, ``end``, ``confidence``,
``speaker``); ``results.utterances`` are speaker turns; ``metadata.duration`` is the
billed audio length. Errors are ``{"err_code", "err_msg", "request_id"}``.

Plain httpx: Deepgram's SDK is large (websockets, many generated types) for one POST.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from mediaflow.db.enums import TranscriptionProvider
from mediaflow.errors import ProviderError
from mediaflow.providers.base import Segment, TranscriptOutput, Word
from mediaflow.providers.cloud.base import CloudTranscriber
from mediaflow.providers.cloud.transcript import segments_from_words


class DeepgramProvider(CloudTranscriber):
    """Deepgram pre-recorded transcription with diarization and language detection."""

    name: ClassVar[str] = TranscriptionProvider.DEEPGRAM.value
    vendor: ClassVar[str] = "Deepgram"
    max_bytes: ClassVar[int | None] = 2 * 1024**3  # documented 2 GB upload limit

    def credentials(self) -> tuple[dict[str, str], str | None]:
        """The Deepgram key."""
        return self._key_from("deepgram_api_key", "Deepgram API key")

    def _recognize(self, audio: Path, credentials: dict[str, str]) -> TranscriptOutput:
        settings = self.settings
        http = self._http(credentials["key"])
        params = {
            "model": settings.deepgram_model,
            "smart_format": "true",
            "punctuate": "true",
            "diarize": "true",
            "utterances": "true",
            "detect_language": "true",
        }
        body = http.json(
            "POST",
            settings.deepgram_base_url.rstrip("/") + "/v1/listen",
            params=params,
            headers={"Authorization": f"Token {credentials['key']}", "Content-Type": "audio/wav"},
            content=audio.read_bytes(),
        )
        try:
            return parse_listen(body, model=settings.deepgram_model)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise ProviderError(
                f"Deepgram: malformed answer ({type(exc).__name__}: {exc})"
            ) from exc


def _speaker(value: Any) -> str | None:
    return None if value is None else f"speaker_{value}"


def parse_listen(body: dict[str, Any], *, model: str) -> TranscriptOutput:
    """A ``/v1/listen`` answer as a ``TranscriptOutput`` (KeyError etc. on a bad body)."""
    channel = body["results"]["channels"][0]
    alternative = channel["alternatives"][0]
    words = [
        Word(
            start=round(float(w["start"]), 3),
            end=round(float(w["end"]), 3),
            word=str(w.get("punctuated_word") or w["word"]),
            probability=round(float(w["confidence"]), 4) if "confidence" in w else None,
        )
        for w in alternative.get("words") or []
    ]
    speakers = [_speaker(w.get("speaker")) for w in alternative.get("words") or []]
    utterances = body["results"].get("utterances")
    segments: list[Segment]
    if utterances:
        segments = []
        for u in utterances:
            start, end = round(float(u["start"]), 3), round(float(u["end"]), 3)
            inside = [w for w in words if start - 0.01 <= (w.start + w.end) / 2 <= end + 0.01]
            segments.append(
                Segment(
                    start=start,
                    end=end,
                    text=str(u["transcript"]).strip(),
                    words=inside,
                    confidence=round(float(u["confidence"]), 4) if "confidence" in u else None,
                    speaker=_speaker(u.get("speaker")),
                )
            )
    else:
        segments = segments_from_words(words, speakers)
    metadata = body.get("metadata") or {}
    duration = metadata.get("duration")
    details: dict[str, Any] = {
        "engine": "deepgram-listen",
        "request_id": metadata.get("request_id"),
        "language_confidence": channel.get("language_confidence"),
    }
    if duration is not None:
        details["billing"] = {"audio_seconds": round(float(duration), 3)}
    confidence = alternative.get("confidence")
    return TranscriptOutput(
        text=str(alternative.get("transcript") or "").strip(),
        segments=segments,
        language=channel.get("detected_language"),
        confidence=round(float(confidence), 4) if confidence is not None else None,
        model=model,
        details=details,
    )
