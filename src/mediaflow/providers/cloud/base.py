"""The two bases of cloud providers: credentials, over-size input, billed units.

``CloudTranscriber``: the pipeline's 16 kHz mono WAV goes to ``_recognize`` whole, or
in overlapping chunks when it is longer than the vendor's ``max_seconds`` or larger
than its ``max_bytes`` (``split``), stitched back by timestamps. ``CloudAnalyzer``:
up to ``cloud_max_frames`` of the sampled frames, each JPEG-encoded under the
vendor's ``max_image_bytes`` (re-encoded smaller, never refused), go to
``_analyze_image`` one by one; ``_combine`` turns the answers into the same analysis
types the local providers write (ocr, faces, labels, moderation, caption).

Both report billed units (``details["billing"]`` / ``AnalysisOutput.billing``) and can
estimate them before a call (``estimate_units``) so that a job's budget can stop a
call before it is made. A subclass says how its credentials are found
(``credentials``): a missing one makes the provider unavailable, with the setting
to set in the reason.
"""

from __future__ import annotations

import io
import tempfile
import wave
from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import SecretStr

from mediaflow.db.enums import MediaType
from mediaflow.errors import ProviderUnavailable
from mediaflow.media.types import Frame
from mediaflow.providers.base import (
    AnalysisOutput,
    Analyzer,
    Availability,
    MediaInput,
    Transcriber,
    TranscriptOutput,
)
from mediaflow.providers.cloud.http import VendorHTTP
from mediaflow.providers.cloud.split import seconds_for_bytes, transcribe_in_chunks, wav_duration

__all__ = ["CloudAnalyzer", "CloudTranscriber", "FrameAnswer", "sample_evenly", "secret"]


def secret(value: SecretStr | None) -> str | None:
    """A configured secret's text, or None when unset or blank."""
    if value is None:
        return None
    text = value.get_secret_value().strip()
    return text or None


def _duration_or_none(path: Path) -> float | None:
    """Seconds of a PCM WAV; None when it is not one."""
    try:
        return wav_duration(path)
    except (OSError, EOFError, wave.Error):
        return None


def sample_evenly(frames: list[Frame], limit: int) -> list[Frame]:
    """At most ``limit`` frames spread evenly over ``frames`` (first and last kept)."""
    if len(frames) <= limit:
        return list(frames)
    if limit == 1:
        return [frames[0]]
    step = (len(frames) - 1) / (limit - 1)
    return [frames[round(i * step)] for i in range(limit)]


class _Cloud:
    """What both bases share: a vendor name and credentials found in the settings."""

    vendor: ClassVar[str]
    needs_key: ClassVar[bool] = True
    settings: Any

    def credentials(self) -> tuple[dict[str, str], str | None]:
        """(credentials by name, None) or ({}, why they are missing)."""
        raise NotImplementedError

    def _http(self, key: str) -> VendorHTTP:
        """HTTP to this vendor within the provider timeout, ``key`` scrubbed from errors."""
        return VendorHTTP(self.vendor, timeout_s=self.settings.provider_timeout_s, secrets=[key])

    def _availability(self) -> Availability:
        _, missing = self.credentials()
        return Availability(False, missing) if missing else Availability(True)

    def _credentials_or_raise(self) -> dict[str, str]:
        found, missing = self.credentials()
        if missing:
            raise ProviderUnavailable(missing)
        return found

    def _key_from(self, field: str, what: str) -> tuple[dict[str, str], str | None]:
        """The usual case: one API key setting."""
        key = secret(getattr(self.settings, field))
        if key is None:
            return {}, f"no {what}: set MEDIAFLOW_{field.upper()}"
        return {"key": key}, None


