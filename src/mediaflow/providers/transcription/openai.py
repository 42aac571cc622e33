"""Speech to text with OpenAI's audio API (``POST {base_url}/audio/transcriptions``).

A cloud provider: it is never among the default providers and runs only when a job
names it (``--providers openai``). It is available when ``MEDIAFLOW_OPENAI_API_KEY``
is set; ``MEDIAFLOW_OPENAI_BASE_URL`` points it at another OpenAI-compatible server
(the tests point it at a local fake that speaks the same wire format).

The request is the documented multipart form: ``file`` (the pipeline's 16 kHz mono
WAV), ``model`` (``MEDIAFLOW_OPENAI_TRANSCRIPTION_MODEL``, default ``whisper-1``),
``response_format=verbose_json`` and ``timestamp_granularities[]`` = ``segment`` and
``word``; the key goes in an ``Authorization: Bearer`` header and nowhere else (it is
scrubbed from any error text the API sends back, and never logged).

Errors: 429, 5xx, timeouts and connection failures are ``TransientProviderError``
(the pipeline retries them; a ``Retry-After`` header is passed on as
``retry_after_s`` and the pipeline caps it); 400/401/403/404/413 and any other
answer are ``ProviderError`` carrying the API's own ``{"error": {"message": ...}}``.

The verbose_json answer is turned into the same ``TranscriptOutput`` the local
faster-whisper provider returns. The API lists words separately from segments; each
word is attached to the segment its midpoint falls in (or the nearest one). The API
gives no word probabilities, so confidence comes from each segment's
``avg_logprob``: a segment's is ``exp(avg_logprob)`` (the mean per-token probability
in log space), the transcript's is the mean over segments weighted by their word
counts. It reports the language as a name ("english"); it is stored as the ISO code
("en") like the local provider stores it.
"""

from __future__ import annotations

import bisect
import math
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

import httpx

from mediaflow.config import Settings
from mediaflow.db.enums import TranscriptionProvider
from mediaflow.errors import ProviderError, ProviderUnavailable, TransientProviderError
from mediaflow.providers.base import (
    Availability,
    MediaInput,
    Segment,
    Transcriber,
    TranscriptOutput,
    Word,
)
from mediaflow.providers.cloud.http import RetryLater
from mediaflow.providers.cloud.http import retry_after_seconds as _retry_after

KEY_ENV_VAR = "MEDIAFLOW_OPENAI_API_KEY"
# The audio API refuses uploads over 25 MB (about 13 minutes of 16 kHz 16-bit WAV).
MAX_UPLOAD_BYTES = 25 * 1024 * 1024
# How much of a non-JSON error body goes into an error message.
_BODY_SNIPPET = 200

# Whisper's language names (what verbose_json reports) -> ISO 639-1 codes.
_WHISPER_LANGUAGES = (
    "en:english zh:chinese de:german es:spanish ru:russian ko:korean fr:french "
    "ja:japanese pt:portuguese tr:turkish pl:polish ca:catalan nl:dutch ar:arabic "
    "sv:swedish it:italian id:indonesian hi:hindi fi:finnish vi:vietnamese "
    "he:hebrew uk:ukrainian el:greek ms:malay cs:czech ro:romanian da:danish "
    "hu:hungarian ta:tamil no:norwegian th:thai ur:urdu hr:croatian bg:bulgarian "
    "lt:lithuanian la:latin mi:maori ml:malayalam cy:welsh sk:slovak te:telugu "
    "fa:persian lv:latvian bn:bengali sr:serbian az:azerbaijani sl:slovenian "
    "kn:kannada et:estonian mk:macedonian br:breton eu:basque is:icelandic "
    "hy:armenian ne:nepali mn:mongolian bs:bosnian kk:kazakh sq:albanian "
    "sw:swahili gl:galician mr:marathi pa:punjabi si:sinhala km:khmer sn:shona "
    "yo:yoruba so:somali af:afrikaans oc:occitan ka:georgian be:belarusian "
    "tg:tajik sd:sindhi gu:gujarati am:amharic yi:yiddish lo:lao uz:uzbek "
    "fo:faroese ps:pashto tk:turkmen nn:nynorsk mt:maltese sa:sanskrit "
    "lb:luxembourgish my:myanmar bo:tibetan tl:tagalog mg:malagasy as:assamese "
    "tt:tatar haw:hawaiian ln:lingala ha:hausa ba:bashkir jw:javanese su:sundanese "
    "yue:cantonese"
)
_LANGUAGE_CODES: dict[str, str] = {
    name: code for code, name in (pair.split(":") for pair in _WHISPER_LANGUAGES.split())
}


