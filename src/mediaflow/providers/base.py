"""The contract between the pipeline and its providers.

The pipeline extracts what a provider needs once (frames, a 16 kHz mono WAV) and
hands it over as a ``MediaInput``. A provider returns plain result objects; the
pipeline, not the provider, writes them to the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from mediaflow.db.enums import AnalysisProvider, MediaType, TranscriptionProvider


@dataclass(frozen=True)
class Frame:
    """One decoded video frame (or the whole image, for an image file)."""

    index: int
    timestamp_s: float
    image: npt.NDArray[np.uint8]  # RGB, H x W x 3


@dataclass(frozen=True)
class MediaInput:
    """What the pipeline hands a provider for one media file."""

    path: Path  # the stored original
    media_type: MediaType
    frames: Sequence[Frame] = ()
    audio_path: Path | None = None  # 16 kHz mono PCM WAV; None when there is no audio
    duration_s: float | None = None


@dataclass(frozen=True)
class Availability:
    """Whether a provider can run here, and if not, why (and how to fix it)."""

    available: bool
    reason: str = ""


@dataclass
class Word:
    """One recognised word with its timing."""

    start: float
    end: float
    word: str
    probability: float | None = None


@dataclass
class Segment:
    """One timed segment of a transcript."""

    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)
    confidence: float | None = None
    speaker: str | None = None


@dataclass
class TranscriptOutput:
    """What a transcription provider returns."""

    text: str
    segments: list[Segment]
    language: str | None
    confidence: float | None
    model: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class AnalysisOutput:
    """One analysis type's result from an analysis provider (JSON-serialisable ``result``)."""

    analysis_type: str
    result: dict[str, Any]
    model: str
    model_version: str | None = None
    confidence: float | None = None


@runtime_checkable
class TranscriptionProviderProtocol(Protocol):
    """A speech-to-text engine."""

    name: ClassVar[TranscriptionProvider]
    accepts: ClassVar[frozenset[MediaType]]
    needs_key: ClassVar[bool]

    def availability(self) -> Availability:
        """Whether this provider can run here; never raises."""
        ...

    def transcribe(self, media: MediaInput) -> TranscriptOutput:
        """Transcribe ``media.audio_path``; raise ProviderError subclasses on failure."""
        ...


@runtime_checkable
class AnalysisProviderProtocol(Protocol):
    """A visual or audio analysis engine producing one or more analysis types."""

    name: ClassVar[AnalysisProvider]
    accepts: ClassVar[frozenset[MediaType]]
    analysis_types: ClassVar[tuple[str, ...]]
    needs_key: ClassVar[bool]

    def availability(self) -> Availability:
        """Whether this provider can run here; never raises."""
        ...

    def analyze(self, media: MediaInput) -> list[AnalysisOutput]:
        """Analyze ``media``; raise ProviderError subclasses on failure."""
        ...