class CloudTranscriber(_Cloud, Transcriber):
    """A cloud speech-to-text API; subclasses implement ``_recognize`` for one WAV."""

    max_seconds: ClassVar[float | None] = None  # longest audio one request may carry
    max_bytes: ClassVar[int | None] = None  # largest upload one request may carry

    def _transcribe(self, media: MediaInput, model: Any) -> TranscriptOutput:
        credentials = self._credentials_or_raise()
        assert media.audio_path is not None  # Transcriber.transcribe checked it
        limit = self.chunk_seconds(media.audio_path)
        with tempfile.TemporaryDirectory(prefix="mediaflow-cloud-") as work:
            if limit is None:
                output = self._recognize(media.audio_path, credentials)
            else:
                output = transcribe_in_chunks(
                    media.audio_path,
                    Path(work),
                    lambda path: self._recognize(path, credentials),
                    max_seconds=limit,
                    overlap_s=self.settings.cloud_chunk_overlap_s,
                )
        seconds = _duration_or_none(media.audio_path)
        if seconds is not None:
            output.details.setdefault("billing", {"audio_seconds": round(seconds, 3)})
        output.details.setdefault("engine", self.vendor)
        return output

    def chunk_seconds(self, audio: Path) -> float | None:
        """Seconds per chunk when ``audio`` is over the vendor's limits; None: send it whole."""
        duration = _duration_or_none(audio)
        if duration is None:  # not a PCM WAV: the vendor decodes it (or says why not)
            return None
        limits = []
        if self.max_seconds is not None:
            limits.append(self.max_seconds)
        if self.max_bytes is not None:
            limits.append(seconds_for_bytes(audio, self.max_bytes))
        if not limits:
            return None
        limit = min(limits)
        return limit if duration > limit else None

    def estimate_units(self, media: MediaInput) -> dict[str, float]:
        """Billed units a call on ``media`` would cost (before it is made)."""
        seconds = _duration_or_none(media.audio_path) if media.audio_path else None
        return {"audio_seconds": seconds if seconds is not None else float(media.duration_s or 0)}

    @abstractmethod
    def _recognize(self, audio: Path, credentials: dict[str, str]) -> TranscriptOutput:
        """One request's transcript of ``audio`` (times from its start).

        Set ``details["billing"]`` when the vendor reports billed units.
        """


@dataclass
class FrameAnswer:
    """One frame's answer from a vision API, already reduced to mediaflow's shapes."""

    frame: Frame
    answer: dict[str, Any]
    billing: dict[str, float]


class CloudAnalyzer(_Cloud, Analyzer):
    """A cloud vision API; subclasses implement ``_analyze_image`` and ``_combine``."""

    accepts: ClassVar[frozenset[MediaType]] = frozenset({MediaType.IMAGE, MediaType.VIDEO})
    max_image_bytes: ClassVar[int] = 4 * 1024 * 1024
    max_side: ClassVar[int] = 2048
    #: billed units of one image, for estimates before the call
    units_per_image: ClassVar[dict[str, float]] = {"images": 1}

    def frames_for(self, media: MediaInput) -> list[Frame]:
        """The frames a call sends (evenly spread, at most ``cloud_max_frames``)."""
        return sample_evenly(list(media.frames), self.settings.cloud_max_frames)

    def estimate_units(self, media: MediaInput) -> dict[str, float]:
        """Billed units a call on ``media`` would cost (before it is made)."""
        count = len(self.frames_for(media)) if media.frames else 1
        return {unit: amount * count for unit, amount in self.units_per_image.items()}

    def _analyze(self, media: MediaInput, model: Any) -> list[AnalysisOutput]:
        credentials = self._credentials_or_raise()
        answers = []
        for frame in self.frames_for(media):
            image = encode_jpeg(frame, self.max_image_bytes, self.max_side)
            answer, billing = self._analyze_image(image, credentials)
            answers.append(FrameAnswer(frame, answer, billing))
        outputs = self._combine(answers)
        total: dict[str, float] = {}
        for item in answers:
            for unit, amount in item.billing.items():
                total[unit] = total.get(unit, 0.0) + float(amount)
        if outputs:
            outputs[0].billing = total
        return outputs

    @abstractmethod
    def _analyze_image(
        self, jpeg: bytes, credentials: dict[str, str]
    ) -> tuple[dict[str, Any], dict[str, float]]:
        """One image's answer (reduced to plain JSON) and the units billed for it."""

    def _combine(self, answers: list[FrameAnswer]) -> list[AnalysisOutput]:
        """The analysis outputs of all frames' answers (``cloud.vision.combine``)."""
        from mediaflow.providers.cloud.vision import combine

        return combine(answers, self.analysis_types, model=self.model_name())

    def model_name(self) -> str:
        """The model (or API version) the results name."""
        return self.name


def encode_jpeg(frame: Frame, max_bytes: int, max_side: int) -> bytes:
    """``frame`` as a JPEG under ``max_bytes``: lower quality first, then smaller."""
    from PIL import Image

    image = Image.fromarray(frame.image)
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    quality = 90
    while True:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=quality)
        data = buffer.getvalue()
        if len(data) <= max_bytes or max(image.size) <= 64:
            return data
        if quality > 60:
            quality -= 15
        else:
            image = image.resize((max(1, image.width * 3 // 4), max(1, image.height * 3 // 4)))


def frame_entry(frame: Frame) -> dict[str, Any]:
    """Where a per-frame result sits (the local providers' shape)."""
    from mediaflow.providers.analysis import frame_entry as local_entry

    return local_entry(frame)