def _api_key(settings: Settings) -> str | None:
    """The configured key, or None when unset or blank."""
    if settings.openai_api_key is None:
        return None
    key = settings.openai_api_key.get_secret_value().strip()
    return key or None


class OpenAITranscriptionProvider(Transcriber):
    """Cloud transcription through OpenAI's audio API (verbose_json with word timestamps)."""

    name: ClassVar[str] = TranscriptionProvider.OPENAI.value
    needs_key: ClassVar[bool] = True
    #: the API's upload limit; longer audio is sent in overlapping chunks (cloud.split)
    max_upload_bytes: ClassVar[int] = MAX_UPLOAD_BYTES

    def model_info(self) -> str:
        """The model the API is asked for, and where."""
        return f"{self.settings.openai_transcription_model} at {self.settings.openai_base_url}"

    def _availability(self) -> Availability:
        """Available when an API key is configured (no request is made to check it)."""
        if _api_key(self.settings) is None:
            return Availability(False, f"no OpenAI API key: set {KEY_ENV_VAR}")
        return Availability(True)

    def _transcribe(self, media: MediaInput, model: Any) -> TranscriptOutput:
        """Upload ``media.audio_path`` (in overlapping chunks when it is over the API's
        25 MB) and parse the verbose_json transcript."""
        key = _api_key(self.settings)
        if key is None:
            raise ProviderUnavailable(f"no OpenAI API key: set {KEY_ENV_VAR}")
        assert media.audio_path is not None  # Transcriber.transcribe checked it
        audio = media.audio_path
        if audio.stat().st_size <= self.max_upload_bytes:
            output = self._upload(audio, key, media.label)
        else:
            # Split by time with overlap and stitched by timestamps, rather than refused.
            from mediaflow.providers.cloud.split import seconds_for_bytes, transcribe_in_chunks

            with tempfile.TemporaryDirectory(prefix="mediaflow-openai-") as work:
                output = transcribe_in_chunks(
                    audio, Path(work), lambda path: self._upload(path, key, media.label),
                    max_seconds=seconds_for_bytes(audio, self.max_upload_bytes),
                    overlap_s=self.settings.cloud_chunk_overlap_s,
                )  # fmt: skip
        return output

    def _upload(self, audio: Path, key: str, label: str) -> TranscriptOutput:
        """One request of one file (at most ``max_upload_bytes``)."""
        settings = self.settings
        size = audio.stat().st_size
        url = settings.openai_base_url.rstrip("/") + "/audio/transcriptions"
        api_model = settings.openai_transcription_model
        started = time.perf_counter()
        response = _post(
            url, key, audio, model=api_model, timeout_s=settings.provider_timeout_s,
            display_name=label,
        )  # fmt: skip
        elapsed = time.perf_counter() - started
        _raise_for_status(response, key)
        try:
            body = response.json()
        except ValueError as exc:
            raise ProviderError(
                f"the OpenAI audio API answered HTTP {response.status_code} with "
                f"non-JSON content: {_snippet(response.text, key)}"
            ) from exc
        if not isinstance(body, dict):
            raise ProviderError(
                "the OpenAI audio API answered with something other than a JSON object"
            )
        try:
            output = parse_verbose_json(body, model=api_model)
        except (KeyError, TypeError, ValueError) as exc:
            raise ProviderError(
                f"unexpected verbose_json from the OpenAI audio API: {type(exc).__name__}: {exc}"
            ) from exc
        output.details.update(
            api_host=httpx.URL(url).host,
            request_id=response.headers.get("x-request-id"),
            request_seconds=round(elapsed, 3),
            upload_bytes=size,
        )
        if output.details.get("duration_s") is not None:  # whisper-1 bills by audio length
            output.details["billing"] = {"audio_seconds": output.details["duration_s"]}
        return output


