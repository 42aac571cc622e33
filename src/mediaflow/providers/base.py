"""The contract between the pipeline and its providers, and the one base they share.

The pipeline extracts what a provider needs once (frames, a 16 kHz mono WAV) and
hands it over as a ``MediaInput``. A provider returns plain result objects; the
pipeline, not the provider, writes them to the database.

Every provider derives from ``Provider`` (as immich's ``InferenceModel``): the base
fixes the steps, a subclass fills in what is its own::

    transcribe()/analyze()  ->  checks the media  ->  load() (locked, idempotent)
                            ->  _transcribe()/_analyze()  ->  last_used noted
    unload()                ->  the model is dropped; the next call loads it again

A provider gets the runtime's settings when it is built (by the registry); it never
reads the environment itself.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from mediaflow.config import Settings
from mediaflow.db.enums import MediaType
from mediaflow.errors import ProviderError, ProviderUnavailable, UnsupportedMedia
from mediaflow.media.types import Frame

__all__ = [
    "AnalysisOutput",
    "Analyzer",
    "Availability",
    "MediaInput",
    "Provider",
    "ProviderKind",
    "Segment",
    "Transcriber",
    "TranscriptOutput",
    "Word",
]

ProviderKind = Literal["transcription", "analysis"]


@dataclass(frozen=True)
class MediaInput:
    """What the pipeline hands a provider for one media file."""

    path: Path  # the stored original
    media_type: MediaType
    frames: Sequence[Frame] = ()
    audio_path: Path | None = None  # 16 kHz mono PCM WAV; None when there is no audio
    duration_s: float | None = None
    name: str | None = None  # the file's own name, for messages (path is a hash)
    # what a provider's frame observer saw in the pipeline's decode pass, by provider name
    observed: Mapping[str, Any] = field(default_factory=dict)
    # the job's options, for providers that take per-job choices (``model``, ``max_speakers``)
    options: Mapping[str, Any] = field(default_factory=dict)
    # a chunk of a long file: the file time of the audio's first sample, and the part of
    # the file (start, end; None: the audio's own edge) this chunk answers for
    audio_offset_s: float = 0.0
    span_s: tuple[float | None, float | None] = (None, None)

    @property
    def label(self) -> str:
        """How messages name this file: its original name, else the stored file's."""
        return self.name or self.path.name


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
    language_probability: float | None = None  # how sure the language identification was


@dataclass
class AnalysisOutput:
    """One analysis type's result from an analysis provider (JSON-serialisable ``result``)."""

    analysis_type: str
    result: dict[str, Any]
    model: str
    model_version: str | None = None
    confidence: float | None = None
    # a cloud call's billed units ({"images": 3, ...}), on one output of the call
    billing: dict[str, float] | None = None
    # what the pipeline's after-steps use but the result row does not keep (face
    # embeddings for the people step): never written to ``result``
    extras: dict[str, Any] = field(default_factory=dict)


