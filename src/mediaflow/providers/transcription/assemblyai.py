"""Speech to text with AssemblyAI's async API: upload, create a transcript, poll it.

Wire format (https://www.assemblyai.com/docs/api-reference/files/upload,
https://www.assemblyai.com/docs/api-reference/transcripts/submit,
https://www.assemblyai.com/docs/api-reference/transcripts/get): the key goes in a bare
``Authorization: <key>`` header. ``POST {base}/v2/upload`` takes the raw audio and
answers ``{"upload_url"}``; ``POST {base}/v2/transcript`` with ``{"audio_url",
"speaker_labels": true, "language_detection": true, "speech_model"}`` answers the
transcript with ``status`` ``queued``; ``GET {base}/v2/transcript/{id}`` is polled
until ``completed`` (``text``, ``words`` and ``utterances`` with times in
**milliseconds**, ``speaker``, ``language_code``, ``confidence``,
``audio_duration`` in seconds) or ``error`` (``{"status": "error", "error": "..."}``).
HTTP errors are ``{"error": "..."}``.

Plain httpx: three small JSON calls; the SDK would add a dependency for no gain.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from mediaflow.db.enums import TranscriptionProvider
from mediaflow.errors import ProviderError
from mediaflow.providers.base import Segment, TranscriptOutput, Word
from mediaflow.providers.cloud.base import CloudTranscriber
from mediaflow.providers.cloud.http import poll
from mediaflow.providers.cloud.transcript import segments_from_words


class AssemblyAIProvider(CloudTranscriber):
    """AssemblyAI transcription with speaker labels and language detection."""

    name: ClassVar[str] = TranscriptionProvider.ASSEMBLYAI.value
    vendor: ClassVar[str] = "AssemblyAI"
    max_bytes: ClassVar[int | None] = 2_200_000_000  # documented upload limit 2.2 GB

    def credentials(self) -> tuple[dict[str, str], str | None]:
        """The AssemblyAI key."""
        return self._key_from("assemblyai_api_key", "AssemblyAI API key")

    def _recognize(self, audio: Path, credentials: dict[str, str]) -> TranscriptOutput:
        settings = self.settings
        key = credentials["key"]
        http = self._http(key)
        base = settings.assemblyai_base_url.rstrip("/")
        headers = {"Authorization": key}
        upload = http.json(
            "POST",
            f"{base}/v2/upload",
            headers={**headers, "Content-Type": "application/octet-stream"},
            content=audio.read_bytes(),
        )
        upload_url = upload.get("upload_url")
        if not isinstance(upload_url, str):
            raise ProviderError("AssemblyAI: malformed upload answer (no upload_url)")
        created = http.json(
            "POST",
            f"{base}/v2/transcript",
            headers=headers,
            json={
                "audio_url": upload_url,
                "speaker_labels": True,
                "language_detection": True,
                "speech_model": settings.assemblyai_speech_model,
            },
        )
        transcript_id = created.get("id")
        if not isinstance(transcript_id, str):
            raise ProviderError("AssemblyAI: malformed answer (transcript without id)")
        body = poll(
            lambda: http.json("GET", f"{base}/v2/transcript/{transcript_id}", headers=headers),
            lambda b: b.get("status") in ("completed", "error"),
            interval_s=settings.cloud_poll_interval_s,
            timeout_s=settings.cloud_poll_timeout_s,
            what=f"AssemblyAI transcript {transcript_id}",
        )
        if body.get("status") == "error":
            raise ProviderError(
                f"AssemblyAI transcript failed: {http.scrub(str(body.get('error')))}"
            )
        try:
            return parse_transcript(body, model=settings.assemblyai_speech_model)
        except (KeyError, TypeError, ValueError) as exc:
            raise ProviderError(
                f"AssemblyAI: malformed transcript ({type(exc).__name__}: {exc})"
            ) from exc


def _word(raw: dict[str, Any]) -> Word:
    confidence = raw.get("confidence")
    return Word(
        start=round(float(raw["start"]) / 1000, 3),
        end=round(float(raw["end"]) / 1000, 3),
        word=str(raw["text"]),
        probability=round(float(confidence), 4) if confidence is not None else None,
    )


def _speaker(value: Any) -> str | None:
    return None if value in (None, "") else f"speaker_{value}"


def parse_transcript(body: dict[str, Any], *, model: str) -> TranscriptOutput:
    """A completed transcript as a ``TranscriptOutput`` (KeyError etc. on a bad body)."""
    raw_words = body.get("words") or []
    words = [_word(w) for w in raw_words]
    utterances = body.get("utterances") or []
    if utterances:
        segments = [
            Segment(
                start=round(float(u["start"]) / 1000, 3),
                end=round(float(u["end"]) / 1000, 3),
                text=str(u["text"]).strip(),
                words=[_word(w) for w in u.get("words") or []],
                confidence=round(float(u["confidence"]), 4)
                if u.get("confidence") is not None
                else None,
                speaker=_speaker(u.get("speaker")),
            )
            for u in utterances
        ]
    else:
        segments = segments_from_words(words, [_speaker(w.get("speaker")) for w in raw_words])
    details: dict[str, Any] = {"engine": "assemblyai", "transcript_id": body.get("id")}
    if body.get("audio_duration") is not None:
        details["billing"] = {"audio_seconds": round(float(body["audio_duration"]), 3)}
    confidence = body.get("confidence")
    return TranscriptOutput(
        text=str(body.get("text") or "").strip(),
        segments=segments,
        language=body.get("language_code"),
        confidence=round(float(confidence), 4) if confidence is not None else None,
        model=model,
        details=details,
    )