def _post(
    url: str, key: str, audio: Path, *, model: str, timeout_s: float, display_name: str
) -> httpx.Response:
    """Send the multipart request; network failures become TransientProviderError."""
    data = {
        "model": model,
        "response_format": "verbose_json",
        "timestamp_granularities[]": ["segment", "word"],
    }
    try:
        with audio.open("rb") as handle:
            return httpx.post(
                url,
                headers={"Authorization": f"Bearer {key}"},
                data=data,
                files={"file": (audio.name, handle, "audio/wav")},
                timeout=timeout_s,
            )
    except httpx.TimeoutException as exc:
        raise TransientProviderError(
            f"no answer from the OpenAI audio API within {timeout_s:g} s for {display_name} "
            f"({type(exc).__name__})"
        ) from exc
    except httpx.TransportError as exc:
        # httpx's messages name the host, never the headers: safe to show.
        raise TransientProviderError(
            f"cannot reach the OpenAI audio API at {httpx.URL(url).host}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def _raise_for_status(response: httpx.Response, key: str) -> None:
    """Map an unsuccessful answer to the error tree (transient or not)."""
    status = response.status_code
    if 200 <= status < 300:
        return
    message = f"OpenAI audio API answered HTTP {status}: {_api_message(response, key)}"
    if status == 429 or status >= 500:
        raise RetryLater(message, retry_after_s=_retry_after(response.headers.get("retry-after")))
    raise ProviderError(message)


def _api_message(response: httpx.Response, key: str) -> str:
    """The API's ``{"error": {"message": ...}}``, else a snippet of the body; key scrubbed."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return _scrub(str(error["message"]), key)
        if isinstance(error, str) and error:
            return _scrub(error, key)
    return _snippet(response.text, key) or response.reason_phrase or "no message"


def _scrub(text: str, key: str) -> str:
    # Some APIs echo (part of) the key in a 401 message; the full key never leaves here.
    return text.replace(key, "***") if key else text


def _snippet(text: str, key: str) -> str:
    flat = " ".join(text.split())
    return _scrub(flat[:_BODY_SNIPPET], key)


# ----------------------------------------------------------------------------- parsing


def language_code(language: str | None) -> str | None:
    """The ISO code for a Whisper language name ("english" -> "en"); codes pass through."""
    if not language:
        return None
    value = language.strip().lower()
    return _LANGUAGE_CODES.get(value, value)


def parse_verbose_json(body: dict[str, Any], *, model: str) -> TranscriptOutput:
    """Turn an audio API ``verbose_json`` body into a ``TranscriptOutput``.

    Raises KeyError/TypeError/ValueError on a body that is not verbose_json.
    """
    raw_segments = body.get("segments") or []
    raw_words = body.get("words") or []
    segments: list[Segment] = []
    avg_logprobs: list[float | None] = []
    for raw in raw_segments:
        logprob = raw.get("avg_logprob")
        logprob = float(logprob) if logprob is not None else None
        avg_logprobs.append(round(logprob, 4) if logprob is not None else None)
        segments.append(
            Segment(
                start=round(float(raw["start"]), 3),
                end=round(float(raw["end"]), 3),
                text=str(raw["text"]).strip(),
                confidence=_probability(logprob),
            )
        )
    words = [
        Word(
            start=round(float(w["start"]), 3),
            end=round(float(w["end"]), 3),
            word=str(w["word"]).strip(),
        )
        for w in raw_words
        if str(w["word"]).strip()
    ]
    text = str(body.get("text") or "").strip()
    if not segments and (words or text):
        # Only word timestamps came back: one segment holds them all.
        end = words[-1].end if words else float(body.get("duration") or 0.0)
        segments = [Segment(start=words[0].start if words else 0.0, end=round(end, 3), text=text)]
    _attach_words(segments, words)
    if not text:
        text = " ".join(s.text for s in segments if s.text)
    duration = body.get("duration")
    return TranscriptOutput(
        text=text,
        segments=segments,
        language=language_code(body.get("language")),
        confidence=_weighted_confidence(segments),
        model=model,
        details={
            "engine": "openai-audio-api",
            "response_format": "verbose_json",
            "language_name": body.get("language"),
            "duration_s": round(float(duration), 3) if duration is not None else None,
            "confidence_method": "exp(avg_logprob) per segment, mean weighted by words",
            "segment_avg_logprobs": avg_logprobs,
            "words": len(words),
        },
    )


def _attach_words(segments: list[Segment], words: list[Word]) -> None:
    """Give each word to the segment its midpoint falls in, else to the nearest segment."""
    if not segments:
        return
    starts = [s.start for s in segments]
    for word in words:
        middle = (word.start + word.end) / 2
        index = max(0, bisect.bisect_right(starts, middle) - 1)
        # Between two segments (or before the first): the closer one takes it.
        if index + 1 < len(segments) and middle > segments[index].end:
            gap_before = middle - segments[index].end
            gap_after = segments[index + 1].start - middle
            if gap_after < gap_before:
                index += 1
        segments[index].words.append(word)


def _probability(avg_logprob: float | None) -> float | None:
    if avg_logprob is None or not math.isfinite(avg_logprob):
        return None
    return round(min(1.0, math.exp(avg_logprob)), 4)


def _weighted_confidence(segments: list[Segment]) -> float | None:
    pairs = [
        (s.confidence, max(1, len(s.words) or len(s.text.split())))
        for s in segments
        if s.confidence is not None
    ]
    if not pairs:
        return None
    total = sum(weight for _, weight in pairs)
    return round(math.fsum(c * w for c, w in pairs) / total, 4)