class Provider(ABC):
    """One engine: what it accepts, whether it can run here, and its model's life cycle.

    ``requires`` lists (module, pip requirement) pairs that must be importable; the
    default ``availability`` checks them, a subclass adds its own checks (model files,
    keys) by overriding ``_availability``. ``_load`` returns the model (None for an
    engine without one); ``load`` runs it once under a lock, and a failing load is not
    kept, so a fixed environment works without a restart.
    """

    name: ClassVar[str]
    kind: ClassVar[ProviderKind]
    accepts: ClassVar[frozenset[MediaType]]
    needs_key: ClassVar[bool] = False
    requires: ClassVar[tuple[tuple[str, str], ...]] = ()
    #: how load errors name what failed to load ("the faster-whisper model")
    model_description: ClassVar[str] = "its model"
    #: the distribution that ships the model (or engine); its version goes with the name
    model_package: ClassVar[str | None] = None
    #: a provider that is a default only while this one (a better one) cannot run
    fallback_for: ClassVar[str | None] = None

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._model: Any = None
        self._loaded = False
        self.load_seconds: float | None = None
        self.last_used: float | None = None  # time.monotonic() of the last call

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind}:{self.name}>"

    # -- availability -----------------------------------------------------------------

    def availability(self) -> Availability:
        """Whether this provider can run here; never raises."""
        try:
            for module, requirement in self.requires:
                if importlib.util.find_spec(module) is None:
                    return Availability(
                        False, f"{module} is not installed (pip install '{requirement}')"
                    )
            return self._availability()
        except Exception as exc:  # an odd install must not break `mediaflow providers`
            return Availability(False, f"availability check failed: {type(exc).__name__}: {exc}")

    def _availability(self) -> Availability:
        """Checks of the provider's own (model files, keys); the packages are checked already."""
        return Availability(True)

    def model_info(self) -> str:
        """The model's name and version as results record them (``mediaflow providers``)."""
        if self.model_package is None:
            return self.model_description
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"{self.model_description} ({self.model_package} {version(self.model_package)})"
        except PackageNotFoundError:
            return f"{self.model_description} ({self.model_package} not installed)"

    # -- model life cycle ---------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        """True while the model is loaded."""
        return self._loaded

    def load(self) -> Any:
        """The model, loaded first if needed (thread-safe, idempotent).

        Raises ``ProviderUnavailable`` when the provider cannot run here or its model
        cannot be loaded.
        """
        if self._loaded:  # fast path without the lock once loaded
            return self._model
        with self._lock:
            if self._loaded:  # another thread loaded it while this one waited
                return self._model
            availability = self.availability()
            if not availability.available:
                raise ProviderUnavailable(availability.reason)
            started = time.perf_counter()
            try:
                model = self._load()
            except ProviderError:
                raise
            except Exception as exc:
                raise ProviderUnavailable(
                    f"could not load {self.model_description}: {type(exc).__name__}: {exc}"
                ) from exc
            self.load_seconds = time.perf_counter() - started
            self._model, self._loaded = model, True
            return model

    def _load(self) -> Any:
        """Load and return the model (None: an engine without one)."""
        return None

    def unload(self) -> bool:
        """Drop the model (the next call loads it again); True when one was loaded."""
        with self._lock:
            was_loaded = self._loaded and self._model is not None
            self._model, self._loaded = None, False
        return was_loaded

    def idle_s(self, now: float | None = None) -> float | None:
        """Seconds since the last call (None: never called)."""
        if self.last_used is None:
            return None
        return (time.monotonic() if now is None else now) - self.last_used

    def _check_accepts(self, media: MediaInput) -> None:
        if media.media_type not in self.accepts:
            wanted = ", ".join(sorted(str(m) for m in self.accepts))
            raise UnsupportedMedia(
                f"provider {self.name} accepts {wanted}; got {media.media_type} ({media.label})"
            )

    def _model_for_call(self) -> Any:
        model = self.load()
        self.last_used = time.monotonic()
        return model


class Transcriber(Provider):
    """A speech-to-text engine: the pipeline's 16 kHz mono WAV in, timed text out."""

    kind: ClassVar[ProviderKind] = "transcription"
    accepts: ClassVar[frozenset[MediaType]] = frozenset({MediaType.AUDIO, MediaType.VIDEO})

    def transcribe(self, media: MediaInput) -> TranscriptOutput:
        """Transcribe ``media.audio_path``; raise ProviderError subclasses on failure."""
        self._check_accepts(media)
        if media.audio_path is None:
            raise ProviderError(f"{media.label} has no audio track to transcribe")
        return self._transcribe(media, self._model_for_call())

    @abstractmethod
    def _transcribe(self, media: MediaInput, model: Any) -> TranscriptOutput:
        """The engine's own work on ``media.audio_path`` with the loaded ``model``."""


class Analyzer(Provider):
    """A visual or audio analysis engine producing one or more analysis types.

    ``uses`` says what it reads: ``frames`` (the pipeline's sampled frames; an image
    without extracted frames is read here), ``audio`` (the 16 kHz WAV) or ``file``
    (the stored original itself). A file without what it uses is skipped by the
    pipeline, never an error.
    """

    kind: ClassVar[ProviderKind] = "analysis"
    analysis_types: ClassVar[tuple[str, ...]]
    uses: ClassVar[Literal["frames", "audio", "file"]] = "frames"

    def analyze(self, media: MediaInput) -> list[AnalysisOutput]:
        """Analyze ``media``; raise ProviderError subclasses on failure."""
        self._check_accepts(media)
        if self.uses == "frames":
            media = self._with_frames(media)
        elif self.uses == "audio" and media.audio_path is None:
            raise ProviderError(f"{media.label} has no audio track to analyze")
        return self._analyze(media, self._model_for_call())

    @abstractmethod
    def _analyze(self, media: MediaInput, model: Any) -> list[AnalysisOutput]:
        """The engine's own work on ``media`` with the loaded ``model``."""

    def _with_frames(self, media: MediaInput) -> MediaInput:
        """``media`` with frames: the pipeline's, or for an image with none, the image itself.

        An image needs no frame extraction, so a caller (a test, the Python API) may hand
        over just the path; a video without extracted frames is a pipeline error.
        """
        if media.frames:
            return media
        if media.media_type == MediaType.IMAGE:
            from mediaflow.media.frames import load_image_frame

            try:
                frame = load_image_frame(media.path)
            except Exception as exc:
                raise ProviderError(f"cannot read image {media.label}: {exc}") from exc
            return MediaInput(
                path=media.path,
                media_type=media.media_type,
                frames=[frame],
                audio_path=media.audio_path,
                duration_s=media.duration_s,
                name=media.name,
            )
        raise ProviderError(f"no frames were extracted from {media.label}")
